"""create_app(settings) -> FastAPI: the one place the service is assembled."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from moderation import __version__
from moderation.api import (
    admin,
    akismet,
    authors,
    check,
    embed,
    errors,
    health,
    metrics,
    model_admin,
    public,
    queue,
    rescore,
)
from moderation.api.limits import BodySizeLimit
from moderation.api.routing import include
from moderation.batching import BatchWriter, Writer
from moderation.client_ip import parse_networks
from moderation.live_model import LiveModel
from moderation.login_guard import LoginLimits
from moderation.metrics import Metrics
from moderation.ratelimit import Limiter, MemoryLimiter, Rate, RateLimits
from moderation.settings import Settings
from moderation.store import ConflictError, Store, engine_for, migrate
from moderation.store_accounts import Accounts
from moderation.store_login import LoginFailures
from moderation.store_metrics import queue_sizes
from moderation.store_queue import QueueStore
from moderation.store_wal import Checkpointer
from moderation.web import pages
from moderation.web.security import SecurityHeaders, docs_headers
from moderation.webhook_sender import WebhookSender
from moderation.writer_process import WriterProcess

log = logging.getLogger(__name__)
FIRST_SITE_NAME = "default"


def open_store(settings: Settings, *, checkpoint_in_background: bool = False) -> Store:
    """An engine on the configured database, migrated when the settings say so.

    `checkpoint_in_background` (the service, which runs a `Checkpointer` on SQLite): SQLite's
    commits leave the WAL's checkpoints to that thread; other databases ignore it.
    """
    engine = engine_for(settings, checkpoint_in_background=checkpoint_in_background)
    if settings.migrate_on_start:
        migrate(engine)
    return Store(engine)


def wants_writer_process(settings: Settings, cores: int) -> bool:
    """Whether each worker gets a writer process: as configured, else when the machine has two
    cores per worker (a worker and its writer are two busy processes; with fewer cores they
    only take turns, at the cost of sending every check across)."""
    if settings.writer_process is not None:
        return settings.writer_process
    return cores >= 2 * settings.workers


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


def open_limiter(settings: Settings) -> Limiter:
    """The rate limiter: in Redis when a URL is configured (shared), else in this process."""
    if settings.redis_url is not None:
        # Imported only when configured: the redis client adds to every start otherwise.
        from moderation.ratelimit_redis import RedisLimiter

        return RedisLimiter(settings.redis_url.get_secret_value())
    return MemoryLimiter(max_keys=settings.ratelimit_max_keys)


def rate_limits(settings: Settings) -> RateLimits:
    """The rate limits the settings ask for (a 0 turns one off)."""
    return RateLimits(
        check_per_key=Rate(
            settings.ratelimit_check_key_per_second, settings.ratelimit_check_key_burst
        ),
        check_per_ip=Rate(
            settings.ratelimit_check_ip_per_second, settings.ratelimit_check_ip_burst
        ),
        login_per_ip=Rate.per_minute(
            settings.ratelimit_login_ip_per_minute, burst=settings.ratelimit_login_ip_burst
        ),
    )


def reload_on_sighup(model: LiveModel) -> Callable[[], None]:
    """Make SIGHUP to this process check the CURRENT pointer now; returns the undo.

    Only from the main thread of a running loop (uvicorn's worker); elsewhere (a test client's
    thread) nothing is installed. With several workers, uvicorn's supervisor takes SIGHUP to
    its own process as "restart the workers", which loads the current model too.
    """
    sighup = getattr(signal, "SIGHUP", None)
    if sighup is None:
        return lambda: None
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(sighup, model.request_reload)
    except (RuntimeError, ValueError, NotImplementedError):
        return lambda: None

    def undo() -> None:
        loop.remove_signal_handler(sighup)

    return undo


_frozen = threading.Event()
# Container objects allocated and not freed that start a young collection (Python's: 700).
_YOUNG_COLLECTION_EVERY = 20_000


def freeze_what_is_loaded() -> None:
    """Collect once, then keep what is loaded out of the collector's sight; once per process."""
    # What is loaded by a process's first start (modules, the model) lives as long as the
    # process: out of the collector's sight, a full collection walks only what requests
    # allocate instead of pausing every thread over the ~170,000 objects of the libraries
    # (40-90 ms here). Garbage is collected first, or it would be kept for good. Once per
    # process: a server starts once, and tests that start many apps need not pay each time.
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()
        # A check waits for its writer with its request's objects alive, so with 32 checks in
        # flight the default threshold (700 objects) started a young collection every ten
        # requests, an older one every hundred: 20 µs a check, 8% of the serving process.
        # Requests free what they allocate (the check path leaves no garbage cycles), so the
        # count grows only with what stays alive: under load no collection runs at all, and
        # cycles left by other paths are collected once 20,000 objects have piled up.
        gc.set_threshold(_YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for these settings (read from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings, checkpoint_in_background=True)
        counted: Metrics | None = app.state.metrics
        checkpointer = (
            Checkpointer(
                store.engine,
                write_lock=store.write_lock,
                observe=counted.observe_checkpoint if counted is not None else None,
            )
            if store.dialect == "sqlite"
            else None
        )
        key = ensure_first_site(store, settings)
        if key:
            announce_key(key)
        app.state.store = store
        app.state.accounts = Accounts(store)
        app.state.login_failures = LoginFailures(store)
        # Opened here, on the serving loop: Redis's asyncio connections belong to one loop.
        limiter = app.state.rate_limiter = open_limiter(settings)
        app.state.queue = QueueStore(store)
        # Each lifespan closes what it opened (not what app.state holds at the end): an app
        # started twice must not leave the first start's threads running.
        model = app.state.model = LiveModel(
            settings.models_dir,
            check_every=settings.model_check_seconds,
            on_change=counted.model_live if counted is not None else None,
        )
        if counted is not None:
            counted.watch_queue(lambda: queue_sizes(store))
        observe = counted.observe_batch if counted is not None else None
        writer: Writer = (
            await WriterProcess.start(settings, store, model.get, observe=observe)
            if wants_writer_process(settings, len(os.sched_getaffinity(0)))
            else BatchWriter(store, model.get, observe=observe)
        )
        app.state.writer = writer
        sender = app.state.webhook_sender = (
            WebhookSender(
                store,
                poll_seconds=settings.webhook_poll_seconds,
                timeout_seconds=settings.webhook_timeout_seconds,
            )
            if settings.webhooks_enabled
            else None
        )
        log.info("serving with model %s", model.current.version)
        undo_sighup = reload_on_sighup(model)
        freeze_what_is_loaded()
        try:
            yield
        finally:
            undo_sighup()
            if sender is not None:
                sender.close()
            await writer.aclose()
            if checkpointer is not None:
                checkpointer.close()
            model.close()
            if counted is not None:
                counted.watch_queue(None)
                counted.close()
            await limiter.close()
            store.engine.dispose()

    app = FastAPI(
        title="Moderation",
        version=__version__,
        summary="Comment moderation and spam filtering for blogs.",
        lifespan=lifespan,
        # Swagger UI at /docs is enough; ReDoc needs inline styles, which the CSP refuses.
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.trusted_networks = parse_networks(settings.trusted_proxies)
    app.state.login_limits = LoginLimits(
        window=timedelta(minutes=settings.login_window_minutes),
        name_failures=settings.login_name_failures,
        ip_failures=settings.login_ip_failures,
        max_lockout=timedelta(minutes=settings.login_max_lockout_minutes),
    )
    app.state.rate_limits = rate_limits(settings)
    app.state.metrics = Metrics() if settings.metrics_enabled else None
    errors.install(app)
    include(app, check.router)
    include(app, rescore.router)
    include(app, health.router)
    include(app, akismet.router)
    include(app, public.router)
    include(app, authors.router)
    include(app, embed.router)
    include(app, queue.router)
    pages.install(app)
    include(app, model_admin.router)
    include(app, admin.router)
    if app.state.metrics is not None:
        include(app, metrics.router)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        limits=dict.fromkeys(akismet.PATH_PREFIXES, settings.akismet_max_body_bytes)
        | {rescore.PATH: settings.batch_max_body_bytes},
    )
    # Outside the body limit, so that its 413s carry the headers too.
    docs = docs_headers(
        title=f"{app.title} - Swagger UI",
        openapi_url=app.openapi_url or "",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
    )
    app.add_middleware(SecurityHeaders, paths={app.docs_url or "/docs": docs})
    if app.state.metrics is not None:
        # Added last, so outermost: it times the whole answer, refusals included.
        app.add_middleware(metrics.RequestMetrics, metrics=app.state.metrics)
    return app


def factory() -> FastAPI:
    """Entry point for `uvicorn --factory moderation.app:factory` (settings from environment)."""
    return create_app()
