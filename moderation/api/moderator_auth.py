"""Dependencies of the moderator endpoints: the accounts, the moderator a token names, admins."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from moderation.store import KEY_PREFIX, PUBLIC_TOKEN_PREFIX
from moderation.store_accounts import TOKEN_PREFIX, Accounts, Moderator

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ModeratorToken",
    description="A moderator's API token (mt_...), made with `moderation moderators token NAME`.",
)
# Akismet-shaped site keys: 12 lowercase hex characters.
_AKISMET_KEY = re.compile(r"[0-9a-f]{12}")


async def get_accounts(request: Request) -> Accounts:
    """The moderator accounts opened by the app's lifespan."""
    accounts: Accounts = request.app.state.accounts
    return accounts


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def _is_site_key(value: str) -> bool:
    return value.startswith((KEY_PREFIX, PUBLIC_TOKEN_PREFIX)) or bool(
        _AKISMET_KEY.fullmatch(value)
    )


async def current_moderator(
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Moderator:
    """The moderator whose token came in `Authorization: Bearer`; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing moderator token: send it as 'Authorization: Bearer mt_...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    if not token.startswith(TOKEN_PREFIX) and _is_site_key(token):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "moderator endpoints need a moderator token (mt_...), not a site key: make one "
            "with 'moderation moderators token NAME'",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    # Grants are read on every request, so a revoked grant takes effect at once everywhere;
    # the lookup goes to the database, on a worker thread.
    moderator = await run_in_threadpool(accounts.moderator_for_token, token)
    if moderator is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked moderator token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return moderator


ModeratorDep = Annotated[Moderator, Depends(current_moderator)]


async def current_admin(moderator: ModeratorDep) -> Moderator:
    """The moderator of the token when they are an admin; 403 otherwise."""
    if not moderator.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin only")
    return moderator


AdminDep = Annotated[Moderator, Depends(current_admin)]
