"""GET /embed/comments.js: the script a static page includes to show a post's comments."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Request, Response

from moderation.api.public import conditional

router = APIRouter(prefix="/embed", tags=["embed"])
# Pages load the script on every visit: an hour in caches, then revalidated by its ETag.
SCRIPT_MAX_AGE = 3600


@cache
def _script() -> bytes:
    return (resources.files("moderation") / "web" / "static" / "comments.js").read_bytes()


@router.get(
    "/comments.js",
    response_class=Response,
    responses={
        200: {"content": {"text/javascript": {}}, "description": "The embeddable script."},
        304: {"description": "Not modified."},
    },
)
def comments_script(request: Request) -> Response:
    """The embed script: it renders the comments of each `<div data-moderation-post="…">`."""
    return conditional(
        request,
        _script(),
        "text/javascript; charset=utf-8",
        {
            "Cache-Control": f"public, max-age={SCRIPT_MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
        },
    )
