"""The writers' queue: held by one thread or process at a time; a caller that must not queue
behind busy writers can give up after a while."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from moderation.writelock import WriteLock


def test_the_lock_is_had_within_a_timeout_when_no_one_holds_it(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "db.writelock")
    with lock.held_within(1.0) as locked:
        assert locked
        # Held: another process's descriptor cannot take it.
        fd = os.open(tmp_path / "db.writelock", os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken = True
            except BlockingIOError:
                taken = False
            assert not taken
        finally:
            os.close(fd)
    with lock.held():  # and given back
        pass


def test_a_lock_another_process_holds_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "db.writelock")
    fd = os.open(tmp_path / "db.writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a writer in another process
    try:
        started = time.monotonic()
        with lock.held_within(0.05) as locked:
            assert not locked
        assert time.monotonic() - started < 5
    finally:
        os.close(fd)
    with lock.held_within(0.05) as locked:
        assert locked


def test_a_lock_another_thread_holds_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "db.writelock")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with lock.held():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        with lock.held_within(0.05) as locked:
            assert not locked
    finally:
        release.set()
        thread.join()
    with lock.held_within(0.05) as locked:
        assert locked
