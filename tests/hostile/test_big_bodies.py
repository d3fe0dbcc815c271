"""1 MB and 100 MB bodies against a real `moderation serve`: refused, and the server's memory
does not grow. The 100 MB body is streamed chunked from a generator, never built in memory."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port, serving

pytestmark = pytest.mark.slow

MB = 1024 * 1024
CHUNK = b"a" * (64 * 1024)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = CHUNK[: min(len(CHUNK), total - sent)]
        sent += len(piece)
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def _post(port: int, path: str, total: int, *, chunked: bool, key: str = "") -> int:
    """Send a body of `total` bytes; the status the server answered (0: none)."""
    kind = "application/x-www-form-urlencoded" if path.startswith("/1.1/") else "application/json"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:

        def read() -> None:
            # Read while sending: the 413 comes early and a reset would drop it unread.
            try:
                while data := sock.recv(65536):
                    answer.extend(data)
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        try:
            sock.sendall(head.encode())
            body = _chunks(total) if chunked else (CHUNK for _ in range(total // len(CHUNK)))
            for piece in body:
                sock.sendall(piece)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed the connection: expected
        reader.join(timeout=30)
    status_line = bytes(answer).split(b"\r\n", 1)[0].split()
    return int(status_line[1]) if len(status_line) > 1 else 0


def test_large_bodies_are_refused_without_growing_memory(
    tmp_path: Path, record_property: Any
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MODERATION_DATA_DIR": str(tmp_path / "data"),
        "MODERATION_PORT": str(port),
        "MODERATION_WORKERS": "1",
    }
    env.pop("MODERATION_DATABASE_URL", None)
    with serving(env, tmp_path / "server.log") as running:
        pid, key = running.process.pid, running.first_key()
        sends = [(1 * MB, False), (1 * MB, True), (100 * MB, True)]
        # One round first: what a first request allocates once is not growth.
        for total, chunked in sends:
            _post(port, "/v1/comments/check", total, chunked=chunked, key=key)
            _post(port, "/v1/comments/check", total, chunked=chunked)
        before = _rss_kb(pid)
        statuses, akismet, keyless = [], [], []
        for _ in range(3):
            for total, chunked in sends:
                statuses.append(_post(port, "/v1/comments/check", total, chunked=chunked, key=key))
                # Without a key, the check route refuses before it reads the body: a declared
                # length over the limit still gets the 413 first, a chunked body the 401.
                keyless.append(_post(port, "/v1/comments/check", total, chunked=chunked))
                # The Akismet API takes up to 2 MB: 1 MB of "a" is read, and is no comment.
                akismet.append(_post(port, "/1.1/comment-check", total, chunked=chunked))
        after = _rss_kb(pid)
    growth_mb = (after - before) / 1024
    record_property(
        "figure",
        f"server RSS {before / 1024:.1f} MB before, {after / 1024:.1f} MB "
        f"after 3 rounds of 1 MB, 1 MB chunked and 100 MB chunked bodies on two "
        f"endpoints: growth {growth_mb:.1f} MB; answers {sorted({*statuses, *akismet, *keyless})}",
    )
    assert set(statuses) == {413}
    assert keyless == [413, 401, 401] * 3
    assert akismet[2::3] == [413] * 3
    assert all(400 <= s < 500 or s == 200 for s in akismet), akismet
    assert growth_mb < 20
