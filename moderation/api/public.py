"""GET /v1/posts/{post_id}/comments: a post's approved comments, in display form, for any page.

Read with the site key (`Authorization: Bearer`, for a blog's server) or with the site's public
read token (`?token=`, safe to embed in a page: it reads this feed and nothing else). Only
approved comments are ever listed, whatever the parameters. Each answer carries a strong ETag
(a hash of the body), so a poller's `If-None-Match` gets a bodiless 304 while nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.convertors import PathConvertor, register_url_convertor

from moderation import publishing
from moderation.api.deps import StoreDep, authenticated_site
from moderation.domain import post_key
from moderation.store import Site

router = APIRouter(prefix="/v1/posts", tags=["public"])


class _AnyPathConvertor(PathConvertor):
    # Starlette's `path` (".*") stops at a line break, and the check stores post ids with
    # line breaks as sent: without this, their comments could never be read back (a 404).
    regex = "[\\s\\S]*"


register_url_convertor("anypath", _AnyPathConvertor())

_bearer = HTTPBearer(auto_error=False, description="The site's API key.")
# A browser may keep the answer this long before asking again (with If-None-Match); a blog's
# server, authenticated by its key, asks every time and gets a 304 while nothing changed.
PUBLIC_MAX_AGE = 10
MAX_POST_ID_CHARS = 2000


class PublicCommentOut(BaseModel):
    """A comment as a page may show it: no email, IP address, user agent or referrer."""

    id: str
    parent_id: str | None = Field(description="The comment this one answers; null at the top.")
    author_name: str = Field(
        description="Plain text: addresses hidden, invisible characters removed. Escape it."
    )
    author_html: str = Field(description="The name as safe HTML, linked to author_url if any.")
    author_url: str | None = Field(description="The author's http(s) address, if safe to link.")
    avatar: str = Field(description="A salted per-site hash of the author (hex), for avatars.")
    html: str = Field(
        description="The text as safe HTML: <p>, <br> and <a href rel> only, addresses hidden."
    )
    created_at: str = Field(description="ISO 8601, UTC.")
    replies: list[PublicCommentOut]


class FeedOut(BaseModel):
    """One page of a post's approved comments, threaded."""

    comments: list[PublicCommentOut] = Field(description="Top-level comments with their replies.")
    total: int = Field(description="Approved comments on the post, replies included.")
    threads: int = Field(description="Top-level comments on the post.")
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


@dataclass(frozen=True, slots=True)
class FeedReader:
    """Who is reading: a site, through its key or through its public token."""

    site: Site
    public: bool


async def feed_reader(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The site's public read token (`moderation sites public-token NAME`).",
        ),
    ] = None,
) -> FeedReader:
    """The site key if one is sent (it must be valid), else the public read token; 401 else."""
    if credentials is not None:
        return FeedReader(await authenticated_site(store, credentials), public=False)
    if token:
        site = await run_in_threadpool(store.site_for_public_token, token)
        if site is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked public token")
        return FeedReader(site, public=True)
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "send the site's public read token as ?token=, or its API key as "
        "'Authorization: Bearer KEY'",
        headers={"WWW-Authenticate": "Bearer"},
    )


FeedReaderDep = Annotated[FeedReader, Depends(feed_reader)]


def etag_of(body: bytes) -> str:
    """A strong validator: the body's sha256, quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (weak comparison, as RFC 9110 asks for)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def conditional(
    request: Request, body: bytes, media_type: str, headers: dict[str, str]
) -> Response:
    """200 with the body, or 304 when the client already holds this exact body."""
    headers = {**headers, "ETag": etag_of(body)}
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


@router.get(
    "/{post_id:anypath}/comments",
    response_model=FeedOut,
    responses={
        304: {"description": "Not modified: the If-None-Match ETag is still current."},
        401: {"description": "No valid site key or public read token."},
        422: {"description": "A parameter out of range, or a cursor this service did not give."},
    },
)
def post_comments(
    post_id: str,
    reader: FeedReaderDep,
    store: StoreDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200, description="Top-level comments per page.")] = 50,
    after: Annotated[
        str | None, Query(max_length=500, description="The `next` of the previous page.")
    ] = None,
    order: Annotated[
        Literal["oldest", "newest"], Query(description="Order of the top-level comments.")
    ] = "oldest",
) -> Response:
    """The approved comments of a post, threaded, as safe HTML; never any other status.

    `post_id` is the post_id the comments were checked with, or their permalink when they had
    none (percent-encoded; it is matched as the check stored it, see `domain.post_key`).
    Replies are oldest first under their parent.
    """
    headers = {
        "Cache-Control": f"public, max-age={PUBLIC_MAX_AGE}"
        if reader.public
        else "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if reader.public:
        # The site's own pages may read the feed with the public token; no other origin.
        origin = publishing.site_origin(reader.site.url)
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
    if len(post_id) > MAX_POST_ID_CHARS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "post_id is too long")
    rows = store.approved_comments(reader.site.id, post_key(post_id, ""))
    try:
        page = publishing.feed_page(
            rows,
            salt=store.avatar_salt(reader.site.id),
            limit=limit,
            after=after,
            newest_first=order == "newest",
        )
    except publishing.CursorError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    body: dict[str, Any] = page.to_dict()
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return conditional(request, encoded, "application/json", headers)
