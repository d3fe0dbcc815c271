"""/healthz stays quick while ~200 slow clients hold connections open (slowloris).

Half the slow clients send a request's headers one byte at a time; the other half send whole
headers and then a body one byte at a time. Meanwhile a monitor probes /healthz on a new
connection each time, as a load balancer would: its p99 must stay under 200 ms.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.soak.harness import Figures, env_number, first_key, percentile, server_env, start

SLOW_CLIENTS = 200
PROBES = 200
LIMIT_SECONDS = 0.200


def _slow_request(key: str, number: int) -> tuple[bytes, bytes]:
    """(sent at once, then dripped): a whole request whose headers or body come slowly."""
    body = b'{"post_id": "1", "content": "' + b"slow " * 200 + b'", "external_id": "s%d"}' % number
    headers = (
        b"POST /v1/comments/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    if number % 2:
        return b"", headers + body
    return headers, body


class Slowloris:
    """SLOW_CLIENTS sockets, each sent one more byte about every `pace` seconds."""

    def __init__(self, port: int, key: str, *, pace: float) -> None:
        self.port, self.key, self.pace = port, key, pace
        self.stop = threading.Event()
        self.reopened = 0
        self.bytes_sent = 0
        self.held = 0
        self._thread = threading.Thread(target=self._run)

    def _open(self, number: int) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        first, dripped = _slow_request(self.key, number)
        sock.sendall(first)
        return sock, dripped

    def _run(self) -> None:
        clients = [self._open(n) for n in range(SLOW_CLIENTS)]
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                for n, (sock, left) in enumerate(clients):
                    try:
                        sock.send(left[:1])
                        self.bytes_sent += 1
                        left = left[1:] or _slow_request(self.key, n)[1]
                        clients[n] = (sock, left)
                    except OSError:
                        # The server let go of it: a real attacker opens another.
                        sock.close()
                        clients[n] = self._open(n)
                        self.reopened += 1
                self.held = len(clients)
                self.stop.wait(max(0.0, self.pace - (time.monotonic() - began)))
        finally:
            for sock, _ in clients:
                sock.close()

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join()


def _probe(port: int) -> float:
    """Seconds one GET /healthz on a new connection takes; inf when it fails."""
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return float("inf")
    except (OSError, http.client.HTTPException):
        return float("inf")
    finally:
        conn.close()
    return time.perf_counter() - began


def _health_under_slowloris(tmp_path: Path, *, seconds: float) -> None:
    database_url = f"sqlite:///{tmp_path / 'moderation.db'}"
    server = start(server_env(tmp_path, database_url), tmp_path / "server.log")
    figures = Figures(f"slow clients {SLOW_CLIENTS}, {seconds:g} s")
    latencies: list[float] = []
    try:
        key = first_key(server.log())
        with Slowloris(server.port, key, pace=1.0) as slow:
            time.sleep(1.5)  # every slow client connected and dripping
            interval = seconds / PROBES
            for _ in range(PROBES):
                began = time.monotonic()
                latencies.append(_probe(server.port))
                time.sleep(max(0.0, interval - (time.monotonic() - began)))
            held, reopened, dripped = slow.held, slow.reopened, slow.bytes_sent
    finally:
        server.stop()
    p99 = percentile(latencies, 0.99)
    figures.values.update(
        probes=len(latencies),
        failed=sum(t == float("inf") for t in latencies),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
        p99_ms=round(p99 * 1000, 1),
        max_ms=round(max(latencies) * 1000, 1),
        slow_connections_held=held,
        reopened=reopened,
        bytes_dripped=dripped,
    )
    figures.show()
    assert held == SLOW_CLIENTS
    assert p99 < LIMIT_SECONDS, figures.values


def test_health_answers_quickly_while_slow_clients_hold_connections(tmp_path: Path) -> None:
    _health_under_slowloris(tmp_path, seconds=env_number("MODERATION_SOAK_FAST_SECONDS", 10))


@pytest.mark.soak
def test_health_answers_quickly_under_slow_clients_for_minutes(tmp_path: Path) -> None:
    _health_under_slowloris(tmp_path, seconds=env_number("MODERATION_SOAK_SECONDS", 180))
