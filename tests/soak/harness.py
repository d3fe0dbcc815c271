"""Shared pieces of the soak tests: a `moderation serve` that can be SIGKILLed whole,
keep-alive clients, and the figures they print."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODELS_DIR, ROOT
from tests.servers import call, free_port


def env_number(name: str, default: float) -> float:
    """A duration or count from the environment (for longer soak runs), else `default`."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def server_env(
    tmp_path: Path, database_url: str, *, workers: int = 1, **extra: str
) -> dict[str, str]:
    """The environment of a `moderation serve` on `database_url` with the shipped model."""
    env = {
        **os.environ,
        "MODERATION_DATA_DIR": str(tmp_path / "data"),
        "MODERATION_DATABASE_URL": database_url,
        "MODERATION_MODELS_DIR": str(MODELS_DIR),
        "MODERATION_WORKERS": str(workers),
        # A SIGKILLed server cannot remove its temporary metrics folder: keep it in tmp_path.
        "MODERATION_METRICS_DIR": str(tmp_path / "metrics"),
        "MODERATION_WEBHOOKS_ENABLED": "false",
        # These runs measure durability under load, not the per-key and per-address limits.
        "MODERATION_RATELIMIT_CHECK_KEY_PER_SECOND": "0",
        "MODERATION_RATELIMIT_CHECK_KEY_BURST": "0",
        "MODERATION_RATELIMIT_CHECK_IP_PER_SECOND": "0",
        "MODERATION_RATELIMIT_CHECK_IP_BURST": "0",
    }
    env.update(extra)
    return env


@dataclass
class Server:
    """A `moderation serve` in a process group of its own (supervisor and workers)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str]

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server printed so far (all starts on this log)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL every process of the server at once, as a crash or the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop as Ctrl-C would; kill whatever is left after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        # Workers orphaned by a supervisor that died are still in the group.
        self.kill()


def start(env: dict[str, str], log_path: Path, *, start_seconds: float = 120) -> Server:
    """Start `moderation serve` on a free port; return once /healthz answers 200."""
    port = free_port()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve"],
            cwd=ROOT, env={**env, "MODERATION_PORT": str(port)}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server(process, port, log_path, env)
    deadline = time.monotonic() + start_seconds
    while True:
        try:
            if call(server.base + "/healthz")[0] == 200:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            server.kill()
            pytest.fail(f"server did not start:\n{server.log()[-5000:]}")
        time.sleep(0.2)


def first_key(log: str) -> str:
    """The key of the site the first start created, as it printed it."""
    match = re.search(r"\b(mod_[A-Za-z0-9_-]{40,})\b", log)
    assert match, "the first start printed no key"
    return match.group(1)


class Client:
    """One keep-alive HTTP/1.1 connection, reopened after a failure."""

    def __init__(self, port: int, key: str, *, timeout: float = 60) -> None:
        self.port = port
        self.key = key
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """Send one request; the status and decoded JSON. Raises OSError/HTTPException when the
        answer is lost (and drops the connection)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        try:
            self._conn.request(method, path, body=data, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def close(self) -> None:
        """Close the connection, if open."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def comment(external_id: str, i: int) -> dict[str, Any]:
    """A plausible comment with the blog's own id `external_id`."""
    return {
        "external_id": external_id,
        "post_id": f"post-{i % 11}",
        "author_name": f"Reader {i}",
        "author_email": f"reader{i}@example.org",
        "user_ip": f"198.51.{(i // 250) % 250}.{i % 250}",
        "content": f"Comment {external_id}: the library should stay open later during exams, "
        f"at least until {8 + i % 4} pm on weekdays.",
    }


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Figures:
    """Counts printed at the end of a run, one line per name."""

    title: str
    values: dict[str, Any] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        """Add to the counters named."""
        for name, value in values.items():
            self.values[name] = self.values.get(name, 0) + value

    def show(self) -> None:
        """Print the figures (seen with `pytest -s`)."""
        shown = ", ".join(f"{name} {value}" for name, value in self.values.items())
        print(f"\n[{self.title}] {shown}", flush=True)
