"""What keeps the pages safe: security headers on every answer, CSRF, safe redirects, flashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = tuple[tuple[bytes, bytes], ...]

PREFIX = "/moderate"
# No inline script or style anywhere: the pages load moderate.js and moderate.css from here,
# and the dashboard's chart is inline SVG drawn by the server (markup, not script).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Headers = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
NO_STORE = (b"cache-control", b"no-store")
# Everything else (JSON answers, the embed script, errors): nothing may run, load or frame it.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
API_HEADERS: Headers = (
    (b"content-security-policy", API_CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# Comment ids are UUIDs; a focus target outside this shape is dropped, never echoed.
_COMMENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def under_prefix(path: str, prefix: str = PREFIX) -> bool:
    """Whether a request path belongs to the moderator pages."""
    return path == prefix or path.startswith(prefix + "/")


def docs_headers(*, title: str, openapi_url: str, oauth2_redirect_url: str | None) -> Headers:
    """The headers of FastAPI's Swagger UI page: its CDN and its one inline script, by hash.

    The arguments are those FastAPI renders /docs with (no root_path); the page's inline
    script is hashed from that very rendering, so a FastAPI upgrade cannot silently break it.
    """
    html = bytes(
        get_swagger_ui_html(
            openapi_url=openapi_url, title=title, oauth2_redirect_url=oauth2_redirect_url
        ).body
    ).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    policy = (
        f"default-src 'none'; script-src {_SWAGGER_CDN} {hashes}; style-src {_SWAGGER_CDN}; "
        "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return ((b"content-security-policy", policy.encode()), *API_HEADERS[1:])


class SecurityHeaders:
    """ASGI middleware: every response carries the security headers, whatever answered it.

    Set here rather than by each handler, so that error pages, 404s, 405s and 413s carry them
    too. The pages under `prefix` get their CSP and no-store (a response that sets its own
    Cache-Control, the versioned static files, keeps it); the paths in `paths` (/docs) their
    own headers; everything else API_HEADERS. The lists are built once: the check is hot.
    """

    def __init__(
        self, app: ASGIApp, *, prefix: str = PREFIX, paths: Mapping[str, Headers] | None = None
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; put the headers of its path on the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        page = under_prefix(path, self.prefix)
        added = SECURITY_HEADERS if page else self.paths.get(path, API_HEADERS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _HEADER_NAMES
                ]
                headers.extend(added)
                if page and not any(k.lower() == NO_STORE[0] for k, _ in headers):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_token(given: str, expected: str) -> bool:
    """Whether a submitted token equals the expected one, compared in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def safe_next(value: str | None, default: str = PREFIX) -> str:
    """`value` when it is a path of these pages on this site, else `default`: no open redirect.

    Refuses absolute and scheme-relative URLs (`//evil`, `/\\evil`), other paths of the site,
    control characters, and anything a browser could read as another host.
    """
    if not value or len(value) > 2000 or not value.isprintable() or "\\" in value:
        return default
    try:
        parts = urlsplit(value)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or value.startswith("//"):
        return default
    if not under_prefix(parts.path) or "/../" in parts.path or parts.path.endswith("/.."):
        return default
    return value


def safe_fragment(comment_id: str | None) -> str:
    """`#c-ID` to bring a comment's row into view after a redirect, or "" for anything else."""
    if comment_id and _COMMENT_ID.fullmatch(comment_id):
        return f"#c-{comment_id}"
    return ""


@dataclass(frozen=True, slots=True)
class Flash:
    """A message shown once on the next page, with the comments an Undo button would restore."""

    message: str
    undo_ids: tuple[str, ...] = ()
    error: bool = False


MAX_FLASH_UNDO = 60  # a cookie holds about 4 kB: a page of ids fits, a larger bulk gets no undo


def _mac(key: str, payload: bytes) -> str:
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def seal_flash(flash: Flash, key: str) -> str:
    """The flash as a cookie value, signed with `key` (the session's own secret)."""
    undo = flash.undo_ids if len(flash.undo_ids) <= MAX_FLASH_UNDO else ()
    raw = json.dumps(
        {"m": flash.message, "u": list(undo), "e": flash.error}, separators=(",", ":")
    ).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=")
    return payload.decode() + "." + _mac(key, payload)


def open_flash(value: str, key: str) -> Flash | None:
    """The flash a cookie holds, or None when it is missing, damaged or signed by another key."""
    payload, _, mac = value.partition(".")
    if not payload or not same_token(mac, _mac(key, payload.encode("ascii", "replace"))):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        message, undo, error = data["m"], data["u"], data["e"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if not isinstance(message, str) or not isinstance(undo, list) or not isinstance(error, bool):
        return None
    ids = tuple(i for i in undo if isinstance(i, str) and _COMMENT_ID.fullmatch(i))
    return Flash(message, ids, error)
