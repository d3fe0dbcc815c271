"""Fixtures: a fresh app on a temporary SQLite database or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from moderation import artifacts, passwords
from moderation.app import create_app
from moderation.settings import Settings
from moderation.store import Store, make_engine, migrate

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "MODERATION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: skip, saying why
        return f"no PostgreSQL at {PG_ADMIN_URL}: {exc.__class__.__name__}"
    return None


_PG_PROBLEM = _pg_available()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    if _PG_PROBLEM:
        pytest.skip(_PG_PROBLEM)
    name = f"moderation_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'moderation.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each database, with no site yet (modules may define their own)."""
    engine = make_engine(database_url)
    migrate(engine)
    yield Store(engine)
    engine.dispose()


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a test: temporary data folder, the shipped models, no environment."""
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "models_dir": MODELS_DIR,
        "create_first_site": False,
        # The writer's child process costs each app a second or two to start; the tests that
        # are about it (test_writer_process, the served instances) turn it back on.
        "writer_process": False,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session", autouse=True)
def _shipped_model_loaded_once() -> Iterator[None]:
    """Every app built in this process shares one load of the shipped model (1-2 s each).

    Only versions under the repository's models/ folder are shared, and only while their
    files are unchanged; a test's own models folder (a tampered copy, say) loads as usual.
    """
    real_load = artifacts.load
    loaded: dict[tuple[Path, int, int], artifacts.LoadedModel] = {}

    def load(model_dir: Path) -> artifacts.LoadedModel:
        model_dir = Path(model_dir).resolve()
        if not model_dir.is_relative_to(MODELS_DIR.resolve()):
            return real_load(model_dir)
        stat = (model_dir / artifacts.MODEL_FILE).stat()
        key = (model_dir, stat.st_mtime_ns, stat.st_size)
        if key not in loaded:
            loaded[key] = real_load(model_dir)
        return loaded[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(artifacts, "load", load)
        yield


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process tests hash passwords with tiny Argon2 parameters (64 MiB and ~0.3 s each is
    the production cost); tests marked `real_password_hash` keep the real ones."""
    if request.node.get_closest_marker("real_password_hash") is None:
        monkeypatch.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )


@dataclass
class Service:
    """A running app in-process, with a site and its key."""

    client: TestClient
    store: Store
    key: str
    settings: Settings

    @property
    def auth(self) -> dict[str, str]:
        """The headers that authenticate as the test site."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Service]:
    """The app on a fresh database, with one site 'blog' whose key is returned."""
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings)
    with TestClient(app) as client:
        store: Store = app.state.store
        _, key = store.create_site("blog", "https://blog.example")
        yield Service(client=client, store=store, key=key, settings=settings)
