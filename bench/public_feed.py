"""The public feed: time to build one page of a post's comments, first and repeated reads.

    python bench/public_feed.py [--comments 200] [--rounds 20]

Builds a temporary SQLite database with one post of N approved comments (a third of them
replies, some with addresses and links in them), then times what GET /v1/posts/{id}/comments
does: read the approved rows, thread them, render the page, serialise, hash for the ETag. The first
read renders every text; later reads find the rendered texts in the cache (a poller's case).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation import publishing  # noqa: E402
from moderation.domain import Comment, Decision, Verdict  # noqa: E402
from moderation.rules import Facts  # noqa: E402
from moderation.store import PendingCheck, Store, make_engine, migrate  # noqa: E402

TEXTS = [
    "Great post, thanks for writing it up. The figures in the second table are off by one.",
    "I tried this at work: https://example.org/notes/setup?step=2 worked, the rest did not.",
    "Write to me at jean dot dupont at example dot com if you want the data.\n\nCheers!",
    "Merci pour cet article, très clair. Voir aussi www.example.fr/dossier pour le contexte.",
    "We met at the conference last year and talked about exactly this, see you there again.",
]


def fill(store: Store, n: int) -> int:
    site, _ = store.create_site("bench", "https://blog.example")
    now = datetime.now(UTC)

    def approve(_: Facts) -> Decision:
        return Decision(Verdict.APPROVE, 0.1, ())

    items = []
    for i in range(n):
        parent = f"c{i - 1 - i % 5}" if i % 3 == 2 else ""
        comment = Comment(
            content=f"{TEXTS[i % len(TEXTS)]} ({i})", author_name=f"Reader {i % 40}",
            author_email=f"reader{i % 40}@example.net", post_id="p", external_id=f"c{i}",
            parent_id=parent,
        )  # fmt: skip
        items.append(PendingCheck(site, comment, approve, "bench", now + timedelta(seconds=i)))
    for start in range(0, n, 500):
        store.check_and_save_many(items[start : start + 500])
    return site.id


def page(store: Store, site_id: int) -> bytes:
    rows = store.approved_comments(site_id, "p")
    built = publishing.feed_page(rows, salt=store.avatar_salt(site_id), limit=50)
    body = json.dumps(built.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    hashlib.sha256(body).hexdigest()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        store = Store(engine)
        site_id = fill(store, args.comments)
        started = time.perf_counter()
        body = page(store, site_id)
        first = time.perf_counter() - started
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            page(store, site_id)
            times.append(time.perf_counter() - started)
        times.sort()
        engine.dispose()
    print(f"post with {args.comments} approved comments, first page of 50 threads, "
          f"{len(body) / 1024:.1f} KiB")  # fmt: skip
    print(f"  first read (every text rendered): {first * 1000:8.1f} ms")
    print(f"  repeated read, median:            {times[len(times) // 2] * 1000:8.1f} ms")
    print(f"  repeated read, worst of {args.rounds}:       {times[-1] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
