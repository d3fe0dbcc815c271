"""The service's SQLite WAL is checkpointed on a thread of its own, never by a writer's commit."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from moderation.app import create_app
from moderation.store import Store, make_engine, migrate
from moderation.store_wal import FORCE_PAGES, Checkpointer
from tests.conftest import make_settings


def names_in_database_file(path: Path, copy: Path) -> set[str]:
    """The site names the database file itself holds, leaving aside its WAL."""
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM sites")}
    finally:
        conn.close()


def write_pages(store: Store, sites: int, prefix: str = "site") -> None:
    for i in range(sites):
        store.create_site(f"{prefix}-{i}", url=f"https://blog{i}.example/" + "x" * 2000)


@contextmanager
def wal_store(path: Path, **options: Any) -> Iterator[Store]:
    """A store on a new SQLite database at `path` whose commits leave the checkpoints to a
    `Checkpointer` (`options`: more of `make_engine`'s), its engine disposed of at the end."""
    engine = make_engine(f"sqlite:///{path}", checkpoint_in_background=True, **options)
    migrate(engine)
    try:
        yield Store(engine)
    finally:
        engine.dispose()


# A WAL frame: a 24-byte header and a page (SQLAlchemy's SQLite databases keep 4096 bytes).
FRAME_BYTES = 24 + 4096


def wal_frames(path: Path) -> int:
    """How many frames the WAL file has room for: the most it has held since it was cut."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size // FRAME_BYTES if wal.exists() else 0


def test_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    with wal_store(tmp_path / "wal.db") as store:
        write_pages(store, 1200)  # past SQLite's own checkpoint threshold of 1,000 pages
        with closing(Checkpointer(store.engine, seconds=3600)) as checkpointer:
            busy, pages, copied = checkpointer.checkpoint()
            assert busy == 0
            assert pages > 1000  # no commit checkpointed on its own
            assert copied == pages


def test_the_checkpointer_runs_on_its_own_and_once_more_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with wal_store(path) as store:
        checkpointer = Checkpointer(store.engine, seconds=0.05)
        try:
            write_pages(store, 50)
            deadline = time.monotonic() + 10
            while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert checkpointer.checkpoints >= 2
            write_pages(store, 1, prefix="last")
            before = checkpointer.checkpoints
            checkpointer.close()
            assert checkpointer.checkpoints == before + 1
            assert "last-0" in names_in_database_file(path, tmp_path / "copy.db")
        finally:
            checkpointer.close()


def test_steady_writes_do_not_grow_the_wal_without_end(tmp_path: Path) -> None:
    # Under steady writes a passive checkpoint always leaves the frames committed while it
    # copied, and SQLite never rewinds such a WAL: it would hold every frame ever written,
    # at least one a commit.
    path = tmp_path / "wal.db"
    commits = 3000
    told: list[tuple[float, bool]] = []
    with wal_store(path) as store:
        checkpointer = Checkpointer(
            store.engine,
            seconds=0.02,
            write_lock=store.write_lock,
            restart_pages=50,
            force_pages=200,
            observe=lambda seconds, forced: told.append((seconds, forced)),
        )
        with closing(checkpointer):
            write_pages(store, commits)
        assert checkpointer.forced > 0
        # Each checkpoint is told, with its time and whether it held the writers' lock.
        assert len(told) == checkpointer.checkpoints
        assert sum(forced for _, forced in told) == checkpointer.forced
        assert all(seconds > 0 for seconds, _ in told)
        assert wal_frames(path) < commits
        assert "site-2999" in names_in_database_file(path, tmp_path / "copy.db")


def test_a_reader_in_the_wal_keeps_it_from_starting_over_but_holds_up_no_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    with wal_store(path) as store, closing(sqlite3.connect(path, isolation_level=None)) as reader:
        write_pages(store, 100)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sites").fetchone()  # a snapshot that needs the WAL
        write_pages(store, 100, prefix="later")
        checkpointer = Checkpointer(
            store.engine, seconds=3600, write_lock=store.write_lock, restart_pages=1
        )
        with closing(checkpointer):
            started = time.monotonic()
            _, pages, copied = checkpointer.checkpoint()
            # It copied what the reader allows and returned: it does not wait for the reader
            # (the connection's busy timeout is 10 seconds).
            assert time.monotonic() - started < 5
            assert 0 < copied < pages
            store.create_site("meanwhile")  # the writers' lock is free again
            assert wal_frames(path) > pages  # the WAL grew on: the reader is still in it
            reader.execute("COMMIT")
            _, pages, copied = checkpointer.checkpoint()
            assert copied == pages
            store.create_site("after")
            # The commit after the reader left wrote at the start of the WAL: its frames are
            # counted from there.
            _, pages, _ = checkpointer.checkpoint()
            assert pages < 50
            assert {"meanwhile", "after"} <= names_in_database_file(path, tmp_path / "copy.db")


def test_the_writers_lock_is_taken_only_for_a_wal_past_force_pages(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    with wal_store(path) as store:
        lock = store.write_lock
        assert lock is not None
        checkpointer = Checkpointer(
            store.engine, seconds=3600, write_lock=lock, restart_pages=1, force_pages=500
        )

        def checkpoint_while_a_writer_holds_the_lock() -> None:
            thread = threading.Thread(target=checkpointer.checkpoint, daemon=True)
            with lock.held():
                thread.start()
                # It never waits long for busy writers (a fraction of a second).
                thread.join(timeout=5)
                assert not thread.is_alive()

        with closing(checkpointer):
            write_pages(store, 50)  # under force_pages: the catch-up passes alone
            checkpoint_while_a_writer_holds_the_lock()
            assert checkpointer.forced == 0
            write_pages(store, 300, prefix="more")
            assert wal_frames(path) >= 500
            checkpoint_while_a_writer_holds_the_lock()  # it gave up on the lock
            assert checkpointer.forced == 0
            checkpointer.checkpoint()  # no writer in the way: it takes the lock
            assert checkpointer.forced == 1
            store.create_site("after")
            assert checkpointer.checkpoint()[1] < 50  # the WAL started over


def test_the_wal_file_is_cut_back_when_it_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    limit = 64 * FRAME_BYTES
    with wal_store(path, wal_size_limit=limit) as store:
        write_pages(store, 300)  # a burst, with no checkpoint
        assert wal_frames(path) > 300
        checkpointer = Checkpointer(
            store.engine, seconds=3600, write_lock=store.write_lock, restart_pages=1
        )
        with closing(checkpointer):
            checkpointer.checkpoint()
            store.create_site("after")  # the first commit of the new WAL cuts its file
            assert Path(f"{path}-wal").stat().st_size <= limit


def test_a_wal_that_starts_over_when_forced_is_not_cut_back(tmp_path: Path) -> None:
    # Cut back at every forced restart, the file would be grown again, block by block, by the
    # commits after it: the limit leaves room above the size that forces a restart.
    with wal_store(tmp_path / "wal.db") as store, store.engine.connect() as conn:
        limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar_one()
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    assert limit >= 2 * FORCE_PAGES * page


def test_the_service_checkpoints_sqlite_while_it_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    with TestClient(create_app(make_settings(tmp_path, url))):
        assert "moderation-checkpoint" in thread_names()
    assert "moderation-checkpoint" not in thread_names()


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}
