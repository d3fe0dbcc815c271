"""POST /v1/admin/model/reload: make the version the CURRENT pointer names live now (admins)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from moderation.api.deps import ModelDep
from moderation.api.moderator_auth import AdminDep
from moderation.artifacts import ArtifactError

router = APIRouter(
    prefix="/v1/admin/model",
    tags=["admin"],
    responses={
        401: {"description": "No valid moderator token."},
        403: {"description": "The moderator is not an admin."},
    },
)


class ReloadOut(BaseModel):
    """The live version after the reload, the one before, and whether it changed."""

    version: str
    previous: str
    changed: bool


@router.post(
    "/reload",
    response_model=ReloadOut,
    responses={409: {"description": "The pointer names a version that cannot be loaded."}},
)
async def reload_model(admin: AdminDep, model: ModelDep) -> ReloadOut:
    """Load the version CURRENT names if it is not live; 409 (old model kept) when it fails.

    Only the worker process that answers reloads at once; the others notice the pointer within
    2 seconds.
    """
    try:
        result = await run_in_threadpool(model.reload)
    except ArtifactError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"model {model.current.version} stays live: {exc}",
        ) from exc
    return ReloadOut(version=result.version, previous=result.previous, changed=result.changed)
