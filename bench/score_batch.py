"""Throughput of `moderation score` (JSONL in, one decision per line out), one core and all.

    python bench/score_batch.py [--comments 20000] [--source seed|varied|both]

`seed` draws the comments from the seed corpus in turn, so the mix of lengths and languages is
realistic but every text recurs (each word's n-grams are looked up once, then kept). `varied`
perturbs them as bench/make_corpus.py does (typos, other words and names, new link domains):
nearly every line is distinct and new words keep coming, as in a real backlog.

"Once loaded" counts from the first decision out to the last, which are the decisions of every
batch but the first: process start, model load and the first batch are left out ("overall"
includes them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_corpus import generate  # noqa: E402
from moderation.dataset import read_all, seed_files  # noqa: E402

_BATCH = 1000  # `moderation score --batch`: the first batch is what "once loaded" leaves out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--source", choices=("seed", "varied", "both"), default="both")
    args = parser.parse_args()
    if args.comments <= 2 * _BATCH:
        parser.error(f"--comments must be more than {2 * _BATCH}")
    sources = ("seed", "varied") if args.source == "both" else (args.source,)
    # BLAS threads held to one: scoring uses none, and idle ones only compete for the cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MODERATION_MODELS_DIR": str(ROOT / "models")}  # fmt: skip
    base = [sys.executable, "-m", "moderation.cli", "score", "--batch", str(_BATCH)]
    pinned = ["taskset", "-c", "0"] if sys.platform.startswith("linux") else []
    runs = [
        ("one core", [*pinned, *base, "--jobs", "1"]),
        (f"all {os.cpu_count()} cores", [*base, "--jobs", "0"]),
    ]
    for source in sources:
        path = _write_input(source, args.comments)
        try:
            for name, cmd in runs:
                _report(f"{source}, {name}", cmd, path, env)
        finally:
            os.unlink(path)


def _lines(source: str, n: int) -> Iterator[str]:
    examples = read_all(seed_files(ROOT / "training" / "data"))
    rows: Iterator[dict[str, str]] = (
        (
            {"content": ex.item.content, "author_name": ex.item.author_name,
             "author_email": ex.author_email, "author_url": ex.item.author_url}
            for ex in (examples[i % len(examples)] for i in range(n))
        )
        if source == "seed"
        else generate(examples, n, random.Random(42))
    )  # fmt: skip
    for i, row in enumerate(rows):
        yield json.dumps({
            "post_id": f"p{i % 97}", "content": row["content"],
            "author_name": row["author_name"],
            "author_email": row["author_email"] or f"reader{i}@example.org",
            "author_url": row["author_url"], "external_id": str(i),
        }, ensure_ascii=False)  # fmt: skip


def _write_input(source: str, n: int) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for line in _lines(source, n):
            f.write(line + "\n")
        return f.name


def _report(name: str, cmd: list[str], path: str, env: dict[str, str]) -> None:
    started = time.perf_counter()
    verdicts: dict[str, int] = {}
    lines = 0
    first_at = 0.0
    with open(path, "rb") as stdin:
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            # The first line comes out once the whole first batch is decided; what follows
            # is the rest of the lines' work.
            if not lines:
                first_at = time.perf_counter()
            lines += 1
            verdict = json.loads(line).get("verdict", "error")
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
        if proc.wait() != 0:
            raise SystemExit(f"{name}: moderation score exited with {proc.returncode}")
    ended = time.perf_counter()
    print(f"{name}: {lines} decisions in {ended - started:.2f} s, the first out after "
          f"{first_at - started:.2f} s (start, model load, first batch of {_BATCH})")  # fmt: skip
    print(f"  throughput: {lines / (ended - started):,.0f} comments/s overall, "
          f"{(lines - _BATCH) / (ended - first_at):,.0f} comments/s once loaded")  # fmt: skip
    print(f"  verdicts: {verdicts}")


if __name__ == "__main__":
    main()
