"""GET /metrics (Prometheus text) and the middleware that times every request by route."""

from __future__ import annotations

import hmac
from time import perf_counter
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moderation.api.deps import SettingsDep
from moderation.metrics import CONTENT_TYPE, UNMATCHED_ROUTE, Metrics, method_label

router = APIRouter(tags=["metrics"])
_bearer = HTTPBearer(auto_error=False, description="MODERATION_METRICS_TOKEN, when it is set.")


def get_metrics(request: Request) -> Metrics:
    """The app's metrics (set by create_app when metrics are enabled)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


def require_metrics_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Nothing without MODERATION_METRICS_TOKEN; with it, 401 unless it came as a Bearer."""
    if settings.metrics_token is None:
        return
    expected = settings.metrics_token.get_secret_value().encode()
    given = (credentials.credentials if credentials is not None else "").encode()
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send the metrics token as 'Authorization: Bearer TOKEN'",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(require_metrics_token)],
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        401: {"description": "MODERATION_METRICS_TOKEN is set and was not sent."},
    },
    # The token is optional (only when MODERATION_METRICS_TOKEN is set): `{}` in the list of
    # security requirements says the route also answers without one.
    openapi_extra={"security": [{}]},
)
def metrics_text(metrics: Annotated[Metrics, Depends(get_metrics)]) -> Response:
    """Every metric in the Prometheus text format; the queue sizes are counted now."""
    # A plain `def`: FastAPI runs it on a worker thread, off the event loop, with its query.
    return Response(content=metrics.render(), media_type=CONTENT_TYPE)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/v1/comments/{comment_id}`), never the path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by method, route template, status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        # An exception escaping the app becomes a 500 further out.
        answered = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.observe_request(
                method_label(scope["method"]),
                route_template(scope),
                answered,
                perf_counter() - start,
            )
