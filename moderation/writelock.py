"""A writers' queue for SQLite shared by the threads and processes of one host.

SQLite lets one writer in at a time; the others poll with growing sleeps (up to 100 ms)
while they wait, so several workers writing at once spend most of their time asleep. Taking an
exclusive `flock` on a file beside the database first makes them queue in the kernel instead,
each woken the moment the previous writer releases it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: SQLite's own busy wait remains
    fcntl = None  # type: ignore[assignment]


class WriteLock:
    """Mutual exclusion across this process's threads and every process using `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = -1

    def _descriptor(self) -> int:
        # A descriptor inherited across fork shares its lock with the parent: open anew.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the block."""
        with self._threads:
            if fcntl is None:
                yield
                return
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
