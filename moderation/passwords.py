"""Moderator passwords: a slow salted hash (Argon2id), checks of a new password, generation."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024

# The library's defaults (RFC 9106's "low memory" profile: 64 MiB, 3 passes) cost tens of
# milliseconds a login, which is what a human login can afford and a guesser cannot.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The stored form of a password: Argon2id with a random salt, parameters included."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches the stored hash; False (never an exception) otherwise."""
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError, TypeError):
        return False


_dummies: dict[int, str] = {}


def verify_nothing(password: str) -> bool:
    """Spend the time a verification takes, against no account; always False.

    A login for an unknown name calls this, so that the time taken does not tell a guesser
    which names exist. The dummy hash is made once per hasher, with its parameters.
    """
    dummy = _dummies.get(id(_hasher))
    if dummy is None:
        dummy = _dummies[id(_hasher)] = _hasher.hash(generate_password())
    verify_password(dummy, password)
    return False


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def generate_password() -> str:
    """A new random password (144 bits, URL-safe characters) to be shown once."""
    return secrets.token_urlsafe(18)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None when it is."""
    if "\x00" in password:
        return "the password must not contain a NUL character"
    if len(password) < MIN_LENGTH:
        return f"the password must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"the password must be at most {MAX_LENGTH} characters long"
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return "the password must be valid text"
    return None
