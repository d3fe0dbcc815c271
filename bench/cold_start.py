"""Cold start of `moderation serve`: from process start to the first answered comment check.

Starts `python -m moderation.cli serve` (one worker, SQLite, the shipped model) on a fresh
temporary data folder, posts a check until it gets its first 201, and prints the time from the
start of the process to that answer and the RSS of the process that serves. The "first" start
creates the database and the first site (its key is parsed from the output); the "second" start
reuses that database, as a restart would.

    python bench/cold_start.py [--runs 5] [--timeout 60] [--pycache DIR]

With PYTHONDONTWRITEBYTECODE=1 (as in this project's dev environment) and an editable install,
every start compiles the project's modules again; `--pycache DIR` measures a start as an
installed package makes it (bytecode cached, in DIR), after one start that fills the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procfs import cpu_seconds, rss_bytes  # noqa: E402
from tests.servers import free_port  # noqa: E402

KEY = re.compile(r"\b(mod_[A-Za-z0-9_-]{40,})\b")
COMMENT = {
    "post_id": "42",
    "author_name": "Camille",
    "author_email": "camille@example.org",
    "content": "The vote was on Tuesday, not Monday. Otherwise a fair summary.",
}


@dataclass(frozen=True)
class Start:
    """One start: seconds to the first answered check, the serving process's RSS in MB and the
    CPU seconds it had used by then (less sensitive than the wall time to a busy machine)."""

    seconds: float
    rss_mb: float
    cpu: float


def _check(url: str, key: str) -> int:
    req = urllib.request.Request(url, data=json.dumps(COMMENT).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _listening_pids(port: int) -> set[int]:
    """Processes holding a socket that listens on `port` (by /proc's socket inodes)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def start_once(
    data_dir: Path, *, key: str | None, timeout: float, pycache: Path | None = None
) -> tuple[Start, str]:
    """Start the service, wait for the first 201 to a check, stop it; the figures and the key."""
    port = free_port()
    bytecode: dict[str, str] = {}
    if pycache is not None:
        bytecode["PYTHONPYCACHEPREFIX"] = str(pycache)
    env = {
        **os.environ,
        **bytecode,
        "MODERATION_DATA_DIR": str(data_dir),
        "MODERATION_MODELS_DIR": str(ROOT / "models"),
        "MODERATION_PORT": str(port),
        "MODERATION_WORKERS": "1",
        "MODERATION_CREATE_FIRST_SITE": "true",
    }
    env.pop("MODERATION_DATABASE_URL", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    url = f"http://127.0.0.1:{port}/v1/comments/check"
    log_path = data_dir.parent / f"serve-{port}.log"
    with log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = started + timeout
        while True:
            if process.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit(f"serve did not answer:\n{log_path.read_text()}")
            if key is None:
                found = KEY.search(log_path.read_text(errors="replace"))
                key = found.group(1) if found else None
            if key is not None:
                try:
                    status = _check(url, key)
                except OSError:
                    status = 0
                if status == 201:
                    break
                if status not in (0, 503):
                    raise SystemExit(f"check answered {status}:\n{log_path.read_text()}")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        pids = _listening_pids(port) or {process.pid}
        rss = max(rss_bytes(pid) / 2**20 for pid in pids)
        cpu = sum(cpu_seconds(pid) for pid in pids | {process.pid})
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return Start(seconds, rss, cpu), key


def _summary(name: str, starts: list[Start]) -> None:
    times = [s.seconds for s in starts]
    rss = [s.rss_mb for s in starts]
    cpu = [s.cpu for s in starts]
    print(
        f"{name}: median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}), "
        f"CPU median {statistics.median(cpu):.2f} s (min {min(cpu):.2f}, max {max(cpu):.2f}), "
        f"RSS median {statistics.median(rss):.0f} MB (max {max(rss):.0f})"
    )


def main() -> None:
    """Start the service `--runs` times on a fresh database and again on the same one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--pycache", type=Path, help="Cache bytecode there (see above).")
    args = parser.parse_args()
    pycache: Path | None = args.pycache
    if pycache is None and os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: each start compiles the project's modules")
    if pycache is not None:
        with tempfile.TemporaryDirectory(prefix="moderation-cold-") as tmp:
            start_once(Path(tmp) / "data", key=None, timeout=args.timeout, pycache=pycache)
    first: list[Start] = []
    second: list[Start] = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="moderation-cold-") as tmp:
            data_dir = Path(tmp) / "data"
            a, key = start_once(data_dir, key=None, timeout=args.timeout, pycache=pycache)
            b, _ = start_once(data_dir, key=key, timeout=args.timeout, pycache=pycache)
        first.append(a)
        second.append(b)
        print(
            f"run {run}: first start {a.seconds:.2f} s (CPU {a.cpu:.2f} s, RSS {a.rss_mb:.0f} MB), "
            f"second start {b.seconds:.2f} s (CPU {b.cpu:.2f} s, RSS {b.rss_mb:.0f} MB)",
            flush=True,
        )
    _summary("first start (new database, creates the site)", first)
    _summary("second start (existing database)", second)


if __name__ == "__main__":
    main()
