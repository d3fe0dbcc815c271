"""POST /v1/comments/check and GET /v1/comments/{id}: score a comment, read its status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status

from moderation import checking
from moderation.api.deps import ModelDep, SiteDep, StoreDep, WriterDep
from moderation.api.queue import (
    ItemDetailOut,
    QueueDep,
    SiteCommentOut,
    SiteOrModeratorDep,
    site_comment,
)
from moderation.api.schemas import CheckOut, CommentIn, check_body
from moderation.domain import Decision
from moderation.queue import looks_like_id
from moderation.rules import Facts
from moderation.store import NotFoundError, PendingCheck
from moderation.store_accounts import Moderator

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
    body: CommentIn, site: SiteDep, writer: WriterDep, model: ModelDep, request: Request
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
    if not stored.replayed and request.app.state.metrics is not None:
        request.app.state.metrics.count_decision(site.name, stored.decision)
    # The body is built here from the stored decision: validating it again against
    # CheckOut (which documents it) would cost as much as scoring.
    return Response(
        content=json.dumps(check_body(stored.id, stored.decision, stored.model_version)),
        status_code=status.HTTP_200_OK if stored.replayed else status.HTTP_201_CREATED,
        media_type="application/json",
        headers={"Location": f"/v1/comments/{stored.id}"},
    )


@router.get(
    "/{comment_id}",
    response_model=SiteCommentOut | ItemDetailOut,
    responses={404: {"description": "No such comment on the caller's site(s)."}},
)
def comment_status(
    comment_id: str, caller: SiteOrModeratorDep, store: StoreDep, queue: QueueDep
) -> SiteCommentOut | ItemDetailOut:
    """With the site's key: the decision and current status of a comment it submitted. With a
    moderator token: the comment in full (author email and IP included), its history and its
    author's earlier comments."""
    if isinstance(caller, Moderator):
        return ItemDetailOut.of(queue.item(caller, comment_id))
    if not looks_like_id(comment_id):
        raise NotFoundError("no such comment")
    return site_comment(store.get_comment(caller.id, comment_id))
