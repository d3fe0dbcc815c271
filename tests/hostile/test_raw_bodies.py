"""Bodies no JSON encoder would write, and comments at the edges of their limits.

The content limit counts characters (code points, as Python's `len`), not bytes nor UTF-16
units: 65,536 four-byte characters are accepted, one more character is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moderation.api.schemas import MAX_CONTENT_CHARS
from tests.hostile.harness import Target, differences, target
from tests.hostile.payloads import TEN_THOUSAND_LINKS

EMOJI = "\U0001f600"  # four bytes in UTF-8, two UTF-16 units, one character
BASE: dict[str, Any] = {"post_id": "edge", "author_name": "Edge", "author_email": "e@example.org"}


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Target]:
    """The attacked app on SQLite, then on PostgreSQL."""
    with target(tmp_path, database_url) as found:
        yield found


def _raw(service: Target, body: bytes, content_type: str = "application/json") -> int:
    answer = service.seen(
        service.client.post(
            "/v1/comments/check",
            content=body,
            headers={**service.site_auth, "Content-Type": content_type},
        )
    )
    return answer.status_code


@pytest.mark.parametrize(
    ("content", "accepted"),
    [
        ("a" * (MAX_CONTENT_CHARS - 1) + EMOJI, True),  # the 4-byte character is the last one
        (EMOJI * MAX_CONTENT_CHARS, True),
        ("a" * MAX_CONTENT_CHARS + EMOJI, False),  # it straddles the limit: one past
        ("a" * (MAX_CONTENT_CHARS - 1) + EMOJI * 2, False),
        ("a" * (MAX_CONTENT_CHARS + 1), False),
    ],
    ids=[
        "at-limit-emoji-last",
        "at-limit-all-emoji",
        "one-past-emoji",
        "one-past-two-emoji",
        "one-past-ascii",
    ],
)
@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "utf8"])
def test_the_content_limit_counts_characters(
    service: Target, content: str, accepted: bool, ensure_ascii: bool
) -> None:
    body = {**BASE, "content": content}
    raw = json.dumps(body, ensure_ascii=ensure_ascii).encode()
    answer = service.seen(
        service.client.post(
            "/v1/comments/check",
            content=raw,
            headers={**service.site_auth, "Content-Type": "application/json"},
        )
    )
    if not accepted:
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["detail"]] == ["content"]
        return
    assert answer.status_code == 201, answer.text
    assert differences(body, service.stored(answer.json()["id"])) == []


def test_at_the_default_body_limit_a_full_comment_is_a_clear_413(
    tmp_path: Path, database_url: str
) -> None:
    # 64 kB by default: a comment of 65,536 characters needs a larger MODERATION_MAX_BODY_BYTES.
    with target(tmp_path, database_url, max_body_bytes=64 * 1024) as service:
        raw = json.dumps({**BASE, "content": "a" * MAX_CONTENT_CHARS}).encode()
        assert _raw(service, raw) == 413
        assert _raw(service, b"x" * 1024 * 1024) == 413


@pytest.mark.parametrize(
    "field",
    [
        "content",
        "author_name",
        "author_email",
        "author_url",
        "post_id",
        "permalink",
        "user_agent",
        "referrer",
        "language",
        "honeypot",
        "parent_id",
        "external_id",
    ],
)
@pytest.mark.parametrize("bad", ["\x00", chr(0xD800), chr(0xDFFF), "a\ud83db"], ids=repr)
def test_nul_and_lone_surrogates_are_a_422_naming_the_field(
    service: Target, field: str, bad: str
) -> None:
    # PostgreSQL cannot store NUL and UTF-8 cannot encode a lone surrogate: refused on both
    # databases alike, never a 500, never stored altered.
    body = {**BASE, "content": "Hello there.", field: f"x{bad}y"}
    answer = service.check(body)
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["detail"]}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"post_id": "p", "content": "caf\xc3"}',  # truncated sequence
        b'{"post_id": "p", "content": "\xc0\xaf overlong slash"}',
        b'{"post_id": "p", "content": "\xe0\x80\xaf overlong slash"}',
        b'{"post_id": "p", "content": "\xf0\x80\x80\xaf overlong slash"}',
        b'{"post_id": "p", "content": "\xed\xa0\x80 encoded surrogate"}',
        b'{"post_id": "p", "content": "\xff\xfe invalid"}',
        b'{"post_id": "p", "content": "\xf4\x90\x80\x80 past U+10FFFF"}',
        b'{"post_id": "p", "content": "raw NUL \x00 byte"}',
        b'{"post_id": "p", "content": "\\u0000 escaped NUL"}',
        b'{"post_id": "p", "content": "\\ud800 escaped lone surrogate"}',
        b'{"post_id": "p", "content": "x", "content": "duplicate key"',
        b"",
        b"null",
        b"[]",
        b'"just a string"',
        b'{"post_id": "p", "content": NaN}',
        b'{"post_id": "p", "content": "ok", "parent_id": 1e999}',
    ],
)
def test_bodies_that_are_not_valid_json_text_are_a_4xx(service: Target, raw: bytes) -> None:
    status = _raw(service, raw)
    assert status in (400, 415, 422), status


def test_a_form_encoded_body_on_the_json_endpoint_is_a_4xx(service: Target) -> None:
    form = b"post_id=p&content=%3Cscript%3Ealert(1)%3C%2Fscript%3E&author_name=x"
    assert _raw(service, form, "application/x-www-form-urlencoded") in (400, 415, 422)
    assert _raw(service, form, "multipart/form-data; boundary=x") in (400, 415, 422)
    assert _raw(service, form, "text/plain") in (400, 415, 422)
    assert _raw(service, form) in (400, 422)


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_json_nested_deep_is_a_4xx(service: Target, depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        body = b'{"post_id": "p", "content": "x", "parent_id": ' + raw + b"}"
        assert _raw(service, body) in (400, 413, 422)
        assert _raw(service, raw) in (400, 413, 422)


def test_a_comment_with_ten_thousand_links_is_decided_and_stored_exactly(
    service: Target,
) -> None:
    body = {**BASE, "content": TEN_THOUSAND_LINKS}
    answer = service.check(body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["verdict"] in ("hold", "spam")
    assert differences(body, service.stored(answer.json()["id"])) == []
