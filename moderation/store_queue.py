"""The moderation queue in the database: listings, counts, one comment in full, actions, undo.

Every status change goes through `apply_action` / `_change`, in the caller's transaction: the
comment's status and label, an append-only `comment_events` row, the comment's reputation marks
and, when the site has a webhook, a pending `webhook_deliveries` row.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
)

from moderation.domain import (
    CommentStatus,
    Evidence,
    Label,
    ModerationAction,
    Reason,
    ReasonCode,
    Verdict,
)
from moderation.links import link_domains
from moderation.queue import (
    LIKE_ESCAPE,
    MAX_BULK,
    ActionError,
    MarkKind,
    QueueFilter,
    QueueSort,
    clamp_limit,
    contains_pattern,
    decode_cursor,
    encode_cursor,
    is_labelling,
    looks_like_id,
    marked_domains,
    reason_pattern,
    transition,
    undo_stack,
)
from moderation.schema import comment_events, comments, reputation_marks, sites, webhook_deliveries
from moderation.store import NotFoundError, Store, email_key
from moderation.store_accounts import Moderator
from moderation.webhooks import DeliveryState

WEBHOOK_EVENT = "comment.status_changed"
LABEL_SOURCE_MODERATOR = "moderator"
DELETED_STATUS = "deleted"  # the webhook body's to_status for a comment deleted forever
_HISTORY_OF_AUTHOR = 20
_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A stored comment as a moderator sees it: everything the author sent, and its outcome."""

    id: str
    site_id: int
    site_name: str
    external_id: str | None
    post_id: str
    permalink: str
    author_name: str
    author_email: str
    author_url: str
    user_ip: str
    user_agent: str
    content: str
    created_at: datetime
    status: CommentStatus
    verdict: Verdict
    spam_probability: float
    reasons: tuple[Reason, ...]
    evidence: tuple[Evidence, ...]
    label: Label | None
    moderated_by: str | None
    status_changed_at: datetime | None
    label_source: str | None = None
    discard: bool = False
    model_version: str = ""
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of a listing; `next_cursor` continues it (None: this was the last page)."""

    items: tuple[QueueItem, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How many comments match: per status (the status filter aside) and per reason code."""

    by_status: dict[str, int]
    by_reason: dict[str, int]


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One recorded state change of a comment: who, when, from which state to which, why."""

    id: int
    action: ModerationAction
    actor: str
    from_status: CommentStatus
    to_status: CommentStatus
    from_label: Label | None
    to_label: Label | None
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuthorComment:
    """An earlier comment by the same author (same email or IP) and its outcome."""

    id: str
    created_at: datetime
    status: CommentStatus
    verdict: Verdict
    spam_probability: float
    excerpt: str


@dataclass(frozen=True, slots=True)
class AuthorHistory:
    """The author's earlier comments on the site (latest first, at most 20) and all their counts."""

    comments: tuple[AuthorComment, ...]
    by_status: dict[str, int]


@dataclass(frozen=True, slots=True)
class ItemDetail:
    """One comment in full, with its recorded history and its author's earlier comments."""

    item: QueueItem
    history: tuple[HistoryEvent, ...]
    author: AuthorHistory


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of an action on one comment: its new status, or why nothing happened."""

    id: str
    ok: bool
    status: CommentStatus | None
    error: str | None
    message: str = ""


@dataclass(frozen=True, slots=True)
class DayStats:
    """One UTC day: spam the service caught, and the moderators' corrections either way."""

    day: date
    spam_caught: int
    false_positives: int
    missed_spam: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Work waiting per site, and how the filter did per day."""

    pending_by_site: dict[str, int]
    spam_by_site: dict[str, int]
    days: tuple[DayStats, ...]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a status: a moderator (name and id), or a blog (`site:<name>`)."""

    name: str
    moderator_id: int | None = None

    @classmethod
    def of(cls, moderator: Moderator) -> Actor:
        """The actor a moderator acts as."""
        return cls(moderator.name, moderator.id)

    @classmethod
    def site(cls, site_name: str) -> Actor:
        """The actor a blog's own moderator acts as (Akismet's submit-spam / submit-ham)."""
        return cls(f"site:{site_name}")


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: every stored time is UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _at(value: datetime | None) -> datetime:
    return _utc(value) or datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as the webhook bodies carry times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_body(
    *,
    delivery_event_id: int,
    site: str,
    comment_id: str,
    external_id: str | None,
    post_id: str,
    action: ModerationAction,
    from_status: CommentStatus,
    to_status: CommentStatus | None,
    label: Label | None,
    actor: str,
    at: datetime,
) -> str:
    """The compact JSON a site's webhook receives for one status change (None: deleted)."""
    return json.dumps(
        {
            "event": WEBHOOK_EVENT,
            "delivery_event_id": delivery_event_id,
            "site": site,
            "comment_id": comment_id,
            "external_id": external_id,
            "post_id": post_id,
            "action": action.value,
            "from_status": from_status.value,
            "to_status": to_status.value if to_status is not None else DELETED_STATUS,
            "label": label.value if label is not None else None,
            "actor": actor,
            "at": iso_utc(at),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _label(value: str | None) -> Label | None:
    return Label(value) if value else None


_ROW_COLUMNS = (
    comments.c.id,
    comments.c.site_id,
    comments.c.external_id,
    comments.c.post_id,
    comments.c.status,
    comments.c.label,
    comments.c.is_test,
    comments.c.user_ip,
    comments.c.author_email_key,
    comments.c.author_url,
    comments.c.content,
    sites.c.name.label("site_name"),
    sites.c.webhook_url,
)


def _rows_for_change(conn: Connection, ids: Sequence[str], visible: Any) -> dict[str, Any]:
    """The comments to change, by id, locked until the transaction ends (on PostgreSQL)."""
    found: dict[str, Any] = {}
    for start in range(0, len(ids), MAX_BULK):
        chunk = list(ids[start : start + MAX_BULK])
        rows = conn.execute(
            select(*_ROW_COLUMNS)
            .join(sites, sites.c.id == comments.c.site_id)
            .where(comments.c.id.in_(chunk), visible)
            # Rows are locked in id order, so two overlapping selections cannot deadlock.
            .order_by(comments.c.id)
            .with_for_update(of=comments)
        ).all()
        found.update((row.id, row) for row in rows)
    return found


def _replace_marks(conn: Connection, row: Any, label: Label | None, now: datetime) -> None:
    """Make the comment's reputation marks those of `label` (none for no label or test traffic)."""
    conn.execute(delete(reputation_marks).where(reputation_marks.c.comment_id == row.id))
    if label is None or row.is_test:
        return
    marks: list[tuple[MarkKind, str]] = []
    if label is Label.SPAM:
        if row.user_ip:
            marks.append((MarkKind.IP, row.user_ip))
        if row.author_email_key:
            marks.append((MarkKind.EMAIL, row.author_email_key))
        domains = marked_domains(link_domains(row.content, row.author_url))
        marks.extend((MarkKind.DOMAIN, domain) for domain in domains)
    elif row.author_email_key:
        marks.append((MarkKind.EMAIL, row.author_email_key))
    if marks:
        conn.execute(
            insert(reputation_marks),
            [
                {
                    "site_id": row.site_id,
                    "kind": kind.value,
                    "value": value[:500],
                    "label": label.value,
                    "comment_id": row.id,
                    "created_at": now,
                }
                for kind, value in marks
            ],
        )


def _record(
    conn: Connection,
    row: Any,
    action: ModerationAction,
    *,
    actor: Actor,
    note: str,
    now: datetime,
    to_status: CommentStatus | None,
    to_label: Label | None,
) -> int:
    """Write the history event and, when the site has a webhook, the delivery owed; the event id."""
    from_status = CommentStatus(row.status)
    from_label = _label(row.label)
    event_id = int(
        conn.execute(
            insert(comment_events)
            .values(
                site_id=row.site_id,
                comment_id=row.id,
                action=action.value,
                actor=actor.name[:200],
                moderator_id=actor.moderator_id,
                from_status=from_status.value,
                # A comment deleted forever keeps, in its last event, the status it had.
                to_status=(to_status or from_status).value,
                from_label=from_label.value if from_label else None,
                to_label=to_label.value if to_label else None,
                note=note,
                created_at=now,
            )
            .returning(comment_events.c.id)
        ).scalar_one()
    )
    if row.webhook_url:
        body = webhook_body(
            delivery_event_id=event_id,
            site=row.site_name,
            comment_id=row.id,
            external_id=row.external_id,
            post_id=row.post_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            label=to_label,
            actor=actor.name,
            at=now,
        )
        conn.execute(
            insert(webhook_deliveries).values(
                site_id=row.site_id,
                comment_id=row.id,
                event_id=event_id,
                url=row.webhook_url,
                body=body,
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return event_id


def _change(
    conn: Connection,
    row: Any,
    action: ModerationAction,
    *,
    actor: Actor,
    note: str,
    now: datetime,
    label_source: str,
) -> ActionResult:
    """Apply approve, spam, ham, trash or delete to one locked comment row."""
    if action is ModerationAction.UNDO:
        raise ValueError("undo is not an action on a selection: use undo()")
    if action is ModerationAction.DELETE:
        _record(conn, row, action, actor=actor, note=note, now=now, to_status=None, to_label=None)
        conn.execute(delete(reputation_marks).where(reputation_marks.c.comment_id == row.id))
        conn.execute(delete(comments).where(comments.c.id == row.id))
        return ActionResult(row.id, True, None, None)
    status, label = transition(action, CommentStatus(row.status), _label(row.label))
    values: dict[str, Any] = {"moderated_by": actor.name[:200]}
    if is_labelling(action):
        # A label given again is still a decision: its source and time are brought up to date.
        values.update(
            label=label.value if label else None, label_source=label_source, labelled_at=now
        )
        _replace_marks(conn, row, label, now)
    # Doing again what is already done (approving an approved, ham-labelled comment) changes
    # no state: it records no event and calls no webhook.
    if status.value != row.status or (label.value if label else None) != row.label:
        _record(
            conn, row, action, actor=actor, note=note, now=now, to_status=status, to_label=label
        )
        values.update(status=status.value, status_changed_at=now)
    conn.execute(comments.update().where(comments.c.id == row.id).values(values))
    return ActionResult(row.id, True, status, None)


def apply_action(
    conn: Connection,
    comment_id: str,
    action: ModerationAction,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
    label_source: str = LABEL_SOURCE_MODERATOR,
) -> ActionResult:
    """Apply an action to one comment in the caller's transaction (status, label, history,
    reputation marks, webhook delivery); a not_found result when there is no such comment."""
    row = _rows_for_change(conn, [comment_id], true()).get(comment_id)
    if row is None:
        return _failed(comment_id, ActionError.NOT_FOUND)
    return _change(conn, row, action, actor=actor, note=note, now=now, label_source=label_source)


_MESSAGES = {
    ActionError.NOT_FOUND: "no such comment",
    ActionError.NOTHING_TO_UNDO: "nothing to undo: no action on this comment is left to revert",
    ActionError.DELETED: "the comment was deleted forever: that cannot be undone",
}


def _failed(comment_id: str, error: ActionError) -> ActionResult:
    return ActionResult(comment_id, False, None, error.value, _MESSAGES[error])


def _visible(moderator: Moderator) -> Any:
    """The condition on comments that keeps to the sites the moderator can see."""
    if moderator.is_admin:
        return true()
    if not moderator.site_ids:
        return false()
    return comments.c.site_id.in_(sorted(moderator.site_ids))


def _conditions(moderator: Moderator, filters: QueueFilter, *, statuses: bool) -> list[Any]:
    """The WHERE conditions of a listing; every value is a bound parameter."""
    out = [_visible(moderator)]
    if statuses:
        out.append(comments.c.status.in_([s.value for s in filters.statuses]))
    if filters.site is not None:
        site_id = select(sites.c.id).where(sites.c.name == filters.site).scalar_subquery()
        out.append(comments.c.site_id == site_id)
    if filters.post_id is not None:
        out.append(comments.c.post_id == filters.post_id)
    if filters.reason is not None:
        out.append(comments.c.reasons.like(reason_pattern(filters.reason), escape=LIKE_ESCAPE))
    if filters.author_email is not None:
        out.append(comments.c.author_email_key == email_key(filters.author_email))
    if filters.user_ip is not None:
        out.append(comments.c.user_ip == filters.user_ip)
    if filters.since is not None:
        out.append(comments.c.created_at >= filters.since)
    if filters.until is not None:
        out.append(comments.c.created_at < filters.until)
    if filters.text:
        pattern = contains_pattern(filters.text)
        out.append(
            or_(
                *(
                    column.ilike(pattern, escape=LIKE_ESCAPE)
                    for column in (
                        comments.c.content,
                        comments.c.author_name,
                        comments.c.author_email,
                        comments.c.author_url,
                    )
                )
            )
        )
    return out


def _after(sort: QueueSort, cursor: str) -> Any:
    """The keyset condition: rows strictly after the cursor's (sort key, id) in `sort` order."""
    at = decode_cursor(cursor, sort)
    p, created, row_id = comments.c.spam_probability, comments.c.created_at, comments.c.id
    if sort is QueueSort.PROBABILITY:
        return or_(p < at.probability, and_(p == at.probability, row_id > at.id))
    if sort is QueueSort.NEWEST:
        return or_(created < at.created_at, and_(created == at.created_at, row_id < at.id))
    return or_(created > at.created_at, and_(created == at.created_at, row_id > at.id))


_ORDER = {
    QueueSort.PROBABILITY: (comments.c.spam_probability.desc(), comments.c.id.asc()),
    QueueSort.NEWEST: (comments.c.created_at.desc(), comments.c.id.desc()),
    QueueSort.OLDEST: (comments.c.created_at.asc(), comments.c.id.asc()),
}


def _item(row: Any) -> QueueItem:
    reasons = tuple(Reason(ReasonCode(r["code"]), r["message"]) for r in json.loads(row.reasons))
    evidence = tuple(Evidence(e["term"], float(e["weight"])) for e in json.loads(row.evidence))
    return QueueItem(
        id=row.id,
        site_id=int(row.site_id),
        site_name=row.site_name,
        external_id=row.external_id,
        post_id=row.post_id,
        permalink=row.permalink,
        author_name=row.author_name,
        author_email=row.author_email,
        author_url=row.author_url,
        user_ip=row.user_ip,
        user_agent=row.user_agent,
        content=row.content,
        created_at=_at(row.created_at),
        status=CommentStatus(row.status),
        verdict=Verdict(row.verdict),
        spam_probability=float(row.spam_probability),
        reasons=reasons,
        evidence=evidence,
        label=_label(row.label),
        moderated_by=row.moderated_by,
        status_changed_at=_utc(row.status_changed_at),
        label_source=row.label_source,
        discard=bool(row.discard),
        model_version=row.model_version,
        is_test=bool(row.is_test),
    )


_ITEM_QUERY = select(comments, sites.c.name.label("site_name")).join(
    sites, sites.c.id == comments.c.site_id
)


def _event(row: Any) -> HistoryEvent:
    return HistoryEvent(
        id=int(row.id),
        action=ModerationAction(row.action),
        actor=row.actor,
        from_status=CommentStatus(row.from_status),
        to_status=CommentStatus(row.to_status),
        from_label=_label(row.from_label),
        to_label=_label(row.to_label),
        note=row.note,
        created_at=_at(row.created_at),
    )


class QueueStore:
    """The moderation queue of a store, as each moderator may see it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # Reading

    def list(
        self,
        moderator: Moderator,
        filters: QueueFilter,
        *,
        sort: QueueSort = QueueSort.PROBABILITY,
        cursor: str | None = None,
        limit: int = 50,
    ) -> QueuePage:
        """A page of the comments matching `filters` on the moderator's sites, in `sort` order.

        ValueError for a limit outside 1..200 or a cursor this listing did not give.
        """
        limit = clamp_limit(limit)
        query = _ITEM_QUERY.where(*_conditions(moderator, filters, statuses=True))
        if cursor:
            query = query.where(_after(sort, cursor))
        query = query.order_by(*_ORDER[sort]).limit(limit + 1)
        with self.store.reading() as conn:
            rows = conn.execute(query).all()
        items = tuple(_item(row) for row in rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(
                sort,
                probability=last.spam_probability,
                created_at=last.created_at,
                row_id=last.id,
            )
        return QueuePage(items, next_cursor)

    def counts(self, moderator: Moderator, filters: QueueFilter) -> QueueCounts:
        """Per status, the comments matching every filter but the status one (every status is
        listed, 0 included); per reason code, those matching all filters (codes with none left
        out)."""
        by_status_query = (
            select(comments.c.status, func.count())
            .where(*_conditions(moderator, filters, statuses=False))
            .group_by(comments.c.status)
        )
        sums = [
            func.coalesce(
                func.sum(
                    case(
                        (comments.c.reasons.like(reason_pattern(code), escape=LIKE_ESCAPE), 1),
                        else_=0,
                    )
                ),
                0,
            ).label(code.value)
            for code in ReasonCode
        ]
        by_reason_query = select(*sums).where(*_conditions(moderator, filters, statuses=True))
        with self.store.reading() as conn:
            statuses: dict[str, int] = dict(conn.execute(by_status_query).all())
            reasons = conn.execute(by_reason_query).one()._mapping
        return QueueCounts(
            by_status={s.value: int(statuses.get(s.value, 0)) for s in CommentStatus},
            by_reason={code: int(n) for code, n in reasons.items() if n},
        )

    def item(self, moderator: Moderator, comment_id: str) -> ItemDetail:
        """One comment in full with its history and its author's earlier comments on the site;
        NotFoundError when there is none, or it is on a site the moderator cannot see."""
        if not looks_like_id(comment_id):
            raise NotFoundError("no such comment")
        with self.store.reading() as conn:
            row = conn.execute(
                _ITEM_QUERY.where(comments.c.id == comment_id, _visible(moderator))
            ).first()
            if row is None:
                raise NotFoundError("no such comment")
            item = _item(row)
            history = self._events(conn, comment_id)
            author = self._author(conn, row)
        return ItemDetail(item, history, author)

    def _events(self, conn: Connection, comment_id: str) -> tuple[HistoryEvent, ...]:
        rows = conn.execute(
            select(comment_events)
            .where(comment_events.c.comment_id == comment_id)
            .order_by(comment_events.c.id)
        ).all()
        return tuple(_event(row) for row in rows)

    def _author(self, conn: Connection, row: Any) -> AuthorHistory:
        same = []
        if row.author_email_key:
            same.append(comments.c.author_email_key == row.author_email_key)
        if row.user_ip:
            same.append(comments.c.user_ip == row.user_ip)
        if not same:
            return AuthorHistory((), {})  # an anonymous comment has no author to follow
        earlier = (
            comments.c.site_id == row.site_id,
            comments.c.id != row.id,
            comments.c.created_at <= row.created_at,
            or_(*same),
        )
        rows = conn.execute(
            select(
                comments.c.id,
                comments.c.created_at,
                comments.c.status,
                comments.c.verdict,
                comments.c.spam_probability,
                func.substr(comments.c.content, 1, _EXCERPT).label("excerpt"),
            )
            .where(*earlier)
            .order_by(comments.c.created_at.desc(), comments.c.id.desc())
            .limit(_HISTORY_OF_AUTHOR)
        ).all()
        counts = conn.execute(
            select(comments.c.status, func.count()).where(*earlier).group_by(comments.c.status)
        ).all()
        return AuthorHistory(
            comments=tuple(
                AuthorComment(
                    id=r.id,
                    created_at=_at(r.created_at),
                    status=CommentStatus(r.status),
                    verdict=Verdict(r.verdict),
                    spam_probability=float(r.spam_probability),
                    excerpt=r.excerpt,
                )
                for r in rows
            ),
            by_status={status: int(n) for status, n in counts},
        )

    def history(self, moderator: Moderator, comment_id: str) -> tuple[HistoryEvent, ...]:
        """Every recorded change of a comment, oldest first (also of one deleted forever);
        NotFoundError when there is none the moderator can see."""
        if not looks_like_id(comment_id):
            raise NotFoundError("no such comment")
        with self.store.reading() as conn:
            site_id = self._site_of(conn, comment_id)
            if site_id is None or not moderator.can_see(site_id):
                raise NotFoundError("no such comment")
            return self._events(conn, comment_id)

    def _site_of(self, conn: Connection, comment_id: str) -> int | None:
        """The site of a comment, or of the history it left when deleted forever."""
        site_id = conn.execute(select(comments.c.site_id).where(comments.c.id == comment_id))
        found = site_id.scalar()
        if found is None:
            found = conn.execute(
                select(comment_events.c.site_id)
                .where(comment_events.c.comment_id == comment_id)
                .limit(1)
            ).scalar()
        return None if found is None else int(found)

    # Acting

    def act(
        self,
        moderator: Moderator,
        ids: Sequence[str],
        action: ModerationAction,
        *,
        note: str = "",
        now: datetime | None = None,
    ) -> builtins.list[ActionResult]:
        """Apply an action to each comment named, all in one transaction; a result per id
        (not_found for one that is absent or on a site the moderator cannot see).

        ValueError for undo (see `undo`), or more than 500 ids.
        """
        if action is ModerationAction.UNDO:
            raise ValueError("action: undo one comment at a time")
        wanted = list(dict.fromkeys(ids))
        if len(wanted) > MAX_BULK:
            raise ValueError(f"ids: at most {MAX_BULK} at once")
        now = now or datetime.now(UTC)
        actor = Actor.of(moderator)
        with self.store.writing() as conn:
            rows = _rows_for_change(
                conn, [i for i in wanted if looks_like_id(i)], _visible(moderator)
            )
            results = {
                comment_id: _change(
                    conn,
                    row,
                    action,
                    actor=actor,
                    note=note,
                    now=now,
                    label_source=LABEL_SOURCE_MODERATOR,
                )
                for comment_id, row in rows.items()
            }
        return [results.get(i) or _failed(i, ActionError.NOT_FOUND) for i in wanted]

    def undo(
        self, moderator: Moderator, comment_id: str, *, note: str = "", now: datetime | None = None
    ) -> ActionResult:
        """Revert the latest action on the comment not yet undone: its status and label go back
        to what they were before it, recorded as an undo event. Errors: not_found, deleted
        (deleted forever), nothing_to_undo."""
        if not looks_like_id(comment_id):
            return _failed(comment_id, ActionError.NOT_FOUND)
        now = now or datetime.now(UTC)
        with self.store.writing() as conn:
            row = _rows_for_change(conn, [comment_id], _visible(moderator)).get(comment_id)
            if row is None:
                site_id = self._site_of(conn, comment_id)
                if site_id is not None and moderator.can_see(site_id):
                    return _failed(comment_id, ActionError.DELETED)
                return _failed(comment_id, ActionError.NOT_FOUND)
            events = conn.execute(
                select(
                    comment_events.c.id,
                    comment_events.c.action,
                    comment_events.c.from_status,
                    comment_events.c.from_label,
                )
                .where(comment_events.c.comment_id == comment_id)
                .order_by(comment_events.c.id)
            ).all()
            in_force = undo_stack([(int(e.id), ModerationAction(e.action)) for e in events])
            if not in_force:
                return _failed(comment_id, ActionError.NOTHING_TO_UNDO)
            target = next(e for e in events if int(e.id) == in_force[-1])
            status = CommentStatus(target.from_status)
            label = _label(target.from_label)
            _record(
                conn,
                row,
                ModerationAction.UNDO,
                actor=Actor.of(moderator),
                note=note,
                now=now,
                to_status=status,
                to_label=label,
            )
            values: dict[str, Any] = {
                "status": status.value,
                "status_changed_at": now,
                "moderated_by": moderator.name[:200],
            }
            if (label.value if label else None) != row.label:
                values.update(
                    label=label.value if label else None,
                    label_source=LABEL_SOURCE_MODERATOR if label else None,
                    labelled_at=now if label else None,
                )
                _replace_marks(conn, row, label, now)
            conn.execute(comments.update().where(comments.c.id == comment_id).values(values))
        return ActionResult(comment_id, True, status, None)

    # The dashboard

    def dashboard(self, moderator: Moderator, *, now: datetime, days: int = 30) -> Dashboard:
        """Pending and spam comments per visible site, and per UTC day of the last `days` (today
        included): spam the service caught (verdict spam), and the moderators' labels that
        contradict the verdict (false positives: ham labels on spam; missed spam: spam labels
        on approved). Test traffic is left out."""
        if not 1 <= days <= 366:
            raise ValueError("days: must be between 1 and 366")
        today = now.astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        visible = _visible(moderator)
        waiting = (
            select(sites.c.name, comments.c.status, func.count())
            .join(sites, sites.c.id == comments.c.site_id)
            .where(
                visible,
                comments.c.status.in_([CommentStatus.PENDING.value, CommentStatus.SPAM.value]),
            )
            .group_by(sites.c.name, comments.c.status)
        )
        caught_day = self._day(comments.c.created_at)
        caught = (
            select(caught_day, func.count())
            .where(
                visible,
                comments.c.is_test == false(),
                comments.c.created_at >= start,
                comments.c.verdict == Verdict.SPAM.value,
            )
            .group_by(caught_day)
        )
        labelled_day = self._day(comments.c.labelled_at)
        corrections = (
            select(
                labelled_day,
                func.sum(case((comments.c.label == Label.HAM.value, 1), else_=0)),
                func.sum(case((comments.c.label == Label.SPAM.value, 1), else_=0)),
            )
            .where(
                visible,
                comments.c.is_test == false(),
                comments.c.labelled_at >= start,
                or_(
                    and_(
                        comments.c.label == Label.HAM.value,
                        comments.c.verdict == Verdict.SPAM.value,
                    ),
                    and_(
                        comments.c.label == Label.SPAM.value,
                        comments.c.verdict == Verdict.APPROVE.value,
                    ),
                ),
            )
            .group_by(labelled_day)
        )
        pending: dict[str, int] = {}
        spam: dict[str, int] = {}
        with self.store.reading() as conn:
            for name, status, n in conn.execute(waiting).all():
                target = pending if status == CommentStatus.PENDING.value else spam
                target[name] = int(n)
            caught_by_day = {_as_date(d): int(n) for d, n in conn.execute(caught).all()}
            fixed_by_day = {
                _as_date(d): (int(fp or 0), int(ms or 0))
                for d, fp, ms in conn.execute(corrections).all()
            }
        out = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            false_positives, missed = fixed_by_day.get(day, (0, 0))
            out.append(DayStats(day, caught_by_day.get(day, 0), false_positives, missed))
        return Dashboard(pending, spam, tuple(out))

    def _day(self, column: Any) -> Any:
        """The UTC calendar day of a stored time, in SQL."""
        if self.store.dialect == "postgresql":
            return func.date(func.timezone("UTC", column))
        return func.date(column)  # SQLite stores UTC text: date() reads its first part


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
