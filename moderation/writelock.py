"""A writers' queue for SQLite shared by the threads and processes of one host.

SQLite lets one writer in at a time; the others poll with growing sleeps (up to 100 ms)
while they wait, so several workers writing at once spend most of their time asleep. Taking an
exclusive `flock` on a file beside the database first makes them queue in the kernel instead,
each woken the moment the previous writer releases it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: SQLite's own busy wait remains
    fcntl = None  # type: ignore[assignment]


# How often `held_within` tries for the file lock: a writer's transaction takes a few ms.
_POLL_SECONDS = 0.0005


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

    def _file_lock_by(self, deadline: float) -> bool:
        """Take the file lock, trying until `deadline` (`time.monotonic()`): whether it was had.
        Where there is no `flock` there is none to take."""
        if fcntl is None:
            return True
        fd = self._descriptor()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
            time.sleep(_POLL_SECONDS)

    @contextmanager
    def held_within(self, timeout: float) -> Iterator[bool]:
        """The lock for the duration of the block if it can be had within `timeout` seconds:
        the block is told whether it holds it (True), or runs without it (False).

        For a caller that must not queue behind busy writers: a thread that takes the lock
        again and again can keep a waiting thread of its own process from ever getting it,
        and a process waiting in `flock` would wait for as long as the writers keep it.
        """
        deadline = time.monotonic() + timeout
        locked = self._threads.acquire(timeout=timeout)
        if locked and not self._file_lock_by(deadline):
            self._threads.release()
            locked = False
        try:
            yield locked
        finally:
            if locked:
                if fcntl is not None:
                    fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
                self._threads.release()
