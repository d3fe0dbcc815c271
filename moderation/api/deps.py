"""Dependencies the routers share: the store, the live model, the authenticated site, limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from moderation.batching import Writer
from moderation.client_ip import Network, client_ip
from moderation.live_model import LiveModel
from moderation.login_guard import ip_key
from moderation.ratelimit import Decision, Hit, Limiter, RateLimits
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


async def get_writer(request: Request) -> Writer:
    """The writer (process or thread) started by the app's lifespan."""
    writer: Writer = request.app.state.writer
    return writer


StoreDep = Annotated[Store, Depends(get_store)]
WriterDep = Annotated[Writer, Depends(get_writer)]
ModelDep = Annotated[LiveModel, Depends(get_model)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def authenticated_site(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Site:
    """The site whose API key came in `Authorization: Bearer`; 401 otherwise."""
    return await _site_for_key(store, credentials.credentials if credentials else None)


def bearer_key(request: Request) -> str | None:
    """The key of `Authorization: Bearer KEY`, or None: what `_bearer` finds, without the
    pydantic model it builds around it (a validation per request of the busiest route)."""
    scheme, key = get_authorization_scheme_param(request.headers.get("authorization"))
    return key if key and scheme.lower() == "bearer" else None


async def _site_for_key(store: Store, key: str | None) -> Site:
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send it as 'Authorization: Bearer KEY'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Dependencies declared `async` run on the event loop; the lookup itself is usually a
    # cache hit, and only a miss goes to the database, on a worker thread.
    cached = store.cached_site_for_key(key)
    site = await run_in_threadpool(store.site_for_key, key) if cached is False else cached
    if site is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return site


SiteDep = Annotated[Site, Depends(authenticated_site)]


@lru_cache(maxsize=4096)
def _address_key(peer: str | None, forwarded: tuple[str, ...], trusted: tuple[Network, ...]) -> str:
    # Parsing the addresses twice costs several µs; a blog posts from the same few addresses.
    return ip_key(client_ip(peer, forwarded, trusted))


def request_address_key(request: Request) -> str:
    """The key a client address is rate limited under (an IPv6 address by its /64)."""
    trusted: tuple[Network, ...] = getattr(request.app.state, "trusted_networks", ())
    peer = request.client.host if request.client else None
    # Without trusted proxies the header is never believed: not even read.
    forwarded = tuple(request.headers.getlist("x-forwarded-for")) if trusted else ()
    return _address_key(peer, forwarded, trusted)


_OVER = {"check-ip": "from this address", "check-site": "for this site key"}


class RateLimitedError(HTTPException):
    """429 with Retry-After: the request went over the limit `decision` names."""

    def __init__(self, decision: Decision) -> None:
        refused = decision.refused
        what = _OVER.get(refused.scope, refused.scope) if refused else ""
        limit = f" (the limit is {refused.rate.describe()})" if refused else ""
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many requests {what}{limit}: retry in {decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )


def _limits(request: Request) -> tuple[Limiter, RateLimits] | None:
    # Absent outside the lifespan (an app whose lifespan has not run limits nothing).
    limiter: Limiter | None = getattr(request.app.state, "rate_limiter", None)
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    return None if limiter is None or limits is None else (limiter, limits)


async def _enforce(limiter: Limiter, *hits: Hit) -> None:
    if any(hit.rate.enabled for hit in hits):
        decision = await limiter.hit(*hits)
        if not decision.allowed:
            raise RateLimitedError(decision)


async def check_limited(
    request: Request, authenticate: Callable[[], Awaitable[Site]], *, known: Site | None
) -> Site:
    """The site `authenticate` finds for a check, within the address's and the site's limits.

    `known` is the site when the key cache already tells it (no I/O): both limits then cost
    one call together. Otherwise the address is counted first, before the key is looked up,
    so that floods of wrong keys are limited too. 429 (RateLimitedError) over either limit.
    """
    found = _limits(request)
    if found is None:
        return await authenticate()
    limiter, limits = found
    if not (limits.check_per_ip.enabled or limits.check_per_key.enabled):
        # Both turned off: nothing is counted, so the address need not even be worked out.
        return known if known is not None else await authenticate()
    by_ip = Hit("check-ip", request_address_key(request), limits.check_per_ip)
    if known is not None:
        await _enforce(limiter, by_ip, Hit("check-site", str(known.id), limits.check_per_key))
        return known
    await _enforce(limiter, by_ip)
    site = await authenticate()
    await _enforce(limiter, Hit("check-site", str(site.id), limits.check_per_key))
    return site


# The check routes' security requirement, declared by the routes themselves (openapi_extra):
# `rate_limited_site` reads the key without Depends(_bearer), so FastAPI cannot infer it.
SITE_KEY_REQUIRED: dict[str, Any] = {"security": [{_bearer.scheme_name: []}]}


async def rate_limited_site(request: Request) -> Site:
    """The authenticated site of a check, within the address's and the site's rate limits.

    Called by the check route itself, and a dependency of the batch route: the store and the
    key are taken from the request here rather than as sub-dependencies, each of which costs
    FastAPI several µs to solve.
    """
    store: Store = request.app.state.store
    key = bearer_key(request)
    cached = store.cached_site_for_key(key) if key is not None else None
    return await check_limited(
        request,
        lambda: _site_for_key(store, key),
        known=cached if isinstance(cached, Site) else None,
    )


CheckSiteDep = Annotated[Site, Depends(rate_limited_site)]
