"""A body read by the route itself is refused exactly as FastAPI refuses a declared one."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from moderation.api import errors
from moderation.api.body import is_json, json_body, openapi_body
from moderation.api.schemas import CommentIn
from tests.conftest import Service

GOOD = {"post_id": "p", "author_name": "A", "author_email": "a@example.org", "content": "Hello"}


def _twin_app() -> FastAPI:
    """The same model as a declared body parameter and as a body the route reads itself."""
    app = FastAPI()
    errors.install(app)

    @app.post("/declared")
    async def declared(body: CommentIn) -> dict[str, str]:
        return {"content": body.content}

    @app.post("/read")
    async def read(request: Request) -> dict[str, str]:
        body = await json_body(request, CommentIn)
        return {"content": body.content}

    return app


BODIES: dict[str, tuple[bytes, str | None]] = {
    "valid": (json.dumps(GOOD).encode(), "application/json"),
    "empty": (b"", "application/json"),
    "blank": (b"   ", "application/json"),
    "malformed": (b'{"post_id": ', "application/json"),
    "trailing garbage": (json.dumps(GOOD).encode() + b"x", "application/json"),
    "latin-1": ('{"post_id":"p","content":"é"}'.encode("latin-1"), "application/json"),
    "utf-16": (json.dumps(GOOD).encode("utf-16"), "application/json"),
    "number too long": (b'{"post_id":1' + b"0" * 5000 + b"}", "application/json"),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "array": (b"[1, 2]", "application/json"),
    "null": (b"null", "application/json"),
    "missing fields": (b'{"content": "x"}', "application/json"),
    "wrong types": (json.dumps({**GOOD, "post_id": 5}).encode(), "application/json"),
    "unknown field": (json.dumps({**GOOD, "zzz": 1}).encode(), "application/json"),
    "lone surrogate": (b'{"post_id":"p","content":"x\\udfff"}', "application/json"),
    "no content type": (json.dumps(GOOD).encode(), None),
    "text/plain": (json.dumps(GOOD).encode(), "text/plain"),
    "+json": (json.dumps(GOOD).encode(), "application/vnd.api+json"),
    "parameters": (json.dumps(GOOD).encode(), " Application/JSON ; charset=utf-8"),
    "no slash": (json.dumps(GOOD).encode(), "application"),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_read_by_the_route_gets_fastapis_answer(name: str) -> None:
    content, content_type = BODIES[name]
    headers = {"content-type": content_type} if content_type is not None else {}
    with TestClient(_twin_app()) as client:
        declared = client.post("/declared", content=content, headers=headers)
        read = client.post("/read", content=content, headers=headers)
    assert (read.status_code, read.json()) == (declared.status_code, declared.json())


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("APPLICATION/JSON; charset=utf-8", True),
        ("application/jsonp", False),
        ("application/json/x", False),
        ("text/json", False),
        ("json", False),
        ("", False),
    ],
)
def test_json_content_types(content_type: str, expected: bool) -> None:
    assert is_json(content_type) is expected


def test_the_key_is_checked_before_the_body_is_read(service: Service) -> None:
    # Without a valid key, nothing is said about the body, however broken.
    for headers in ({}, {"Authorization": "Bearer not-a-key"}):
        response = service.client.post(
            "/v1/comments/check",
            content=b'{"post_id": ',
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 401
        assert "Bearer" in response.headers["www-authenticate"]


def test_the_check_route_documents_its_body(service: Service) -> None:
    operation = service.client.get("/openapi.json").json()["paths"]["/v1/comments/check"]["post"]
    assert operation["requestBody"]["required"] is True
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    documented = openapi_body(CommentIn)["content"]["application/json"]["schema"]
    assert schema["title"] == "CommentIn"
    assert schema["properties"].keys() == documented["properties"].keys()
    assert schema["additionalProperties"] is False
    assert schema["anyOf"] == documented["anyOf"]  # post_id or permalink
