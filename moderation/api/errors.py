"""Map faults to HTTP answers in one place: clear 4xx for bad input, 503 when storage fails."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from moderation.policy import PolicyError
from moderation.store import ConflictError, NotFoundError, StoreError

log = logging.getLogger(__name__)


def _loc(error: dict[str, Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The default handler echoes the offending input back; input holding a lone surrogate
    # cannot be encoded as JSON, so the detail names the field and the problem only.
    out = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value"))
        out.append(
            {
                "loc": _loc(error),
                "field": ".".join(str(p) for p in _loc(error)[1:]) or None,
                "msg": message.encode("utf-8", "replace").decode("utf-8"),
                "type": str(error.get("type", "value_error")),
            }
        )
    return out


def install(app: FastAPI) -> None:
    """Register the exception handlers."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_detail(exc)})

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(PolicyError)
    async def _policy(request: Request, exc: PolicyError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error("storage failure on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"detail": "storage is unavailable; nothing was saved, retry later"},
            headers={"Retry-After": "5"},
        )
