"""One HTTP request served in process, straight through an app's ASGI stack (middlewares and
all): no socket, no server, no client library between the caller and the app."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message


async def post(
    app: ASGIApp,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> list[Message]:
    """POST `body` to `path`; the messages the app sent back (the first holds the status)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": client, "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), *headers,
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    given = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal given
        if given:  # a client that stays connected until the answer
            await asyncio.Event().wait()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent
