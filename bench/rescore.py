"""Throughput of POST /v1/comments/score (1,000-comment batches) on a real server.

    python bench/rescore.py [--batches 20] [--clients 1 2] [--workers 1] [--database URL]

The comments are drawn from the seed corpus. Each client sends its batches one after another
on one keep-alive connection; meanwhile a probe sends one POST /v1/comments/check every
100 ms, to show what a batch costs the other requests of the same worker.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.dataset import read_all, seed_files  # noqa: E402
from moderation.store import Store, make_engine, migrate  # noqa: E402
from tests.servers import free_port, wait_ready  # noqa: E402

BATCH = 1000


def batches(count: int) -> list[bytes]:
    """`count` request bodies of BATCH comments each, cycling through the seed corpus."""
    examples = read_all(seed_files(ROOT / "training" / "data"))
    bodies = []
    for b in range(count):
        comments = []
        for j in range(BATCH):
            i = b * BATCH + j
            ex = examples[i % len(examples)]
            comments.append({
                "post_id": f"p{i % 97}", "content": ex.item.content,
                "author_name": ex.item.author_name or f"Reader {i}",
                "author_email": ex.author_email or f"reader{i}@example.org",
                "author_url": ex.item.author_url, "external_id": str(i),
            })  # fmt: skip
        bodies.append(json.dumps({"comments": comments}).encode())
    return bodies


def post(conn: http.client.HTTPConnection, path: str, body: bytes, key: str) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{path} answered {response.status}: {data[:300]!r}")
    return json.loads(data)


class Probe(threading.Thread):
    """One single-comment check every 100 ms, timed, until stopped."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.port, self.key = port, key
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        n = 0
        while not self.stop.wait(0.1):
            n += 1
            body = json.dumps({
                "post_id": "probe", "author_name": f"Probe {n}",
                "author_email": f"probe{n}@example.org", "user_ip": f"10.9.{n // 250}.{n % 250}",
                "content": f"Thanks for the piece on the council vote ({n}).",
            }).encode()  # fmt: skip
            started = time.perf_counter()
            post(conn, "/v1/comments/check", body, self.key)
            self.latencies.append((time.perf_counter() - started) * 1000)
        conn.close()


def probe_figures(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return "too few probes"
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(latencies):.1f} ms"


def run_clients(
    port: int, key: str, bodies: list[bytes], clients: int
) -> tuple[float, list[float]]:
    """Send every body, spread over `clients` connections: elapsed seconds, batch latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    shares = [bodies[i::clients] for i in range(clients)]

    def client(share: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in share:
            started = time.perf_counter()
            answer = post(conn, "/v1/comments/score", body, key)
            elapsed = (time.perf_counter() - started) * 1000
            assert len(answer["results"]) == BATCH
            with lock:
                latencies.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="batches per run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a new SQLite file)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="moderation-bench-"))
    url = args.database or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    _, key = Store(engine).create_site(f"bench-{os.getpid()}")
    engine.dispose()
    bodies = batches(args.batches)
    size = sum(len(b) for b in bodies) / len(bodies) / 1024
    port = free_port()
    env = {**os.environ, "MODERATION_DATABASE_URL": url, "MODERATION_DATA_DIR": str(tmp),
           "MODERATION_MODELS_DIR": str(ROOT / "models"), "MODERATION_CREATE_FIRST_SITE": "false",
           # One key from 127.0.0.1: the per-request rate limits would refuse the probe.
           "MODERATION_RATELIMIT_CHECK_KEY_PER_SECOND": "0",
           "MODERATION_RATELIMIT_CHECK_IP_PER_SECOND": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "moderation.app:factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
           "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
           "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        print(f"{args.workers} worker(s), {args.batches} batches of {BATCH} seed comments "
              f"({size:,.0f} KiB each) per run")  # fmt: skip
        idle = Probe(port, key)
        idle.start()
        time.sleep(3)
        idle.stop.set()
        idle.join()
        print(f"  single checks, idle server: {probe_figures(idle.latencies)}")
        run_clients(port, key, bodies[:2], 1)  # warm-up: caches of the model's n-grams
        for clients in args.clients:
            probe = Probe(port, key)
            probe.start()
            elapsed, latencies = run_clients(port, key, bodies, clients)
            probe.stop.set()
            probe.join()
            total = len(bodies) * BATCH
            median, worst = statistics.median(latencies), max(latencies)
            print(f"  {clients} client(s): {total / elapsed:,.0f} comments/s "
                  f"({total:,} in {elapsed:.2f} s); batch latency p50 {median:.0f} ms, "
                  f"max {worst:.0f} ms")  # fmt: skip
            print(f"    single checks meanwhile: {probe_figures(probe.latencies)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
