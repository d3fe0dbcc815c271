"""Retention: old spam and trash, expired sessions and old webhook deliveries are deleted.

Rows go in batches, each in its own short transaction, so that a large purge never holds the
SQLite write lock (or PostgreSQL row locks) for long and the service keeps taking comments
meanwhile. The history of status changes (`comment_events`) is kept: it is append-only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, false, func, insert, select, text

from moderation.domain import CommentStatus
from moderation.policy import SitePolicy
from moderation.schema import (
    comments,
    labelled_samples,
    login_failures,
    moderator_sessions,
    reputation_marks,
    sites,
    webhook_deliveries,
)
from moderation.store import Store
from moderation.webhooks import DeliveryState

# Delivered and failed webhook calls are kept this long for the admin to look at.
DELIVERY_RETENTION_DAYS = 30
# Failed logins only count within the login window (at most a day); older rows are dead weight.
LOGIN_FAILURE_RETENTION = timedelta(days=1)
# Two purges at once (cron overlapping a manual run, or two instances) take turns batch by
# batch on PostgreSQL; SQLite's write lock does that by itself.
_PURGE_LOCK = text("SELECT pg_advisory_xact_lock(727275)")


@dataclass(frozen=True, slots=True)
class SitePurge:
    """What a purge removed (or, dry, would remove) from one site."""

    site: str
    spam: int
    trash: int
    spam_retention_days: int
    trash_retention_days: int


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge removed, site by site and in total."""

    sites: tuple[SitePurge, ...]
    sessions: int
    deliveries: int
    dry_run: bool
    login_failures: int = 0

    @property
    def spam(self) -> int:
        """Spam comments removed on every site."""
        return sum(s.spam for s in self.sites)

    @property
    def trash(self) -> int:
        """Trashed comments removed on every site."""
        return sum(s.trash for s in self.sites)

    @property
    def total(self) -> int:
        """Every row removed."""
        return self.spam + self.trash + self.sessions + self.deliveries + self.login_failures


def _spam_condition(site_id: int, cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        comments.c.site_id == site_id,
        comments.c.status == CommentStatus.SPAM.value,
        comments.c.created_at < cutoff,
    )


def _trash_condition(site_id: int, cutoff: datetime) -> ColumnElement[bool]:
    # Trash ages from the moment it was trashed; rows from before that was recorded, from
    # their arrival.
    return and_(
        comments.c.site_id == site_id,
        comments.c.status == CommentStatus.TRASH.value,
        func.coalesce(comments.c.status_changed_at, comments.c.created_at) < cutoff,
    )


def _keep_labelled(ids: Sequence[str], condition: ColumnElement[bool]) -> Any:
    """Copy the labelled comments among `ids` into the training samples, as a correction is."""
    c = comments.c
    source = select(
        c.id,
        c.site_id,
        c.label,
        func.coalesce(c.label_source, "moderator"),
        func.coalesce(c.labelled_at, c.created_at),
        c.id,
        c.content,
        c.author_name,
        c.author_email,
        c.author_url,
        c.permalink,
        c.user_ip,
        c.user_agent,
    ).where(c.id.in_(ids), condition, c.label.is_not(None), c.is_test == false())
    columns = ["id", "site_id", "label", "label_source", "created_at", "guid", "content"]
    columns += ["author_name", "author_email", "author_url", "permalink", "user_ip", "user_agent"]
    return insert(labelled_samples).from_select(columns, source)


class _Purger:
    def __init__(self, store: Store, *, dry_run: bool, batch: int) -> None:
        self.store = store
        self.dry_run = dry_run
        self.batch = batch

    def count(self, table: Table, condition: ColumnElement[bool]) -> int:
        with self.store.reading() as conn:
            query = select(func.count()).select_from(table).where(condition)
            return int(conn.execute(query).scalar_one())

    def _lock(self, conn: Any) -> None:
        if self.store.dialect == "postgresql":
            conn.execute(_PURGE_LOCK)

    def comments(self, condition: ColumnElement[bool]) -> int:
        """Delete the comments matching `condition` and their reputation marks, batch by batch."""
        if self.dry_run:
            return self.count(comments, condition)
        removed = 0
        while True:
            # The ids are chosen outside the write transaction; the delete checks the condition
            # again, so a comment rescued in between (or removed by another purge) is left.
            with self.store.reading() as conn:
                ids = list(
                    conn.execute(select(comments.c.id).where(condition).limit(self.batch))
                    .scalars()
                    .all()
                )
            if not ids:
                return removed
            with self.store.writing() as conn:
                self._lock(conn)
                # A decision outlives the comment it was about: a labelled comment stays on as
                # a training sample (`moderation forget` erases an author there too).
                conn.execute(_keep_labelled(ids, condition))
                gone = list(
                    conn.execute(
                        delete(comments)
                        .where(comments.c.id.in_(ids), condition)
                        .returning(comments.c.id)
                    )
                    .scalars()
                    .all()
                )
                if gone:
                    conn.execute(
                        delete(reputation_marks).where(reputation_marks.c.comment_id.in_(gone))
                    )
            removed += len(gone)
            if len(ids) < self.batch:
                return removed

    def rows(self, table: Table, key: Any, condition: ColumnElement[bool]) -> int:
        """Delete the rows of `table` matching `condition`, batch by batch; how many went."""
        if self.dry_run:
            return self.count(table, condition)
        removed = 0
        while True:
            with self.store.reading() as conn:
                keys: Sequence[Any] = (
                    conn.execute(select(key).where(condition).limit(self.batch)).scalars().all()
                )
            if not keys:
                return removed
            with self.store.writing() as conn:
                self._lock(conn)
                result = conn.execute(delete(table).where(key.in_(keys), condition))
            removed += int(result.rowcount)
            if len(keys) < self.batch:
                return removed


def purge(store: Store, *, now: datetime, dry_run: bool = False, batch: int = 1000) -> PurgeReport:
    """Delete what is past its retention as of `now`; with `dry_run`, only count it.

    Per site, spam older than its policy's `spam_retention_days` (by arrival) and trash older
    than `trash_retention_days` (by when it was trashed), with their reputation marks; 0 days
    keeps them forever. Also expired moderator sessions, and delivered or failed webhook
    deliveries older than DELIVERY_RETENTION_DAYS, and failed logins older than a day. Safe to
    run twice at once: each row is counted by the run that deleted it.
    """
    purger = _Purger(store, dry_run=dry_run, batch=batch)
    with store.reading() as conn:
        site_rows = conn.execute(
            select(sites.c.id, sites.c.name, sites.c.policy).order_by(sites.c.name)
        ).all()
    reports = []
    for row in site_rows:
        policy = SitePolicy.from_dict(_policy_json(row.policy))
        spam = trash = 0
        if policy.spam_retention_days:
            cutoff = now - timedelta(days=policy.spam_retention_days)
            spam = purger.comments(_spam_condition(row.id, cutoff))
        if policy.trash_retention_days:
            cutoff = now - timedelta(days=policy.trash_retention_days)
            trash = purger.comments(_trash_condition(row.id, cutoff))
        reports.append(
            SitePurge(
                site=row.name,
                spam=spam,
                trash=trash,
                spam_retention_days=policy.spam_retention_days,
                trash_retention_days=policy.trash_retention_days,
            )
        )
    sessions = purger.rows(
        moderator_sessions, moderator_sessions.c.id_hash, moderator_sessions.c.expires_at < now
    )
    deliveries = purger.rows(
        webhook_deliveries,
        webhook_deliveries.c.id,
        and_(
            webhook_deliveries.c.state.in_(
                [DeliveryState.DELIVERED.value, DeliveryState.FAILED.value]
            ),
            webhook_deliveries.c.created_at < now - timedelta(days=DELIVERY_RETENTION_DAYS),
        ),
    )
    failures = purger.rows(
        login_failures,
        login_failures.c.id,
        login_failures.c.created_at < now - LOGIN_FAILURE_RETENTION,
    )
    return PurgeReport(
        sites=tuple(reports),
        sessions=sessions,
        deliveries=deliveries,
        dry_run=dry_run,
        login_failures=failures,
    )


def _policy_json(raw: str) -> dict[str, Any]:
    data = json.loads(raw)
    return data if isinstance(data, dict) else {}
