"""POST /v1/comments/check and GET /v1/comments/{id}: score a comment, read its status."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from moderation import checking
from moderation.api.deps import ModelDep, SiteDep, StoreDep
from moderation.api.schemas import CheckOut, CommentIn, CommentStatusOut
from moderation.domain import Decision
from moderation.rules import Facts

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
def check_comment(
    body: CommentIn, site: SiteDep, store: StoreDep, model: ModelDep, response: Response
) -> CheckOut:
    """Decide on a comment and store it with its decision before answering."""
    now = datetime.now(UTC)
    comment = body.to_domain(now)
    live = model.get()
    # Scoring is CPU work that needs no database: it runs before the write transaction.
    score = live.classifier.score(checking.text_input(comment))

    def decide(facts: Facts) -> Decision:
        return checking.judge(comment, site.policy, facts, score)

    stored = store.check_and_save(site, comment, decide, model_version=live.version, now=now)
    if stored.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/comments/{stored.id}"
    return CheckOut.build(stored.id, stored.decision, stored.model_version)


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
