"""The pages' Jinja2 environment: autoescaping on for every template, whatever its name."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from moderation.web import views

STATIC_FILES: dict[str, str] = {
    "moderate.css": "text/css; charset=utf-8",
    "moderate.js": "text/javascript; charset=utf-8",
}


@cache
def static_bytes(name: str) -> bytes:
    """The bytes of one of the pages' static files (KeyError for any other name)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return (resources.files("moderation") / "web" / "static" / name).read_bytes()


@cache
def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content so that caches never serve a stale one."""
    digest = hashlib.sha256(static_bytes(name)).hexdigest()[:16]
    return f"/moderate/static/{name}?v={digest}"


@cache
def environment() -> Environment:
    """The one environment every page is rendered with.

    `autoescape=True` (not `select_autoescape`): every template escapes every value, so text a
    commenter wrote can only ever reach a page as text. Undefined names fail loudly.
    """
    env = Environment(
        loader=PackageLoader("moderation", "web/templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        http_url=views.http_url,
        percent=views.percent,
        excerpt=views.excerpt,
        when=views.when,
        iso=views.iso,
    )
    env.globals.update(static=static_url)
    return env


def render(name: str, context: dict[str, Any]) -> str:
    """A template rendered with this context."""
    return environment().get_template(name).render(context)
