"""Bad input gets a clear 4xx naming the problem, never a 500, and nothing half-stored."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from pydantic import ValidationError

from moderation.api.schemas import CommentIn
from tests.api.test_check import HAM
from tests.conftest import Service


def post_raw(service: Service, content: bytes, **headers: str) -> Any:
    return service.client.post(
        "/v1/comments/check",
        content=content,
        headers={**service.auth, "Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**HAM, "content": ""}, "content"),
        ({k: v for k, v in HAM.items() if k != "content"}, "content"),
        ({**HAM, "content": 12}, "content"),
        ({**HAM, "author_name": ["x"]}, "author_name"),
        ({**HAM, "user_ip": "not an ip"}, "user_ip"),
        ({**HAM, "form_rendered_at": "yesterday"}, "form_rendered_at"),
        ({**HAM, "content": "a\x00b"}, "content"),
        ({**HAM, "author_name": "x" * 501}, "author_name"),
        ({**HAM, "unknown_field": 1}, "unknown_field"),
    ],
)
def test_invalid_fields_get_422_naming_the_field(
    service: Service, body: dict[str, Any], field: str
) -> None:
    response = service.client.post("/v1/comments/check", json=body, headers=service.auth)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["detail"]]


def _spellings() -> list[str]:
    octets = ["0", "00", "7", "07", "10", "010", "99", "100", "199", "249", "250", "255", "256"]
    quads = [f"{a}.{b}.{a}.{b}" for a in octets for b in ("1", "255", "01")]
    return [*quads, " 10.0.0.1 ", "1.2.3", "1.2.3.4.5", "1.2.3.\u0664", "1.2.3.+4", "1..3.4",
            "::1", "2001:DB8::0:1", "::ffff:1.2.3.4", ""]  # fmt: skip


@pytest.mark.parametrize("spelling", _spellings())
def test_user_ip_is_kept_in_its_canonical_text_or_refused(spelling: str) -> None:
    try:
        expected = str(ipaddress.ip_address(spelling.strip())) if spelling else ""
    except ValueError:
        with pytest.raises(ValidationError) as refused:
            CommentIn.model_validate({**HAM, "user_ip": spelling})
        assert [e["loc"] for e in refused.value.errors()] == [("user_ip",)]
        return
    assert CommentIn.model_validate({**HAM, "user_ip": spelling}).user_ip == expected


def test_missing_post_gets_422(service: Service) -> None:
    body = {k: v for k, v in HAM.items() if k != "post_id"}
    response = service.client.post("/v1/comments/check", json=body, headers=service.auth)
    assert response.status_code == 422
    assert "post_id or permalink" in response.text


def test_lone_surrogate_gets_422(service: Service) -> None:
    raw = b'{"post_id": "1", "author_name": "a", "author_email": "a@example.org", ' \
          b'"content": "bad \\ud800 text"}'  # fmt: skip
    response = post_raw(service, raw)
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == ["content"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"content": "caf\xe9"}',  # Latin-1, not UTF-8
        b'{"content": "\xc0\xaf"}',  # overlong encoding
        b"{not json",
        b"[" * 10_000 + b"]" * 10_000,
        b"",
    ],
)
def test_undecodable_bodies_get_a_clear_4xx(service: Service, raw: bytes) -> None:
    response = post_raw(service, raw)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


def test_body_over_the_limit_gets_413_before_parsing(service: Service) -> None:
    big = {**HAM, "content": "x" * (70 * 1024)}
    response = service.client.post("/v1/comments/check", json=big, headers=service.auth)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_chunked_body_over_the_limit_gets_413(service: Service) -> None:
    def chunks() -> Any:
        yield b'{"post_id": "1", "content": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = service.client.post(
        "/v1/comments/check",
        content=chunks(),
        headers={**service.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_long_comment_under_the_limit_is_stored_whole(service: Service) -> None:
    content = "Un long commentaire. " * 2000 + "🙂" * 100  # about 42 kB, 4-byte characters
    response = service.client.post(
        "/v1/comments/check", json={**HAM, "content": content}, headers=service.auth
    )
    assert response.status_code == 201, response.text
    stored = service.store.get_comment(service.store.get_site("blog").id, response.json()["id"])
    assert stored["content"] == content
