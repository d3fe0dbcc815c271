"""POST /v1/comments/check and GET /v1/comments/{id}: score a comment, read its status."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter, Request, Response, status

from moderation import checking
from moderation.api.body import json_body, openapi_body
from moderation.api.deps import SITE_KEY_REQUIRED, StoreDep, rate_limited_site
from moderation.api.queue import (
    ItemDetailOut,
    QueueDep,
    SiteCommentOut,
    SiteOrModeratorDep,
    site_comment,
)
from moderation.api.schemas import CheckOut, CommentIn, check_body
from moderation.batching import CheckJob, Writer
from moderation.queue import looks_like_id
from moderation.store import NotFoundError
from moderation.store_accounts import Moderator

router = APIRouter(prefix="/v1/comments", tags=["comments"])


@router.post(
    "/check",
    response_model=CheckOut,
    responses={
        200: {"description": "A retry of a known external_id: the stored decision."},
        400: {"description": "The body is not UTF-8 JSON."},
        401: {"description": "Missing or invalid API key."},
        413: {"description": "Body over the size limit."},
        422: {"description": "Invalid comment; the detail names the field."},
        429: {"description": "Over the rate limit of the site or the address; see Retry-After."},
    },
    status_code=status.HTTP_201_CREATED,
    openapi_extra={**SITE_KEY_REQUIRED, "requestBody": openapi_body(CommentIn)},
)
async def check_comment(request: Request) -> Response:
    """Decide on a comment and store it with its decision before answering."""
    # The key and the limits first, then the body: a caller without a valid key learns
    # nothing of what the service would make of its comment.
    site = await rate_limited_site(request)
    body = await json_body(request, CommentIn)
    writer: Writer = request.app.state.writer
    now = datetime.now(UTC)
    comment = body.to_domain(now)
    # Scoring, the rules and the write run on the writer (the worker's writer process, or a
    # thread), a batch of concurrent checks at a time: the event loop only parses and answers.
    decide = partial(checking.judge, comment, site.policy)
    stored = await writer.submit(CheckJob(site, comment, now, decide))
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
    responses={
        401: {"description": "No valid site key or moderator token."},
        404: {"description": "No such comment on the caller's site(s)."},
    },
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
