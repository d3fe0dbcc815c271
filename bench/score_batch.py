"""Throughput of `moderation score` (JSONL in, one decision per line out), one core and all.

    python bench/score_batch.py [--comments 20000]

The comments are drawn from the seed corpus, so the mix of lengths and languages is realistic.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.dataset import read_all, seed_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20_000)
    args = parser.parse_args()
    examples = read_all(seed_files(ROOT / "training" / "data"))
    lines = []
    for i in range(args.comments):
        ex = examples[i % len(examples)]
        lines.append(json.dumps({
            "post_id": f"p{i % 97}", "content": ex.item.content, "author_name": ex.item.author_name,
            "author_email": ex.author_email or f"reader{i}@example.org",
            "author_url": ex.item.author_url, "external_id": str(i),
        }, ensure_ascii=False))  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    # BLAS threads held to one: scoring uses none, and idle ones only compete for the cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MODERATION_MODELS_DIR": str(ROOT / "models")}  # fmt: skip
    base = [sys.executable, "-m", "moderation.cli", "score"]
    pinned = ["taskset", "-c", "0"] if sys.platform.startswith("linux") else []
    runs = [
        ("one core", [*pinned, *base, "--jobs", "1"]),
        (f"all {os.cpu_count()} cores", [*base, "--jobs", "0"]),
    ]
    for name, cmd in runs:
        startup = _elapsed(cmd, os.devnull, env)[0]
        elapsed, out = _elapsed(cmd, path, env)
        verdicts: dict[str, int] = {}
        for line in out:
            v = json.loads(line).get("verdict", "error")
            verdicts[v] = verdicts.get(v, 0) + 1
        print(f"{name}: {len(out)} decisions in {elapsed:.2f} s, of which {startup:.2f} s is "
              f"process start and model load")  # fmt: skip
        print(f"  throughput: {len(out) / elapsed:,.0f} comments/s overall, "
              f"{len(out) / (elapsed - startup):,.0f} comments/s once loaded")  # fmt: skip
        print(f"  verdicts: {verdicts}")
    os.unlink(path)


def _elapsed(cmd: list[str], path: str, env: dict[str, str]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    with open(path, "rb") as stdin:
        result = subprocess.run(cmd, stdin=stdin, capture_output=True, env=env, check=True)
    return time.perf_counter() - started, result.stdout.decode().splitlines()


if __name__ == "__main__":
    main()
