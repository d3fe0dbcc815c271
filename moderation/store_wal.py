"""SQLite's WAL checkpoints on a thread of their own, off the writer's commits.

By default the commit that takes the WAL past 1,000 pages copies them into the database and
syncs it, on the writer's thread, holding up the batch of checks waiting for that commit. A
checkpointer runs the same (PASSIVE) checkpoint four times a second instead: it never blocks
the writer, and SQLite does the copying and the sync with the GIL released, so they overlap
with the next batch. The WAL is still synced at each checkpoint, as before.

Four times a second rather than once: a check writes about nine pages (the comment's row and
its index entries, each on a page of its own), so at half the check endpoint's peak a second's
WAL held over 20,000 pages. Copying them took a pass of 47-66 ms that competed with the writer
for the two cores, and the batch under way then took 9-23 ms instead of about one: the slowest
answers. Passes of a quarter of that spread the same work out.

SQLite starts the WAL over only when a writer finds every frame of it copied. Under steady
load a passive checkpoint never gets there: frames are committed while it copies. The WAL
then grows without end (about 2 GB a minute at the check endpoint's peak here), and
every commit appends to new blocks of the file, which the kernel allocates and zeroes. So once
the WAL holds `restart_pages` or more, the checkpointer copies again what was committed
during the previous pass, a few times, each pass shorter than the one before. The last one
takes about a millisecond: if no commit came meanwhile, the next commit finds the WAL copied
and writes from the start of the file again. Under heavier load that is a matter of chance;
once the WAL holds `force_pages` (64 MiB of 4 KiB pages), the last pass is made holding the
writers' lock, so that no commit can come in between: the writers wait a few milliseconds. If
busy writers keep the lock from it for a tenth of a second, it tries again at the next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from moderation.writelock import WriteLock

log = logging.getLogger(__name__)

# Passes after the first: each copies what was committed during the one before.
_CATCH_UP_PASSES = 3
_CAUGHT_UP_PAGES = 100  # no further pass is needed for fewer new frames than this
# How long the checkpointer waits for the writers' lock before it gives up till its next tick.
_LOCK_WAIT_SECONDS = 0.1
# The WAL's size (4 KiB pages) from which the last pass holds the writers' lock: 64 MiB.
FORCE_PAGES = 16_384
# What SQLite cuts the WAL file back to when the WAL starts over (its journal_size_limit):
# four times the size that forces a restart. A WAL that starts over below it is written over
# in place; with the limit at 64 MiB, a WAL that passed it at each tick (as it did at half the
# peak) was cut back by the next commit, an ftruncate of about 5 ms inside a batch, then grown
# again block by block, each block allocated and zeroed by the kernel.
WAL_SIZE_LIMIT = 4 * FORCE_PAGES * 4096


class Checkpointer:
    """A daemon thread checkpointing an SQLite engine's WAL every `seconds` until closed.

    `write_lock`: the lock the engine's writers take before they begin (`Store`'s), held for
    the last pass once the WAL holds `force_pages`, when it can be had within a tenth of a
    second; without it, the WAL starts over only when no commit races with the last pass.
    `observe`, if given, is told of each checkpoint the thread makes: its seconds, and whether
    its last pass held the writers' lock.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        seconds: float = 0.25,
        write_lock: WriteLock | None = None,
        restart_pages: int = 1000,
        force_pages: int = FORCE_PAGES,
        observe: Callable[[float, bool], None] | None = None,
    ) -> None:
        self.engine = engine
        self.observe = observe
        self.seconds = seconds
        self.write_lock = write_lock
        self.restart_pages = restart_pages
        self.force_pages = force_pages
        self.checkpoints = 0
        self.forced = 0  # the checkpoints whose last pass held the writers' lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moderation-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """A PASSIVE checkpoint and, if the WAL holds `restart_pages` or more, the passes that
        let it start over: (busy, WAL pages, pages copied into the database) of the last."""
        # The driver's connection, in its autocommit mode: outside any transaction, which a
        # checkpoint needs (SQLAlchemy would begin one).
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()

            def passive() -> tuple[int, int, int]:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                busy, pages, copied = cursor.fetchone() or (1, -1, -1)
                return int(busy), int(pages), int(copied)

            result = passive()
            wal_pages = result[1]
            if wal_pages >= self.restart_pages:
                for _ in range(_CATCH_UP_PASSES):
                    pages = result[1]
                    result = passive()
                    if result[1] - pages < _CAUGHT_UP_PAGES:
                        break
            if wal_pages >= self.force_pages and self.write_lock is not None:
                # No commit can come between this pass and the next writer's: that writer
                # finds every frame copied (unless a reader still reads some) and rewinds.
                # Busy writers may keep the lock from it: it tries again at the next tick.
                with self.write_lock.held_within(_LOCK_WAIT_SECONDS) as locked:
                    if locked:
                        result = passive()
                        self.forced += 1
            cursor.close()
        finally:
            conn.close()
        self.checkpoints += 1
        return result

    def close(self) -> None:
        """Stop the thread after a last checkpoint."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.seconds)
            started, forced = time.perf_counter(), self.forced
            try:
                self.checkpoint()
                if self.observe is not None:
                    self.observe(time.perf_counter() - started, self.forced > forced)
            except Exception:  # a failed checkpoint is retried at the next tick
                log.exception("checkpointing the SQLite WAL (or counting it) failed")
            if stopping:
                return
