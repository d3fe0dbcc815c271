"""Forgetting an author: which stored emails are theirs, and their address cut out of any text.

Pure functions over strings (no I/O). An address is compared in one canonical form: the local
part folded (NFKC, invisible characters dropped, case-folded, as the store compares emails) and
the domain as lower-case ASCII (IDN labels in Punycode), so `José@Exämple.fr` and
`josé@xn--exmple-cua.fr` are the same author.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import idna

from moderation.links import normalise_domain
from moderation.redaction import DEFAULT_PLACEHOLDER, find_emails
from moderation.textnorm import fold

__all__ = ["AddressError", "ErasedText", "address_key", "email_keys", "erase_address"]


class AddressError(ValueError):
    """Not an email address that can be looked for."""


def address_key(address: str) -> str:
    """The canonical form two spellings of one address share: folded local part, ASCII domain."""
    local, at, domain = fold(address.strip()).rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"{address!r} is not an email address")
    ascii_domain = normalise_domain(domain)
    if not ascii_domain:
        raise AddressError(f"{address!r} has no domain")
    return f"{local}@{ascii_domain}"


def email_keys(address: str) -> set[str]:
    """Every stored `author_email_key` that can hold this address.

    The store keeps emails folded as typed, so the domain may be in Unicode or in Punycode.
    """
    key = address_key(address)
    local, _, ascii_domain = key.rpartition("@")
    keys = {fold(address.strip()), key}
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        keys.add(f"{local}@{fold(idna.decode(ascii_domain))}")
    return keys


@dataclass(frozen=True, slots=True)
class ErasedText:
    """A text with an address cut out, and how many times it appeared."""

    text: str
    count: int


def erase_address(text: str, key: str, placeholder: str = DEFAULT_PLACEHOLDER) -> ErasedText:
    """Replace each appearance of the address whose `address_key` is `key`, in any disguise.

    Other addresses and everything else are left exactly as they were.
    """
    parts: list[str] = []
    pos = 0
    count = 0
    for match in find_emails(text):
        try:
            same = address_key(match.address) == key
        except AddressError:
            same = False
        if same:
            parts.append(text[pos : match.start])
            parts.append(placeholder)
            pos = match.end
            count += 1
    if not count:
        return ErasedText(text, 0)
    parts.append(text[pos:])
    return ErasedText("".join(parts), count)
