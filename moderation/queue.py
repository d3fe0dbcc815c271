"""The moderation queue's rules: filters, sort orders, cursors and what each action does.

Pure: no database, no web framework. The store (`store_queue`) turns these values into queries.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from moderation.domain import CommentStatus, Label, ModerationAction, ReasonCode

MAX_LIMIT = 200
MAX_BULK = 500
MAX_TEXT_FILTER = 200

# Link domains so common that a spammer's link to them says nothing about the next comment
# linking there: a spam label never marks them.
COMMON_HOSTS: frozenset[str] = frozenset(
    {
        "wikipedia.org",
        "youtube.com",
        "youtu.be",
        "google.com",
        "github.com",
        "twitter.com",
        "x.com",
        "facebook.com",
        "instagram.com",
        "linkedin.com",
        "reddit.com",
        "amazon.com",
        "apple.com",
        "microsoft.com",
        "medium.com",
        "wordpress.com",
        "wordpress.org",
        "archive.org",
        "stackoverflow.com",
        "gravatar.com",
    }
)


class MarkKind(StrEnum):
    """What a reputation mark remembers of a labelled comment."""

    IP = "ip"
    EMAIL = "email"
    DOMAIN = "domain"


def _host(domain: str) -> str:
    domain = domain.strip(".").lower()
    return domain[4:] if domain.startswith("www.") else domain


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def marked_domains(domains: Iterable[str]) -> list[str]:
    """The link domains a spam label marks: `www.` dropped, common hosts left out."""
    out: dict[str, None] = {}
    for domain in domains:
        host = _host(domain)
        if host and "." in host and not any(p in COMMON_HOSTS for p in _parents(host)):
            out.setdefault(host)
    return list(out)


def domains_to_look_up(domains: Iterable[str]) -> list[str]:
    """The marks that concern a new comment's link domains: each host and its parent domains.

    A mark on `spam.example` thus also catches `a1.spam.example`; a mark is only ever made for
    a host someone linked, so a parent such as `co.uk` matches nothing.
    """
    out: dict[str, None] = {}
    for domain in domains:
        for parent in _parents(_host(domain)):
            out.setdefault(parent)
    return list(out)


class QueueSort(StrEnum):
    """The order of a queue listing: most likely spam first, newest first or oldest first."""

    PROBABILITY = "probability"
    NEWEST = "newest"
    OLDEST = "oldest"


class ActionError(StrEnum):
    """Why an action on one comment did not happen (stable codes for clients)."""

    NOT_FOUND = "not_found"
    NOTHING_TO_UNDO = "nothing_to_undo"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which comments a listing shows; every given criterion must hold."""

    statuses: tuple[CommentStatus, ...] = (CommentStatus.PENDING, CommentStatus.SPAM)
    site: str | None = None  # site name
    post_id: str | None = None
    reason: ReasonCode | None = None
    author_email: str | None = None
    user_ip: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    text: str | None = None  # search in content, author name, email, url

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("statuses: give at least one status")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: give a time with its UTC offset")


# What each moderator action makes of a comment's status and training label.
_OUTCOME: dict[ModerationAction, tuple[CommentStatus | None, Label | None]] = {
    ModerationAction.APPROVE: (CommentStatus.APPROVED, Label.HAM),
    ModerationAction.SPAM: (CommentStatus.SPAM, Label.SPAM),
    ModerationAction.HAM: (CommentStatus.APPROVED, Label.HAM),
    ModerationAction.TRASH: (CommentStatus.TRASH, None),
}


def transition(
    action: ModerationAction, status: CommentStatus, label: Label | None
) -> tuple[CommentStatus, Label | None]:
    """The (status, label) an action leaves; ValueError for delete and undo, which are no move."""
    if action not in _OUTCOME:
        raise ValueError(f"{action.value} is not a status change")
    new_status, new_label = _OUTCOME[action]
    assert new_status is not None
    return new_status, new_label if new_label is not None else label


def is_labelling(action: ModerationAction) -> bool:
    """Whether the action gives the comment a training label (approve, spam, ham)."""
    return action in (ModerationAction.APPROVE, ModerationAction.SPAM, ModerationAction.HAM)


def undo_stack(actions: list[tuple[int, ModerationAction]]) -> list[int]:
    """The ids of the events still in force, oldest first: each undo cancels the latest one.

    `actions` are a comment's events (id, action) in the order they happened.
    """
    stack: list[int] = []
    for event_id, action in actions:
        if action is ModerationAction.UNDO:
            if stack:
                stack.pop()
        elif action is not ModerationAction.DELETE:
            stack.append(event_id)
    return stack


def reason_pattern(code: ReasonCode) -> str:
    """A LIKE pattern (escape character `!`) matching the stored reasons JSON holding `code`.

    The store writes reasons with `json.dumps`, so a code appears as `"code": "<value>"`; inside a
    message every quote is escaped, so a message cannot fake the match.
    """
    return "%" + escape_like(json.dumps({"code": code.value})[1:-1]) + "%"


LIKE_ESCAPE = "!"


def escape_like(value: str) -> str:
    """`value` with the LIKE wildcards and the escape character `!` made literal."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains_pattern(value: str) -> str:
    """A LIKE pattern (escape `!`) matching any text containing `value` literally."""
    return "%" + escape_like(value) + "%"


# Cursors: the sort key and id of the last row shown. The listing continues strictly after that
# (key, id) pair, so rows inserted meanwhile neither repeat nor shift what comes next.
_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing stopped: the last row's sort key and id, for the sort it was made in."""

    sort: QueueSort
    probability: float
    created_at: datetime
    id: str


def encode_cursor(sort: QueueSort, *, probability: float, created_at: datetime, row_id: str) -> str:
    """An opaque cursor that continues a listing in `sort` after the row given."""
    stamp = created_at.astimezone(UTC).isoformat() if created_at.tzinfo else created_at.isoformat()
    raw = json.dumps(
        [_CURSOR_VERSION, sort.value, probability, stamp, row_id], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: QueueSort) -> Cursor:
    """The position a cursor holds; ValueError when it is damaged or made for another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        version, sort_value, probability, stamp, row_id = data
        made_for = QueueSort(sort_value)
        created_at = datetime.fromisoformat(stamp)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise ValueError("cursor: not a cursor this listing gave") from exc
    if (
        version != _CURSOR_VERSION
        or not isinstance(probability, int | float)
        or isinstance(probability, bool)
        or not isinstance(row_id, str)
    ):
        raise ValueError("cursor: not a cursor this listing gave")
    if made_for is not sort:
        raise ValueError(f"cursor: made for sort={made_for.value}, not sort={sort.value}")
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return Cursor(sort, float(probability), created_at, row_id)


_ID_CHARS = frozenset("0123456789abcdefABCDEF-")


def looks_like_id(value: str) -> bool:
    """Whether `value` can be a stored comment's id (a UUID): anything else names none."""
    return len(value) == 36 and all(c in _ID_CHARS for c in value)


def clamp_limit(limit: int) -> int:
    """The page size asked for, checked: 1 to MAX_LIMIT, else ValueError."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: must be between 1 and {MAX_LIMIT}")
    return limit
