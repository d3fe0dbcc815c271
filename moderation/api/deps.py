"""Dependencies the routers share: the store, the live model, the authenticated site."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from moderation.batching import BatchWriter
from moderation.live_model import LiveModel
from moderation.settings import Settings
from moderation.store import Site, Store

_bearer = HTTPBearer(auto_error=False, description="The site's API key.")


async def get_store(request: Request) -> Store:
    """The store opened by the app's lifespan."""
    store: Store = request.app.state.store
    return store


async def get_model(request: Request) -> LiveModel:
    """The live model loaded by the app's lifespan."""
    model: LiveModel = request.app.state.model
    return model


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_writer(request: Request) -> BatchWriter:
    """The batch writer started by the app's lifespan."""
    writer: BatchWriter = request.app.state.writer
    return writer


StoreDep = Annotated[Store, Depends(get_store)]
WriterDep = Annotated[BatchWriter, Depends(get_writer)]
ModelDep = Annotated[LiveModel, Depends(get_model)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def authenticated_site(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Site:
    """The site whose API key came in `Authorization: Bearer`; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it as 'Authorization: Bearer KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Dependencies declared `async` run on the event loop; the lookup itself is usually a
    # cache hit, and only a miss goes to the database, on a worker thread.
    cached = store.cached_site_for_key(credentials.credentials)
    if cached is False:
        site = await run_in_threadpool(store.site_for_key, credentials.credentials)
    else:
        site = cached
    if site is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return site


SiteDep = Annotated[Site, Depends(authenticated_site)]
