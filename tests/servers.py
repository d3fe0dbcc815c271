"""Helpers for the tests that run a real `moderation serve` process on loopback."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 90.0) -> None:
    """Return once `url` answers with a success; RuntimeError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start")


def call(url: str, body: dict[str, Any] | None = None, key: str = "") -> tuple[int, Any]:
    """GET (or POST `body` as JSON) with an optional site key: the status and decoded JSON."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@dataclass(frozen=True)
class Running:
    """A `moderation serve` process that answers, and where its output goes."""

    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def first_key(self) -> str:
        """The key of the site a first start created, as it printed it."""
        match = re.search(r"\b(mod_[A-Za-z0-9_-]{40,})\b", self.log())
        assert match, "the first start printed no key"
        return match.group(1)


@contextmanager
def serving(
    env: dict[str, str], log_path: Path, *args: str, start_seconds: float = 90
) -> Iterator[Running]:
    """`moderation serve ARGS` with `env` (MODERATION_PORT set), up once /healthz answers 200;
    stopped with SIGINT (as Ctrl-C would) afterwards.

    The wait is generous: a worker imports scikit-learn and loads the model, which takes many
    seconds on a machine busy with other tests.
    """
    base = f"http://127.0.0.1:{env['MODERATION_PORT']}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Running(process, base, log_path)
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if call(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"server did not start:\n{running.log()}")
            time.sleep(0.2)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
