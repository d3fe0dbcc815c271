"""create_app(settings) -> FastAPI: the one place the service is assembled."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from moderation import __version__
from moderation.api import akismet, authors, check, embed, errors, health, public
from moderation.api.limits import BodySizeLimit
from moderation.batching import BatchWriter
from moderation.live_model import LiveModel
from moderation.settings import Settings
from moderation.store import ConflictError, Store, make_engine, migrate

log = logging.getLogger(__name__)
FIRST_SITE_NAME = "default"


def open_store(settings: Settings) -> Store:
    """An engine on the configured database, migrated when the settings say so."""
    engine = make_engine(
        settings.database_url_value,
        synchronous=settings.sqlite_synchronous,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
    if settings.migrate_on_start:
        migrate(engine)
    return Store(engine)


def ensure_first_site(store: Store, settings: Settings) -> str | None:
    """With no site at all, create one and return its key (to be shown once); else None."""
    if not settings.create_first_site or store.count_sites() > 0:
        return None
    try:
        _, key = store.create_site(FIRST_SITE_NAME, f"http://{settings.host}:{settings.port}")
    except ConflictError:
        return None  # another worker created it first, and showed the key
    return key


def announce_key(key: str) -> None:
    """Print a new site's key once, where the operator starting the service sees it."""
    print(
        "\n"
        f"  Created the site {FIRST_SITE_NAME!r}. Its API key, shown only this once:\n\n"
        f"      {key}\n\n"
        "  Send it as 'Authorization: Bearer KEY'. Another key: moderation sites key default\n",
        file=sys.stderr,
        flush=True,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for these settings (read from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        key = ensure_first_site(store, settings)
        if key:
            announce_key(key)
        app.state.store = store
        app.state.model = LiveModel(settings.models_dir)
        app.state.writer = BatchWriter(store)
        log.info("serving with model %s", app.state.model.current.version)
        try:
            yield
        finally:
            app.state.writer.close()
            app.state.model.close()
            store.engine.dispose()

    app = FastAPI(
        title="Moderation",
        version=__version__,
        summary="Comment moderation and spam filtering for blogs.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(check.router)
    app.include_router(health.router)
    app.include_router(akismet.router)
    app.include_router(public.router)
    app.include_router(authors.router)
    app.include_router(embed.router)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        limits=dict.fromkeys(akismet.PATH_PREFIXES, settings.akismet_max_body_bytes),
    )
    return app


def factory() -> FastAPI:
    """Entry point for `uvicorn --factory moderation.app:factory` (settings from environment)."""
    return create_app()
