"""Stored comments in display form: what a public page may show of them, and nothing more.

Pure functions over values (no I/O, no framework, no settings). What leaves is built from an
allow-list: an id, the id of the comment it answers, the author's name (addresses redacted,
invisible characters and control characters removed), the author's web address when it is a
plain http(s) address, a salted hash standing in for the author, the text as safe HTML and the
date. Never the email, the IP address, the user agent, the referrer or the blog's own ids.

The text is treated as plain text, never as markup: emails are redacted first
(`redaction.redact_emails`, which also drops bidi and zero-width characters), then every
character is escaped, http(s) URLs and `www.` hosts become links with
`rel="nofollow ugc noopener"`, blank lines separate paragraphs and single newlines become
`<br>`. The result then goes through `nh3` (the Ammonia sanitiser) with an allow-list of `p`,
`br` and `a href` (http and https only): a second, independent guarantee that only those reach a
page, whatever a bug in the first step might let through.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import nh3

from moderation.redaction import DEFAULT_PLACEHOLDER, find_emails, redact_emails, strip_invisible
from moderation.textnorm import fold

__all__ = [
    "LINK_REL",
    "MAX_DEPTH",
    "CursorError",
    "FeedPage",
    "PublicComment",
    "StoredComment",
    "avatar_hash",
    "display_name",
    "feed_page",
    "public_url",
    "render_text",
    "site_origin",
    "thread",
]

LINK_REL = "nofollow ugc noopener"
# Threads nest this many levels deep at most (WordPress's "threaded comments N levels deep");
# deeper replies are listed on the last level in time order, `parent_id` still naming the
# comment they answer. It also bounds the nesting of the JSON.
MAX_DEPTH = 8

_SANITISER = nh3.Cleaner(
    tags={"p", "br", "a"},
    clean_content_tags=set(),
    attributes={"a": {"href"}},
    link_rel=LINK_REL,
    url_schemes={"http", "https"},
    url_relative="deny",
    strip_comments=True,
)

# Line breaks of every kind become "\n"; other control characters (C0 but tab and newline, DEL,
# C1) have no place in a page and are dropped.
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # applied per line, "\n" already split
_BLANK_LINES = re.compile(r"\n(?:[ \t]*+\n)++")
# A URL runs to the first space, quote, angle bracket, backtick or backslash (browsers read "\"
# as "/" in http URLs, so text and target could disagree past one). Possessive: linear time.
_URL = re.compile(
    r"[hHwW](?:(?<=[hH])[tT][tT][pP][sS]?+://|(?<=[wW])[wW]{2}\.)[^\s<>\"'`\\\x00-\x1f\x7f]++"
)
_TRAILING = ".,:;!?*_~'\""
_PAIRS = {")": "(", "]": "[", "}": "{"}
_SPACES = re.compile(r"\s++")


@dataclass(frozen=True, slots=True)
class StoredComment:
    """The stored fields publishing reads; the email only ever feeds the avatar hash."""

    id: str
    parent_id: str
    author_name: str
    author_email: str
    author_url: str
    content: str
    created_at: datetime
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class PublicComment:
    """A comment as a page shows it, with its replies."""

    id: str
    parent_id: str | None
    author_name: str
    author_url: str | None
    avatar: str
    html: str
    created_at: datetime
    replies: tuple[PublicComment, ...] = ()

    @property
    def author_html(self) -> str:
        """The author's name as safe HTML, a link to their site when they gave one."""
        name = html.escape(self.author_name, quote=True)
        if self.author_url is None:
            return name
        href = html.escape(self.author_url, quote=True)
        return f'<a href="{href}" rel="{LINK_REL}">{name}</a>'

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: exactly these fields, in this order."""
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "author_name": self.author_name,
            "author_html": self.author_html,
            "author_url": self.author_url,
            "avatar": self.avatar,
            "html": self.html,
            "created_at": iso_date(self.created_at),
            "replies": [reply.to_dict() for reply in self.replies],
        }

    def count(self) -> int:
        """This comment and all its replies."""
        return 1 + sum(reply.count() for reply in self.replies)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of a post's threads, oldest or newest first."""

    threads: tuple[PublicComment, ...]
    total_comments: int
    total_threads: int
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the page."""
        return {
            "comments": [t.to_dict() for t in self.threads],
            "total": self.total_comments,
            "threads": self.total_threads,
            "next": self.next_cursor,
        }


class CursorError(ValueError):
    """A pagination cursor that this service did not hand out."""


def iso_date(value: datetime) -> str:
    """A UTC time as ISO 8601 to the second, with a Z."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def display_name(name: str, placeholder: str = DEFAULT_PLACEHOLDER) -> str:
    """An author's name as shown: addresses redacted, invisible and control characters dropped."""
    cleaned = _NEWLINES.sub("\n", redact_emails(name, placeholder))
    cleaned = _CONTROLS.sub("", cleaned.replace("\n", " "))
    return _SPACES.sub(" ", cleaned).strip()


def public_url(url: str) -> str | None:
    """The author's web address when it is safe to link: http(s), a host, no login, no email."""
    url = url.strip()
    if not url or len(url) > 2000 or strip_invisible(url) != url:
        return None
    if "://" not in url and not url.lower().startswith(("http:", "https:")):
        url = "http://" + url  # WordPress does the same for "blog.example"
    if not _is_linkable(url) or find_emails(url):
        return None
    return url


def site_origin(url: str) -> str | None:
    """The web origin (`https://blog.example`, `http://127.0.0.1:8080`) of a site's address."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def avatar_hash(salt: str, email: str, name: str = "") -> str:
    """A stand-in for the author that never reveals the address: HMAC-SHA256, hex.

    Keyed with the site's secret salt, so the same address gives the same hash on one site only,
    and a known address cannot be tested against it. Without an email the name stands in.
    """
    email_key = fold(email.strip())
    subject = f"email:{email_key}" if email_key else f"name:{fold(' '.join(name.split()))}"
    return hmac.new(salt.encode(), subject.encode("utf-8", "surrogatepass"), "sha256").hexdigest()


def render_text(text: str, placeholder: str = DEFAULT_PLACEHOLDER) -> str:
    """A comment's text as safe HTML: addresses redacted, escaped, linked, in paragraphs."""
    if len(text) > _CACHED_TEXT_CHARS:
        return _render(text, placeholder)
    # Polling readers ask for the same comments over and over, and rendering is pure: keep the
    # latest results, keyed by a digest so that no raw text (nor any address in it) is kept.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return _render_cached(digest, text, placeholder)


_CACHED_TEXT_CHARS = 8192


_rendered: dict[tuple[bytes, str], str] = {}
_rendered_lock = threading.Lock()
_RENDERED_MAX = 2048


def _render_cached(digest: bytes, text: str, placeholder: str) -> str:
    key = (digest, placeholder)
    with _rendered_lock:
        found = _rendered.get(key)
    if found is None:
        found = _render(text, placeholder)
        with _rendered_lock:
            if len(_rendered) >= _RENDERED_MAX:
                del _rendered[next(iter(_rendered))]  # the oldest: dicts keep insertion order
            _rendered[key] = found
    return found


def _render(text: str, placeholder: str) -> str:
    redacted = redact_emails(_NEWLINES.sub("\n", text), placeholder).strip()
    if not redacted:
        return ""
    paragraphs = []
    for block in _BLANK_LINES.split(redacted):
        lines = [_linkify(_CONTROLS.sub("", line), placeholder) for line in block.split("\n")]
        paragraphs.append("<p>" + "<br>".join(lines) + "</p>")
    return _SANITISER.clean("".join(paragraphs))


def _linkify(line: str, placeholder: str) -> str:
    """One line of plain text as HTML: escaped, URLs linked; no URL runs into a placeholder."""
    out = []
    for number, segment in enumerate(line.split(placeholder)):
        if number:
            out.append(html.escape(placeholder))
        pos = 0
        for match in _URL.finditer(segment):
            start = match.start()
            if start and (segment[start - 1].isalnum() or segment[start - 1] in "_@.-/"):
                continue  # inside a word, an address or a path: "xhttp://", "a.www.b"
            url = _trim(match.group())
            href = url if url[:4].lower() == "http" else "http://" + url
            if not _is_linkable(href):
                continue
            out.append(html.escape(segment[pos:start]))
            out.append(f'<a href="{html.escape(href)}">{html.escape(url)}</a>')
            pos = start + len(url)
        out.append(html.escape(segment[pos:]))
    return "".join(out)


def _trim(url: str) -> str:
    """Drop what ends a sentence rather than the URL: punctuation, an unmatched bracket."""
    unmatched = {close: url.count(close) - url.count(open_) for close, open_ in _PAIRS.items()}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _PAIRS and unmatched[last] > 0:
            unmatched[last] -= 1
            end -= 1
        else:
            break
    return url[:end]


def _is_linkable(url: str) -> bool:
    """An http(s) URL with a host and no user info (`https://bank.example@evil.example`)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    if "@" in parts.netloc:
        return False
    host = parts.hostname
    return "." in host or host == "localhost" or ":" in host  # ":": a bracketed IPv6 address


def _order_key(comment: StoredComment | PublicComment) -> tuple[datetime, str]:
    created = comment.created_at
    return (created.replace(tzinfo=UTC) if created.tzinfo is None else created, comment.id)


@dataclass(slots=True)
class _Node:
    """A stored comment placed in its thread, not rendered yet."""

    comment: StoredComment
    parent_id: str | None
    replies: list[_Node]

    def count(self) -> int:
        total, stack = 0, [self]
        while stack:
            node = stack.pop()
            total += 1
            stack.extend(node.replies)
        return total


def _tree(comments: Iterable[StoredComment], max_depth: int) -> list[_Node]:
    """The threads, oldest first at every level (see `thread`)."""
    ordered = sorted(comments, key=_order_key)
    by_id = {c.id: c for c in ordered}
    by_external = {c.external_id: c for c in ordered if c.external_id}
    parent_of: dict[str, str] = {}
    children: dict[str, list[StoredComment]] = {}
    for comment in ordered:
        wanted = comment.parent_id.strip()
        parent = (by_id.get(wanted) or by_external.get(wanted)) if wanted else None
        if parent is not None and parent is not comment:
            parent_of[comment.id] = parent.id
            children.setdefault(parent.id, []).append(comment)
    placed: set[str] = set()

    def descendants(comment: StoredComment) -> list[StoredComment]:
        found: list[StoredComment] = []
        stack = list(children.get(comment.id, ()))
        while stack:
            kid = stack.pop()
            if kid.id not in placed:
                placed.add(kid.id)
                found.append(kid)
                stack.extend(children.get(kid.id, ()))
        return sorted(found, key=_order_key)

    def build(comment: StoredComment, parent_id: str | None, depth: int) -> _Node:
        placed.add(comment.id)
        if depth + 2 >= max_depth:  # the replies are on the last level: flat
            flat = descendants(comment)
            return _Node(comment, parent_id, [_Node(k, parent_of[k.id], []) for k in flat])
        kids = [kid for kid in children.get(comment.id, ()) if kid.id not in placed]
        return _Node(comment, parent_id, [build(kid, comment.id, depth + 1) for kid in kids])

    roots = [build(c, None, 0) for c in ordered if c.id not in parent_of]
    for comment in ordered:  # what no root reached is in a cycle of parents
        if comment.id not in placed:
            roots.append(build(comment, None, 0))
    return sorted(roots, key=lambda node: _order_key(node.comment))


def _render_node(node: _Node, salt: str, placeholder: str) -> PublicComment:
    comment = node.comment
    return PublicComment(
        id=comment.id,
        parent_id=node.parent_id,
        author_name=display_name(comment.author_name, placeholder),
        author_url=public_url(comment.author_url),
        avatar=avatar_hash(salt, comment.author_email, comment.author_name),
        html=render_text(comment.content, placeholder),
        created_at=comment.created_at,
        replies=tuple(_render_node(reply, salt, placeholder) for reply in node.replies),
    )


def thread(
    comments: Iterable[StoredComment],
    *,
    salt: str,
    placeholder: str = DEFAULT_PLACEHOLDER,
    max_depth: int = MAX_DEPTH,
) -> list[PublicComment]:
    """Display forms threaded by parent, oldest first at every level.

    A comment's `parent_id` may name the parent's id in this service or the blog's own id (its
    `external_id`). A comment whose parent is not among `comments` (held, spam, deleted, or
    never sent) is shown at the top level, as is the earliest comment of a cycle of parents.
    Threads nest `max_depth` levels deep (2 or more); deeper replies are listed on the last
    level in time order.
    """
    return [_render_node(node, salt, placeholder) for node in _tree(comments, max_depth)]


def encode_cursor(comment: StoredComment | PublicComment) -> str:
    """An opaque cursor that points just past this thread."""
    created, comment_id = _order_key(comment)
    raw = f"{created.isoformat()}|{comment_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        date, comment_id = raw.split("|", 1)
        created = datetime.fromisoformat(date)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError("not a cursor this service handed out") from exc
    if created.tzinfo is None:
        raise CursorError("not a cursor this service handed out")
    return created, comment_id


def feed_page(
    comments: Iterable[StoredComment],
    *,
    salt: str,
    limit: int,
    after: str | None = None,
    newest_first: bool = False,
    placeholder: str = DEFAULT_PLACEHOLDER,
    max_depth: int = MAX_DEPTH,
) -> FeedPage:
    """A page of at most `limit` threads (a comment with all its replies), after `after`.

    Threaded as `thread` does; only the page is rendered. The cursor names a position, not an
    offset: threads added or removed meanwhile neither repeat nor skip one on the next page.
    """
    roots = _tree(comments, max_depth)
    mark = _decode_cursor(after) if after else None
    ordered = roots[::-1] if newest_first else roots
    if mark is not None:
        if newest_first:
            ordered = [node for node in ordered if _order_key(node.comment) < mark]
        else:
            ordered = [node for node in ordered if _order_key(node.comment) > mark]
    page = ordered[:limit]
    return FeedPage(
        threads=tuple(_render_node(node, salt, placeholder) for node in page),
        total_comments=sum(node.count() for node in roots),
        total_threads=len(roots),
        next_cursor=encode_cursor(page[-1].comment) if len(ordered) > limit and page else None,
    )
