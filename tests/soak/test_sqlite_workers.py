"""Several workers writing one SQLite database for minutes: no client ever sees a 5xx.

SQLite lets one writer in at a time; with `serve --workers N` the workers queue for it. Under
a steady load of comment checks (and status reads) from many connections no request may fail
and the server's log may show no "database is locked" nor any traceback.
"""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from tests.soak.harness import (
    Client,
    Figures,
    comment,
    env_number,
    first_key,
    percentile,
    server_env,
    start,
)

THREADS = 24


def _load(tmp_path: Path, *, workers: int, seconds: float) -> Figures:
    """Write (and read back) comments from THREADS connections for `seconds`."""
    database_url = f"sqlite:///{tmp_path / 'moderation.db'}"
    server = start(server_env(tmp_path, database_url, workers=workers), tmp_path / "server.log")
    figures = Figures(f"sqlite, {workers} workers, {seconds:g} s")
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    try:
        key = first_key(server.log())
        deadline = time.monotonic() + seconds

        def client_thread(number: int) -> None:
            client = Client(server.port, key, timeout=30)
            sent = 0
            try:
                while time.monotonic() < deadline:
                    # Mostly writes; every fifth request reads back the comment just stored.
                    body = comment(f"t{number}-{sent}", number * 1_000_000 + sent)
                    began = time.perf_counter()
                    try:
                        status, answer = client.request("POST", "/v1/comments/check", body)
                        if status == 201 and sent % 5 == 4:
                            status, answer = client.request("GET", f"/v1/comments/{answer['id']}")
                    except (OSError, http.client.HTTPException) as exc:
                        status, answer = 0, repr(exc)
                    took = time.perf_counter() - began
                    sent += 1
                    with lock:
                        latencies.append(took)
                        if status not in {200, 201}:
                            failures.append(f"{status}: {str(answer)[:200]}")
            finally:
                client.close()

        threads = [threading.Thread(target=client_thread, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    log = server.log()
    figures.add(requests=len(latencies), answers_2xx=len(latencies) - len(failures),
                errors=len(failures))  # fmt: skip
    figures.values["req_per_s"] = round(len(latencies) / seconds)
    figures.values["p50_ms"] = round(percentile(latencies, 0.50) * 1000, 1)
    figures.values["p99_ms"] = round(percentile(latencies, 0.99) * 1000, 1)
    figures.values["locked_in_log"] = log.lower().count("database is locked")
    figures.show()
    assert failures == [], failures[:10]
    assert "database is locked" not in log.lower()
    assert "Traceback" not in log
    assert '" 500 ' not in log
    assert '" 503 ' not in log
    assert len(latencies) > THREADS
    return figures


def test_two_workers_share_sqlite_without_errors(tmp_path: Path) -> None:
    _load(tmp_path, workers=2, seconds=env_number("MODERATION_SOAK_FAST_SECONDS", 10))


@pytest.mark.soak
def test_workers_share_sqlite_for_minutes(tmp_path: Path) -> None:
    _load(tmp_path, workers=3, seconds=env_number("MODERATION_SOAK_SECONDS", 180))
