"""What waiting costs on this machine: one request's CPU served back to back and after a pause.

A check's work passes between processes (the serving process, its writer process, the database
server), each waiting for the one before it; a bare endpoint at its peak never waits. On a
shared virtual machine a process that waits can find its caches emptied by the neighbours when it
wakes: the same work then costs more CPU. This benchmark serves the same requests in process,
over ASGI (no sockets, no other process), to the bare app and to the check app whose writer
answers at once (what is left is the serving process's own part of a check: routing, the key,
the body, the response), first back to back, then pausing after each group of `--batch`
requests as a serving process waits for its writer, and prints the CPU time per request.

    python bench/wake_penalty.py [--requests 2000] [--pause-ms 8] [--batch 1] [--batch 11]

The pause itself costs no CPU: a rise in the CPU per request is the work after the pause
running slower. That rise is what the check endpoint pays, on every hand-over between its
processes, beyond the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402

from bench import bare_app  # noqa: E402
from moderation.app import create_app  # noqa: E402
from moderation.batching import CheckJob, Writer, WriterState  # noqa: E402
from moderation.settings import Settings  # noqa: E402
from moderation.store import Store, StoredCheck, make_engine, migrate  # noqa: E402
from tests import asgi  # noqa: E402

PATH = "/v1/comments/check"
WARM_UP = 300


class InstantWriter:
    """Answers every check with the stored outcome of the first one, which the real writer
    stored: the check path without the writer's share (scoring, rules, the write)."""

    def __init__(self, real: Writer) -> None:
        self.real = real
        self.first: StoredCheck | None = None

    @property
    def state(self) -> WriterState:
        return self.real.state

    async def submit(self, job: CheckJob) -> StoredCheck:
        if self.first is None:
            self.first = await self.real.submit(job)
        return self.first

    async def aclose(self) -> None:
        await self.real.aclose()


def body(number: int) -> bytes:
    """A different comment each time, as the check endpoint benchmark sends them."""
    return json.dumps({
        "post_id": f"p{number % 50}", "author_name": f"Reader {number}",
        "author_email": f"reader{number}@example.org",
        "user_ip": f"10.0.{number % 200}.{number % 250}",
        "content": f"Thanks for covering the council vote, the rent figures were new. ({number})",
    }).encode()  # fmt: skip


async def post(app: FastAPI, key: str, number: int) -> None:
    """One request through the whole ASGI stack, middlewares included; its status is checked."""
    headers = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
    sent = await asgi.post(app, PATH, body(number), headers)
    if sent[0]["status"] not in (200, 201):
        raise SystemExit(f"{PATH} answered {sent[0]['status']}: {sent[1:]}")


async def serve(app: FastAPI, key: str, requests: int, batch: int, pause: float) -> float:
    """This process's CPU seconds per request: `requests` in groups of `batch` sent together,
    with `pause` seconds after each group."""
    numbers = iter(range(WARM_UP, WARM_UP + requests))
    before = time.process_time()
    for start in range(0, requests, batch):
        await asyncio.gather(*(post(app, key, next(numbers))
                               for _ in range(min(batch, requests - start))))  # fmt: skip
        if pause:
            await asyncio.sleep(pause)
    return (time.process_time() - before) / requests


async def measure(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    migrate(engine)
    _, key = Store(engine).create_site("bench")
    engine.dispose()
    settings = Settings(
        data_dir=tmp, database_url=url, models_dir=ROOT / "models", create_first_site=False,
        # In this process, on a thread: no writer process to start (this one answers at once).
        writer_process=False,
        ratelimit_check_key_per_second=0, ratelimit_check_ip_per_second=0,
    )  # fmt: skip
    results = []
    for name, make in (("bare", bare_app.factory), ("check", lambda: create_app(settings))):
        app = make()
        async with app.router.lifespan_context(app):
            writer = getattr(app.state, "writer", None)
            if writer is not None:
                app.state.writer = InstantWriter(writer)
            for number in range(WARM_UP):
                await post(app, key, number)
            for batch in args.batch:
                for pause_ms in (0.0, args.pause_ms):
                    cpu = await serve(app, key, args.requests, batch, pause_ms / 1000)
                    results.append({"app": name, "batch": batch, "pause_ms": pause_ms,
                                    "cpu_us": cpu * 1e6})  # fmt: skip
                    print(f"{name:<6} groups of {batch:>3}, pause {pause_ms:>4.1f} ms: "
                          f"{cpu * 1e6:>6.0f} µs CPU a request", flush=True)  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per measurement")
    parser.add_argument("--pause-ms", type=float, default=8.0)
    parser.add_argument("--batch", type=int, action="append", help="requests sent together")
    args = parser.parse_args(argv)
    args.batch = args.batch or [1, 11]
    if args.requests < 1 or min(args.batch) < 1 or args.pause_ms <= 0:
        parser.error("--requests and --batch must be at least 1, --pause-ms above 0")
    with tempfile.TemporaryDirectory(prefix="moderation-wake-") as tmp:
        started = time.perf_counter()
        results = asyncio.run(measure(args, Path(tmp)))
    for name in ("bare", "check"):
        for batch in args.batch:
            base, paused = (r["cpu_us"] for r in results
                            if r["app"] == name and r["batch"] == batch)  # fmt: skip
            print(
                f"{name}, groups of {batch}: {paused / base:.2f} times the CPU after a "
                f"{args.pause_ms:g} ms pause ({paused - base:+.0f} µs a request)"
            )
    print(json.dumps({"results": results, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
