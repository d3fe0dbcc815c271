"""SQLite's WAL checkpoints on a thread of their own, off the writer's commits.

By default the commit that takes the WAL past 1,000 pages copies them into the database and
syncs it, on the writer's thread, holding up the batch of checks waiting for that commit. A
checkpointer runs the same (PASSIVE) checkpoint every second or so instead: it never blocks
the writer, and SQLite does the copying and the sync with the GIL released, so they overlap
with the next batch. The WAL is still synced at each checkpoint, as before.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class Checkpointer:
    """A daemon thread checkpointing an SQLite engine's WAL every `seconds` until closed."""

    def __init__(self, engine: Engine, *, seconds: float = 1.0) -> None:
        self.engine = engine
        self.seconds = seconds
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moderation-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, WAL pages, pages copied into the database)."""
        # The driver's connection, in its autocommit mode: outside any transaction, which a
        # checkpoint needs (SQLAlchemy would begin one).
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            busy, pages, copied = cursor.fetchone() or (1, -1, -1)
            cursor.close()
        finally:
            conn.close()
        self.checkpoints += 1
        return int(busy), int(pages), int(copied)

    def close(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.seconds)
            try:
                self.checkpoint()
            except Exception:  # a failed checkpoint is retried at the next tick
                log.exception("checkpointing the SQLite WAL failed")
            if stopping:
                return
