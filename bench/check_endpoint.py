"""Throughput and latency of POST /v1/comments/check beside a bare FastAPI endpoint.

Both are served the same way (uvicorn, uvloop, httptools, same worker count) and loaded the same
way (wrk on loopback, keep-alive, each request a different comment) in the same run: first at
full speed (the peak), then paced at half of each one's own peak (the latency there). Each run
also reports the CPU time the server spent per answered request: in its serving processes
(`worker`) and in their writer processes (`writer`), which shows where a check's cost lies.

Both servers stay up for the whole run and their peaks are measured in turns, bare then check,
`--rounds` times: a shared machine's speed drifts by a quarter within minutes, and a ratio of
two runs taken side by side is the one that drift leaves alone. The ratio reported is the
median of the rounds' ratios; the half-peak runs pace each endpoint at half its median peak,
each connection's pause between requests set by three short runs first (its answers take their
share of its cycle, more for the check endpoint than for the bare one).

    python bench/check_endpoint.py [--workers 1] [--seconds 10] [--rounds 3] [--connections 32]
                                   [--database URL]

Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procfs import cpu_by_command, cpu_seconds, idle_seconds, tree  # noqa: E402
from moderation.store import Store, make_engine, migrate  # noqa: E402
from tests.servers import free_port, wait_ready  # noqa: E402

LUA = r"""
local counter = 0
local texts = {
  "Thanks for covering the council vote, the numbers on rent were eye-opening.",
  "Merci pour cet article, la grève du CROUS mérite plus d'attention.",
  "Great post! Best online casino bonus, free spins: https://casino.example/slots",
  "I disagree: the library hours were cut last year too, see https://lib.example.edu/hours",
  "Cheap viagra cialis without prescription, order now at pills-shop.example",
}
request = function()
  counter = counter + 1
  local body = string.format(
    '{"post_id":"p%d","author_name":"Reader %d","author_email":"reader%d@example.org",' ..
    '"user_ip":"10.%d.%d.%d","content":"%s (%d)"}',
    counter % 50, counter, counter, counter % 200, math.floor(counter / 200) % 250, counter % 250,
    texts[(counter % #texts) + 1], counter)
  return wrk.format("POST", nil, nil, body)
end
"""


def start(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
           "--http", "httptools", "--log-level", "warning", "--no-access-log"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, cwd=ROOT)


# Each connection waits `whole` ms after an answer before its next request, one more with the
# chance `fraction`: a mean pause of whole + fraction ms (wrk's delays are whole milliseconds).
PACING = """
local whole, fraction = %d, %.6f
function delay()
  if math.random() < fraction then
    return whole + 1
  end
  return whole
end
"""
PACED_CONNECTIONS = 16
# Short paced runs that set the pause before the measured one: a connection's cycle is its
# pause plus its answer's time, which only a run under that load shows.
CALIBRATIONS = 3
CALIBRATION_SECONDS = 3


def paced_script(tmp: Path, pause_ms: float) -> Path:
    """A wrk script whose connections each wait `pause_ms` on average after an answer."""
    whole = int(pause_ms)
    script = tmp / f"paced-{pause_ms:.3f}.lua"
    script.write_text(LUA + PACING % (whole, pause_ms - whole))
    return script


def next_pause(target: float, achieved: float, pause_ms: float, connections: int) -> float:
    """The pause that brings `connections` paced connections to `target` requests a second,
    from a run that paused `pause_ms` and achieved `achieved`: each connection's cycle (1000 *
    connections / rate, ms) is its pause plus its answers' mean time, which that run shows."""
    answer_ms = max(0.0, connections * 1000 / max(achieved, 1.0) - pause_ms)
    return max(0.0, connections * 1000 / target - answer_ms)


def paced_run(
    pid: int, url: str, key: str, seconds: int, tmp: Path, target: float
) -> dict[str, float]:
    """`measured` figures of a run at about `target` requests a second, its pause calibrated
    first; "target" and "pause_ms" added."""
    pause = PACED_CONNECTIONS * 1000 / target
    for _ in range(CALIBRATIONS):
        probe = run_wrk(url, key, CALIBRATION_SECONDS, PACED_CONNECTIONS, paced_script(tmp, pause))
        pause = next_pause(target, probe["rps"], pause, PACED_CONNECTIONS)
    script = paced_script(tmp, pause)
    run = measured(pid, partial(run_wrk, url, key, seconds, PACED_CONNECTIONS, script))
    return {**run, "target": target, "pause_ms": pause}


PATH = "/v1/comments/check"


def _cpu(run: dict[str, float], database: bool) -> str:
    """A run's CPU columns: the worker's and the writer's, and the database server's."""
    columns = f"{run['cpu_worker_us']:>8.0f} µs {run['cpu_writer_us']:>8.0f} µs"
    return columns + (f" {run['cpu_database_us']:>10.0f} µs" if database else "")


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median throughput (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run["rps"])[(len(runs) - 1) // 2]


def analyze(url: str) -> None:
    """Refresh PostgreSQL's statistics, as autovacuum does within a minute on a live database.

    A new database has none: the planner would then count a flood over every comment of the
    last seconds instead of the author's own, for as long as the benchmark runs.
    """
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


class LargestSize:
    """The largest size a file reached, polled every `seconds` on a thread until stopped: an
    SQLite WAL, which a checkpoint that starts it over may cut back in between."""

    def __init__(self, path: Path, seconds: float = 0.2) -> None:
        self.path = path
        self.seconds = seconds
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        with contextlib.suppress(OSError):  # not there (yet, or any more)
            self.largest = max(self.largest, self.path.stat().st_size)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self._poll()

    def stop(self) -> int:
        """Stop polling; the largest size seen, in bytes, a last poll included."""
        self._stop.set()
        self._thread.join()
        self._poll()
        return self.largest


def _cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds of a process and all its descendants, by role: `worker` for the serving
    processes, `writer` for the writer processes (spawned by multiprocessing)."""
    totals = {"worker": 0.0, "writer": 0.0}
    for member in tree(pid):
        try:
            command = Path(f"/proc/{member}/cmdline").read_bytes()
            used = cpu_seconds(member)
        except OSError:  # gone meanwhile
            continue
        totals["writer" if b"multiprocessing" in command else "worker"] += used
    return totals


def measured(pid: int, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """`run()`'s figures, with the CPU time the server's processes spent per answered request
    (µs, by role) while it ran."""
    before, database, idle, started = (
        _cpu_by_role(pid),
        cpu_by_command("postgres"),
        idle_seconds(),
        time.monotonic(),
    )
    figures = run()
    after = _cpu_by_role(pid)
    # PostgreSQL's processes on this machine, those alive at the end: its server shares the
    # cores with the service when it runs here, and a check's cost there is part of the story.
    database_used = sum(
        used - database.get(process, 0.0) for process, used in cpu_by_command("postgres").items()
    )
    idle_share = (idle_seconds() - idle) / ((time.monotonic() - started) * (os.cpu_count() or 1))
    per_request = 1e6 / max(figures["requests"], 1.0)
    return (
        figures
        | {f"cpu_{role}_us": (after[role] - used) * per_request for role, used in before.items()}
        | {"cpu_database_us": database_used * per_request, "idle": idle_share}
    )


def run_wrk(url: str, key: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-s", str(script), "-H", f"Authorization: Bearer {key}",
         "-H", "Content-Type: application/json", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps, "requests": requests,
        "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="peak runs of each endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a new SQLite file)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="moderation-bench-"))
    # The default database: a new SQLite file, whose WAL the run watches.
    sqlite_file = None if args.database else tmp / "bench.db"
    url = args.database or f"sqlite:///{sqlite_file}"
    db = "postgresql" if url.startswith("postgresql") else "sqlite"
    engine = make_engine(url)
    migrate(engine)
    store = Store(engine)
    _, key = store.create_site(f"bench-{os.getpid()}")
    engine.dispose()
    script = tmp / "post.lua"
    script.write_text(LUA)
    env = {**os.environ, "MODERATION_DATABASE_URL": url, "MODERATION_DATA_DIR": str(tmp),
           "MODERATION_MODELS_DIR": str(ROOT / "models"), "MODERATION_CREATE_FIRST_SITE": "false",
           # As `moderation serve --workers N` tells its workers (it decides, among other
           # things, whether each gets a writer process).
           "MODERATION_WORKERS": str(args.workers),
           # One key from 127.0.0.1 at thousands of requests a second: the rate limits would
           # answer most of them 429, so they are off and the figures measure checking.
           "MODERATION_RATELIMIT_CHECK_KEY_PER_SECOND": "0",
           "MODERATION_RATELIMIT_CHECK_IP_PER_SECOND": "0",
           "PYTHONPATH": str(ROOT)}  # fmt: skip

    # SQLite's WAL under the check server's load: how large its file grows (a checkpoint that
    # cannot start it over lets it grow for as long as the load lasts).
    wal = None if sqlite_file is None else LargestSize(Path(f"{sqlite_file}-wal"))
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    peaks: dict[str, list[dict[str, float]]] = {"bare": [], "check": []}
    paced: dict[str, dict[str, float]] = {}
    try:
        for name, app in (("bare", "bench.bare_app:factory"), ("check", "moderation.app:factory")):
            port = free_port()
            servers[name] = (start(app, port, args.workers, env), f"http://127.0.0.1:{port}")
        for _, base in servers.values():
            wait_ready(f"{base}/openapi.json")
            run_wrk(f"{base}{PATH}", key, 2, args.connections, script)  # warm-up
        if db == "postgresql":
            analyze(url)
        for _ in range(args.rounds):
            for name, (proc, base) in servers.items():
                peaks[name].append(
                    measured(
                        proc.pid,
                        partial(run_wrk, f"{base}{PATH}", key, args.seconds, args.connections,
                                script),
                    )
                )  # fmt: skip
        results = {name: _median_run(runs) for name, runs in peaks.items()}
        for name, (proc, base) in servers.items():
            paced[name] = paced_run(
                proc.pid, f"{base}{PATH}", key, args.seconds, tmp, results[name]["rps"] / 2
            )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            proc.wait(timeout=20)
        wal_bytes = wal.stop() if wal is not None else 0
    ratios = [c["rps"] / b["rps"] for b, c in zip(peaks["bare"], peaks["check"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"database {db}, {args.workers} worker(s), {args.connections} connections, "
          f"{args.seconds} s per run, {args.rounds} round(s) of peaks")  # fmt: skip
    print("peaks, round by round (req/s, bare then check):")
    rounds = zip(peaks["bare"], peaks["check"], ratios, strict=True)
    for number, (bare, check, share) in enumerate(rounds, 1):
        print(f"  round {number}: bare {bare['rps']:.0f}, check {check['rps']:.0f}: {share:.1%}")
    print("the median round of each endpoint:")
    # CPU: the server's processes' CPU time per answered request, µs (workers, writers, and
    # PostgreSQL's server when it runs here); idle: the machine's cores left idle meanwhile.
    database = db == "postgresql"
    cpu_heads = f"{'CPU worker':>11} {'CPU writer':>11}" + (f" {'CPU database':>13}" * database)
    print(f"{'endpoint':<8} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{cpu_heads} {'idle':>5}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<8} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} "
              f"{r['p99_ms']:>8.2f} {r['non_2xx']:>8.0f} {_cpu(r, database)} "
              f"{r['idle']:>5.0%}")  # fmt: skip
    print(f"check / bare throughput, the median of the rounds' ratios: {ratio:.1%}")
    print(f"paced at half of each one's peak, {PACED_CONNECTIONS} connections:")
    print(f"{'endpoint':<8} {'target/s':>9} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{cpu_heads} {'idle':>5}")  # fmt: skip
    for name, r in paced.items():
        print(f"{name:<8} {r['target']:>9.0f} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} "
              f"{r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f} {_cpu(r, database)} "
              f"{r['idle']:>5.0%}")  # fmt: skip
    extra: dict[str, float] = {}
    if sqlite_file is not None:
        extra = {"sqlite_wal_mb": wal_bytes / 1e6,
                 "sqlite_database_mb": sqlite_file.stat().st_size / 1e6}  # fmt: skip
        print(f"SQLite: the WAL file's largest size {extra['sqlite_wal_mb']:.0f} MB, the "
              f"database {extra['sqlite_database_mb']:.0f} MB at the end")  # fmt: skip
    print(json.dumps({"database": db, "workers": args.workers, "ratio": ratio, "ratios": ratios,
        **extra, **{
        f"{n}_{k}": v for n, r in results.items() for k, v in r.items()}, **{
        f"{n}_half_{k}": v for n, r in paced.items() for k, v in r.items()}}))  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
