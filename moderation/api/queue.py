"""The moderation queue API: list and count held and spam comments, act on them, undo, history.

Every endpoint takes a moderator token (`Authorization: Bearer mt_...`) and sees only the sites
granted to that moderator (an admin sees all); a comment of another site answers 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from moderation.api.deps import StoreDep, authenticated_site
from moderation.api.moderator_auth import ModeratorDep, current_moderator, get_accounts
from moderation.api.schemas import (
    CommentStatusOut,
    EvidenceOut,
    ReasonOut,
    as_utc,
    normal_ip,
)
from moderation.domain import CommentStatus, Label, ModerationAction, ReasonCode, Verdict
from moderation.queue import (
    MAX_BULK,
    MAX_LIMIT,
    MAX_TEXT_FILTER,
    ActionError,
    QueueFilter,
    QueueSort,
    looks_like_id,
)
from moderation.store import Site
from moderation.store_accounts import TOKEN_PREFIX, Moderator
from moderation.store_queue import (
    ActionResult,
    AuthorHistory,
    HistoryEvent,
    ItemDetail,
    QueueCounts,
    QueueItem,
    QueueStore,
)

router = APIRouter(tags=["queue"], responses={401: {"description": "No valid moderator token."}})
MAX_NOTE = 2000


async def get_queue(request: Request) -> QueueStore:
    """The queue store opened by the app's lifespan."""
    queue: QueueStore = request.app.state.queue
    return queue


QueueDep = Annotated[QueueStore, Depends(get_queue)]


def invalid(field: str, message: str, *, where: str = "query") -> HTTPException:
    """A 422 in the shape of the service's validation errors, naming the field."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": [where, field], "field": field, "msg": message, "type": "value_error"}],
    )


def _value_error(exc: ValueError, *, where: str = "query") -> HTTPException:
    # The pure module words its errors "field: problem".
    field, _, message = str(exc).partition(": ")
    return invalid(field, message or str(exc), where=where)


def _clean(value: str | None) -> str | None:
    # PostgreSQL refuses NUL in text: refuse it here, with the field named, never a 500 or 503.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _ip(value: str | None) -> str | None:
    return None if value is None else normal_ip(value)


def _blank_is_none(value: str | None) -> str | None:
    return value if value is None or value.strip() else None


# Blank stays a string here and becomes None in `queue_filter`: the length limit (the Query's
# max_length, where it is used) is applied after these validators, and fails on None.
OptionalText = Annotated[str | None, AfterValidator(_clean)]


# Response and request bodies


class QueueItemOut(BaseModel):
    """A stored comment as a moderator sees it: author details included."""

    id: str = Field(description="The service's id of the comment.")
    site: str = Field(description="The name of the site the comment was posted on.")
    external_id: str | None = Field(description="The blog's own id of the comment, if it sent one.")
    post_id: str = Field(description="The post the comment belongs to.")
    permalink: str = Field(description="The post's address, as the blog sent it.")
    author_name: str
    author_email: str
    author_url: str
    user_ip: str = Field(description="The commenter's IP address.")
    user_agent: str
    content: str = Field(description="The comment as the author wrote it.")
    created_at: datetime = Field(description="When the service received the comment (UTC).")
    status: CommentStatus = Field(description="approved, pending, spam, rejected or trash.")
    verdict: Verdict = Field(description="What the service decided when the comment came in.")
    spam_probability: float = Field(description="The classifier's spam probability, 0 to 1.")
    reasons: list[ReasonOut] = Field(description="Every reason behind the verdict.")
    evidence: list[EvidenceOut] = Field(
        description="The terms that drove the classifier (positive weight: towards spam)."
    )
    label: Label | None = Field(description="The training label (ham or spam), if any.")
    label_source: str | None = Field(
        description="Who gave the label: moderator, or akismet-submit for the blog's own."
    )
    moderated_by: str | None = Field(
        description="Who last changed it: a moderator's name or site:<name>."
    )
    status_changed_at: datetime | None = Field(description="When its status last changed.")
    discard: bool = Field(description="Blatant spam the blog was told it may drop unseen.")
    model_version: str
    is_test: bool = Field(description="Test traffic (Akismet's is_test): never learned from.")

    @classmethod
    def of(cls, item: QueueItem) -> QueueItemOut:
        """The answer for one queue item."""
        return cls(
            id=item.id,
            site=item.site_name,
            external_id=item.external_id,
            post_id=item.post_id,
            permalink=item.permalink,
            author_name=item.author_name,
            author_email=item.author_email,
            author_url=item.author_url,
            user_ip=item.user_ip,
            user_agent=item.user_agent,
            content=item.content,
            created_at=item.created_at,
            status=item.status,
            verdict=item.verdict,
            spam_probability=item.spam_probability,
            reasons=[ReasonOut(code=r.code.value, message=r.message) for r in item.reasons],
            evidence=[EvidenceOut(term=e.term, weight=e.weight) for e in item.evidence],
            label=item.label,
            label_source=item.label_source,
            moderated_by=item.moderated_by,
            status_changed_at=item.status_changed_at,
            discard=item.discard,
            model_version=item.model_version,
            is_test=item.is_test,
        )


class QueueCountsOut(BaseModel):
    """How many comments match the filters."""

    by_status: dict[str, int] = Field(
        description="Per status, the matches of every filter except the status one (0 included)."
    )
    by_reason: dict[str, int] = Field(
        description="Per reason code, the matches of every filter (codes with none left out)."
    )

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, counts: QueueCounts) -> QueueCountsOut:
        """The answer for the counts."""
        return cls.model_validate(counts)


class QueuePageOut(BaseModel):
    """One page of the queue, with the counts of everything the filters match."""

    items: list[QueueItemOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page. Rows added "
        "meanwhile neither repeat nor shift the pages."
    )
    counts: QueueCountsOut


class HistoryEventOut(BaseModel):
    """One recorded change of a comment's state."""

    id: int
    action: ModerationAction = Field(description="approve, spam, ham, trash, delete or undo.")
    actor: str = Field(description="The moderator's name, or site:<name> for the blog itself.")
    from_status: CommentStatus
    to_status: CommentStatus = Field(
        description="The status after it (for delete: the status the comment had)."
    )
    from_label: Label | None
    to_label: Label | None
    note: str = Field(description="The note the moderator gave, if any.")
    created_at: datetime

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, event: HistoryEvent) -> HistoryEventOut:
        """The answer for one event."""
        return cls.model_validate(event)


class AuthorCommentOut(BaseModel):
    """An earlier comment of the same author (same email or IP) and its outcome."""

    id: str
    created_at: datetime
    status: CommentStatus
    verdict: Verdict
    spam_probability: float
    excerpt: str = Field(description="The first 200 characters of its text.")

    model_config = ConfigDict(from_attributes=True)


class AuthorHistoryOut(BaseModel):
    """The author's earlier comments on the same site."""

    comments: list[AuthorCommentOut] = Field(description="The latest 20, newest first.")
    by_status: dict[str, int] = Field(description="All of them, counted per status.")

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, author: AuthorHistory) -> AuthorHistoryOut:
        """The answer for an author's history."""
        return cls.model_validate(author)


class ItemDetailOut(BaseModel):
    """One comment in full, for a moderator: the comment, its history, its author's past."""

    item: QueueItemOut
    history: list[HistoryEventOut] = Field(description="Every recorded change, oldest first.")
    author: AuthorHistoryOut

    @classmethod
    def of(cls, detail: ItemDetail) -> ItemDetailOut:
        """The answer for one item in full."""
        return cls(
            item=QueueItemOut.of(detail.item),
            history=[HistoryEventOut.of(e) for e in detail.history],
            author=AuthorHistoryOut.of(detail.author),
        )


class SiteCommentOut(CommentStatusOut):
    """A stored comment's decision and current status, as the site that sent it sees it."""

    moderated_by: str | None = Field(
        None, description="Who last changed its status: a moderator's name or site:<name>."
    )
    status_changed_at: datetime | None = Field(None, description="When its status last changed.")


Note = Annotated[str, Field(max_length=MAX_NOTE), AfterValidator(_clean)]
CommentId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
Action = Annotated[
    ModerationAction,
    Field(description="approve, spam, ham (not spam), trash or delete (forever)."),
    # Undo has its own endpoint: the schema offers only the actions these bodies take.
    WithJsonSchema(
        {
            "type": "string",
            "enum": [a.value for a in ModerationAction if a is not ModerationAction.UNDO],
        },
    ),
]


def _not_undo(action: ModerationAction) -> ModerationAction:
    if action is ModerationAction.UNDO:
        raise ValueError("undo is its own endpoint: POST /v1/comments/{id}/undo")
    return action


class ActionIn(BaseModel):
    """An action on one comment, with an optional note for its history."""

    action: Annotated[Action, AfterValidator(_not_undo)]
    note: Note = ""


class BulkActionIn(BaseModel):
    """An action on a selection of comments, applied in one transaction."""

    ids: list[CommentId] = Field(min_length=1, max_length=MAX_BULK)
    action: Annotated[Action, AfterValidator(_not_undo)]
    note: Note = ""


class UndoIn(BaseModel):
    """An optional note for the undo's history event."""

    note: Note = ""


class ActionResultOut(BaseModel):
    """What an action did to one comment."""

    id: str
    ok: bool
    status: CommentStatus | None = Field(
        description="The status now (null when deleted or when nothing happened)."
    )
    error: str | None = Field(description="not_found, nothing_to_undo or deleted; null when ok.")
    message: str = Field("", description="The error in words.")

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, result: ActionResult) -> ActionResultOut:
        """The answer for one result."""
        return cls.model_validate(result)


class BulkActionOut(BaseModel):
    """A result per id, in the order given (duplicates once)."""

    results: list[ActionResultOut]


class DayStatsOut(BaseModel):
    """One UTC day of the dashboard."""

    day: date
    spam_caught: int = Field(description="Comments the service judged spam.")
    false_positives: int = Field(description="Spam verdicts a moderator labelled ham that day.")
    missed_spam: int = Field(description="Approved comments a moderator labelled spam that day.")


class DashboardOut(BaseModel):
    """Work waiting per site, and how the filter did per day."""

    pending_by_site: dict[str, int]
    spam_by_site: dict[str, int]
    days: list[DayStatsOut]


# The filters


def queue_filter(
    status_: Annotated[
        list[CommentStatus] | None,
        Query(
            alias="status",
            description="Repeat for several; default pending and spam.",
        ),
    ] = None,
    site: Annotated[OptionalText, Query(max_length=200, description="A site name.")] = None,
    post_id: Annotated[OptionalText, Query(max_length=500)] = None,
    reason: Annotated[ReasonCode | None, Query(description="A reason code.")] = None,
    author_email: Annotated[
        OptionalText, Query(max_length=500, description="Compared case-insensitively.")
    ] = None,
    user_ip: Annotated[
        str | None,
        Query(max_length=100),
        AfterValidator(_clean),
        AfterValidator(_ip),
        WithJsonSchema(
            {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        ),
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601; UTC if no offset).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Created before.")] = None,
    text: Annotated[
        OptionalText,
        Query(
            max_length=MAX_TEXT_FILTER,
            description="Found in the text, author name, email or URL (literally: % and _ "
            "are plain characters).",
        ),
    ] = None,
) -> QueueFilter:
    """The filters of a queue request."""
    try:
        return QueueFilter(
            statuses=tuple(dict.fromkeys(status_))
            if status_
            else (CommentStatus.PENDING, CommentStatus.SPAM),
            site=_blank_is_none(site),
            post_id=_blank_is_none(post_id),
            reason=reason,
            author_email=_blank_is_none(author_email),
            user_ip=user_ip,
            since=as_utc(since),
            until=as_utc(until),
            text=_blank_is_none(text),
        )
    except ValueError as exc:
        raise _value_error(exc) from exc


FilterDep = Annotated[QueueFilter, Depends(queue_filter)]


# The endpoints


@router.get(
    "/v1/queue",
    response_model=QueuePageOut,
    responses={
        401: {"description": "No valid moderator token."},
        422: {"description": "A filter, the cursor or the limit is invalid; the detail names it."},
    },
)
def list_queue(
    moderator: ModeratorDep,
    queue: QueueDep,
    filters: FilterDep,
    sort: QueueSort = QueueSort.PROBABILITY,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> QueuePageOut:
    """Held and spam comments (or the statuses asked for) on the moderator's sites, a page at a
    time, with the counts of everything the filters match."""
    try:
        page = queue.list(moderator, filters, sort=sort, cursor=cursor, limit=limit)
    except ValueError as exc:
        raise _value_error(exc) from exc
    counts = queue.counts(moderator, filters)
    return QueuePageOut(
        items=[QueueItemOut.of(item) for item in page.items],
        next_cursor=page.next_cursor,
        counts=QueueCountsOut.of(counts),
    )


@router.get("/v1/queue/counts", response_model=QueueCountsOut)
def queue_counts(moderator: ModeratorDep, queue: QueueDep, filters: FilterDep) -> QueueCountsOut:
    """How many comments match, per status and per reason code."""
    return QueueCountsOut.of(queue.counts(moderator, filters))


@router.get("/v1/queue/dashboard", response_model=DashboardOut)
def dashboard(
    moderator: ModeratorDep,
    queue: QueueDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> DashboardOut:
    """Pending and spam comments per site, and per day the spam caught and the corrections."""
    board = queue.dashboard(moderator, now=datetime.now(UTC), days=days)
    return DashboardOut(
        pending_by_site=board.pending_by_site,
        spam_by_site=board.spam_by_site,
        days=[
            DayStatsOut(
                day=d.day,
                spam_caught=d.spam_caught,
                false_positives=d.false_positives,
                missed_spam=d.missed_spam,
            )
            for d in board.days
        ],
    )


_NOT_JSON: dict[int | str, dict[str, Any]] = {400: {"description": "The body is not JSON."}}


@router.post("/v1/queue/actions", response_model=BulkActionOut, responses=_NOT_JSON)
def bulk_action(moderator: ModeratorDep, queue: QueueDep, body: BulkActionIn) -> BulkActionOut:
    """Apply one action to up to 500 comments in one transaction; a result per id (not_found
    for an id that is absent or on a site the moderator cannot see)."""
    results = queue.act(moderator, body.ids, body.action, note=body.note)
    return BulkActionOut(results=[ActionResultOut.of(r) for r in results])


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such comment on the moderator's sites."}
}


@router.post(
    "/v1/comments/{comment_id}/actions",
    response_model=ActionResultOut,
    responses={**_NOT_JSON, **_NOT_FOUND},
)
def comment_action(
    comment_id: str, moderator: ModeratorDep, queue: QueueDep, body: ActionIn
) -> ActionResultOut:
    """Approve, mark spam, mark not spam, trash or delete forever one comment."""
    if not looks_like_id(comment_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such comment")
    result = queue.act(moderator, [comment_id], body.action, note=body.note)[0]
    if not result.ok:
        raise HTTPException(status.HTTP_404_NOT_FOUND, result.message)
    return ActionResultOut.of(result)


@router.post(
    "/v1/comments/{comment_id}/undo",
    response_model=ActionResultOut,
    responses={
        **_NOT_JSON,
        **_NOT_FOUND,
        409: {"description": "Nothing left to undo, or the comment was deleted forever."},
    },
)
def undo(
    comment_id: str, moderator: ModeratorDep, queue: QueueDep, body: UndoIn | None = None
) -> ActionResultOut:
    """Revert the latest action on the comment that is not undone yet (status and label)."""
    if not looks_like_id(comment_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such comment")
    result = queue.undo(moderator, comment_id, note=body.note if body else "")
    if result.error == ActionError.NOT_FOUND.value:
        raise HTTPException(status.HTTP_404_NOT_FOUND, result.message)
    if not result.ok:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"error": result.error, "message": result.message}
        )
    return ActionResultOut.of(result)


@router.get(
    "/v1/comments/{comment_id}/history",
    response_model=list[HistoryEventOut],
    responses=_NOT_FOUND,
)
def history(comment_id: str, moderator: ModeratorDep, queue: QueueDep) -> list[HistoryEventOut]:
    """Every recorded change of the comment, oldest first (kept after a delete forever)."""
    if not looks_like_id(comment_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such comment")
    return [HistoryEventOut.of(e) for e in queue.history(moderator, comment_id)]


# GET /v1/comments/{id} answers a site key and a moderator token alike (see api/check.py).

_either = HTTPBearer(
    auto_error=False,
    scheme_name="SiteKeyOrModeratorToken",
    description="The site's API key, or a moderator's token (mt_...).",
)


async def site_or_moderator(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_either)],
) -> Site | Moderator:
    """The moderator when a moderator token came, else the site whose key came; 401 otherwise."""
    if credentials is not None and credentials.credentials.startswith(TOKEN_PREFIX):
        return await current_moderator(await get_accounts(request), credentials)
    return await authenticated_site(store, credentials)


SiteOrModeratorDep = Annotated[Site | Moderator, Depends(site_or_moderator)]


def site_comment(row: dict[str, Any]) -> SiteCommentOut:
    """The site-key answer for a stored comment (columns as `Store.get_comment` gives them)."""
    changed = row.get("status_changed_at")
    if changed is not None and changed.tzinfo is None:
        changed = changed.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
    return SiteCommentOut(
        id=row["id"],
        verdict=row["verdict"],
        spam_probability=row["spam_probability"],
        reasons=row["reasons"],
        discard=row["discard"],
        model_version=row["model_version"],
        evidence=row["evidence"],
        status=row["status"],
        created_at=row["created_at"],
        moderated_by=row.get("moderated_by"),
        status_changed_at=changed,
    )
