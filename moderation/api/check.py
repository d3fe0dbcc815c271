"""POST /v1/comments/check and GET /v1/comments/{id}: score a comment, read its status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from moderation import checking
from moderation.api.deps import ModelDep, SiteDep, StoreDep, WriterDep
from moderation.api.schemas import CheckOut, CommentIn, CommentStatusOut, check_body
from moderation.domain import Decision
from moderation.rules import Facts
from moderation.store import PendingCheck

router = APIRouter(prefix="/v1/comments", tags=["comments"])


@router.post(
    "/check",
    response_model=CheckOut,
    responses={
        200: {"description": "A retry of a known external_id: the stored decision."},
        401: {"description": "Missing or invalid API key."},
        413: {"description": "Body over the size limit."},
        422: {"description": "Invalid comment; the detail names the field."},
    },
    status_code=status.HTTP_201_CREATED,
)
async def check_comment(
    body: CommentIn, site: SiteDep, writer: WriterDep, model: ModelDep
) -> Response:
    """Decide on a comment and store it with its decision before answering."""
    now = datetime.now(UTC)
    comment = body.to_domain(now)
    live = model.get()
    # Scoring is a fraction of a millisecond of CPU that needs no database: it runs here, on
    # the event loop (a worker thread would only add a hand-off under the same GIL), before
    # the write transaction.
    score = live.classifier.score(checking.text_input(comment))

    def decide(facts: Facts) -> Decision:
        return checking.judge(comment, site.policy, facts, score)

    stored = await writer.submit(PendingCheck(site, comment, decide, live.version, now))
    # The body is built here from the stored decision: validating it again against
    # CheckOut (which documents it) would cost as much as scoring.
    return Response(
        content=json.dumps(check_body(stored.id, stored.decision, stored.model_version)),
        status_code=status.HTTP_200_OK if stored.replayed else status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"/v1/comments/{stored.id}"},
    )


@router.get("/{comment_id}", response_model=CommentStatusOut)
def comment_status(comment_id: str, site: SiteDep, store: StoreDep) -> CommentStatusOut:
    """The current status of a comment this site submitted."""
    row = store.get_comment(site.id, comment_id)
    out = CheckOut(
        id=row["id"],
        verdict=row["verdict"],
        spam_probability=row["spam_probability"],
        reasons=row["reasons"],
        discard=row["discard"],
        model_version=row["model_version"],
        evidence=row["evidence"],
    )
    return CommentStatusOut(**out.model_dump(), status=row["status"], created_at=row["created_at"])
