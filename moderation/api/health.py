"""GET /healthz: whether the database answers and which model is live."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from moderation.api.deps import ModelDep, StoreDep
from moderation.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz(store: StoreDep, model: ModelDep, request: Request, response: Response) -> HealthOut:
    """200 when the database answers, 503 when it does not; names the live model version and
    where checks are scored and stored."""
    database = store.ping()
    if not database:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if database else "degraded",
        database=database,
        model_version=model.get().version,
        writer=request.app.state.writer.state,
    )
