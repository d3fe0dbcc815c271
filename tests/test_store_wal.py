"""The service's SQLite WAL is checkpointed on a thread of its own, never by a writer's commit."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from moderation.app import create_app
from moderation.store import Store, make_engine, migrate
from moderation.store_wal import Checkpointer
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


def test_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}", checkpoint_in_background=True)
    migrate(engine)
    store = Store(engine)
    write_pages(store, 1200)  # past SQLite's own checkpoint threshold of 1,000 pages
    try:
        checkpointer = Checkpointer(engine, seconds=3600)
        busy, pages, copied = checkpointer.checkpoint()
        assert busy == 0
        assert pages > 1000  # no commit checkpointed on its own
        assert copied == pages
        checkpointer.close()
    finally:
        engine.dispose()


def test_the_checkpointer_runs_on_its_own_and_once_more_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}", checkpoint_in_background=True)
    migrate(engine)
    store = Store(engine)
    checkpointer = Checkpointer(engine, seconds=0.05)
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
        engine.dispose()


def test_the_service_checkpoints_sqlite_while_it_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    with TestClient(create_app(make_settings(tmp_path, url))):
        assert "moderation-checkpoint" in thread_names()
    assert "moderation-checkpoint" not in thread_names()


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}
