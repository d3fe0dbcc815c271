"""Dependencies the routers share: the store, the live model, the authenticated site."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from moderation.live_model import LiveModel
from moderation.settings import Settings
from moderation.store import Site, Store

_bearer = HTTPBearer(auto_error=False, description="The site's API key.")


def get_store(request: Request) -> Store:
    """The store opened by the app's lifespan."""
    store: Store = request.app.state.store
    return store


def get_model(request: Request) -> LiveModel:
    """The live model loaded by the app's lifespan."""
    model: LiveModel = request.app.state.model
    return model


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
ModelDep = Annotated[LiveModel, Depends(get_model)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def authenticated_site(
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
    site = store.site_for_key(credentials.credentials)
    if site is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return site


SiteDep = Annotated[Site, Depends(authenticated_site)]
