"""POST /v1/comments/score: re-check a backlog of comments with the site's policy, storing none."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from moderation import backlog
from moderation.api.deps import SITE_KEY_REQUIRED, CheckSiteDep, ModelDep
from moderation.api.schemas import EvidenceOut, ReasonOut, decision_body
from moderation.rules import Facts

MAX_COMMENTS = 1000
PATH = "/v1/comments/score"

router = APIRouter(prefix="/v1/comments", tags=["comments"])


class ScoreIn(BaseModel):
    """A batch of comments to re-check."""

    model_config = ConfigDict(extra="forbid")

    # Objects, not CommentIn: each is validated on its own, so one bad comment gets its own
    # error in the answer instead of a 422 for the whole batch.
    comments: list[dict[str, Any]] = Field(
        max_length=MAX_COMMENTS,
        description=f"Up to {MAX_COMMENTS:,} comments, each with the fields of "
        "POST /v1/comments/check (CommentIn).",
    )


class ScoredOut(BaseModel):
    """The decision on one comment of the batch."""

    index: int = Field(description="The comment's position in the request, from 0.")
    external_id: str | None = Field(description="The blog's own id, as sent (null if none).")
    verdict: str = Field(description="approve, hold, spam or reject")
    spam_probability: float
    discard: bool = Field(description="Blatant spam that the blog may drop silently.")
    reasons: list[ReasonOut]
    evidence: list[EvidenceOut] = Field(description="Terms that pushed the classifier's score.")


class RefusedOut(BaseModel):
    """A comment of the batch that is not valid: why, each field named."""

    index: int = Field(description="The comment's position in the request, from 0.")
    error: str


class ScoreOut(BaseModel):
    """One result per comment, in the order of the request."""

    model_version: str
    results: list[ScoredOut | RefusedOut]


def _results(job: backlog.BacklogJob, comments: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    decided = backlog.decide_all(job, [backlog.read_comment(c, job.facts.now) for c in comments])
    out: list[dict[str, Any]] = []
    for index, item in enumerate(decided):
        if isinstance(item, str):
            out.append({"index": index, "error": item})
            continue
        comment, decision = item
        out.append(
            {"index": index, "external_id": comment.external_id or None, **decision_body(decision)}
        )
    return out


@router.post(
    "/score",
    response_model=ScoreOut,
    responses={
        400: {"description": "The body is not UTF-8 JSON."},
        401: {"description": "Missing or invalid API key."},
        413: {"description": "Body over the batch size limit (MODERATION_BATCH_MAX_BODY_BYTES)."},
        422: {"description": f"Not a list of objects under 'comments', or over {MAX_COMMENTS:,}."},
        429: {"description": "Over the rate limit of the site or the address; see Retry-After."},
    },
    openapi_extra=SITE_KEY_REQUIRED,
)
async def score_comments(body: ScoreIn, site: CheckSiteDep, model: ModelDep) -> Response:
    """Re-check up to 1,000 comments with the site's policy and the live model; nothing is
    stored.

    Each comment takes the fields of POST /v1/comments/check and gets the rules, the
    classifier and the policy of a check, as `moderation score` does. The database is not
    asked: the duplicate, flood, previous-approval and reputation checks need it and are
    skipped. A comment that is not valid gets `{index, error}` in its place and the others are
    still scored. Results come in the order of the request. A batch counts as one request
    against the check rate limits, and its decisions are not counted in the metrics' verdict
    counters (they describe checked comments, and these are re-checks).
    """
    job = backlog.BacklogJob(
        model=model.get(), policy=site.policy, facts=Facts(now=datetime.now(UTC))
    )
    # Scoring costs about 0.3 ms of CPU per comment: on a worker thread, a batch of 1,000
    # does not hold up the other requests of this worker for a third of a second.
    results = await run_in_threadpool(_results, job, body.comments)
    return Response(
        content=json.dumps({"model_version": job.model.version, "results": results}),
        media_type="application/json",
    )
