"""Retention: `purge` removes old spam and trash, expired sessions, old deliveries; only those."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, func, insert, select

from moderation.app import open_store
from moderation.domain import CommentStatus
from moderation.policy import PolicyError, SitePolicy
from moderation.schema import (
    comment_events,
    comments,
    labelled_samples,
    moderator_sessions,
    moderators,
    reputation_marks,
    webhook_deliveries,
)
from moderation.store import Store
from moderation.store_retention import purge
from moderation.webhooks import DeliveryState
from tests.conftest import make_settings

NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[Store]:
    store = open_store(make_settings(tmp_path, database_url))
    store.create_site("blog")
    store.create_site("archive", policy=SitePolicy(spam_retention_days=7, trash_retention_days=0))
    yield store
    store.engine.dispose()


def add_comment(
    store: Store,
    site: str,
    status: CommentStatus,
    *,
    age_days: float,
    changed_days: float | None = None,
    marks: int = 0,
    events: int = 0,
    label: str | None = None,
    is_test: bool = False,
) -> str:
    """A stored comment that arrived `age_days` ago (status changed `changed_days` ago)."""
    comment_id = str(uuid.uuid4())
    site_id = store.get_site(site).id
    with store.writing() as conn:
        conn.execute(
            insert(comments).values(
                id=comment_id, site_id=site_id, content="text", content_hash=comment_id,
                created_at=NOW - timedelta(days=age_days), status=status.value,
                verdict="hold", spam_probability=0.5, discard=False, reasons="[]", evidence="[]",
                model_version="test", label=label, is_test=is_test,
                labelled_at=None if label is None else NOW - timedelta(days=age_days),
                status_changed_at=None if changed_days is None
                else NOW - timedelta(days=changed_days),
            )
        )  # fmt: skip
        for n in range(marks):
            conn.execute(
                insert(reputation_marks).values(
                    site_id=site_id, kind="ip", value=f"192.0.2.{n}", label="spam",
                    comment_id=comment_id, created_at=NOW,
                )
            )  # fmt: skip
        for _ in range(events):
            conn.execute(
                insert(comment_events).values(
                    site_id=site_id, comment_id=comment_id, action="spam", actor="ada",
                    from_status="pending", to_status=status.value, note="", created_at=NOW,
                )
            )  # fmt: skip
    return comment_id


def remaining(store: Store) -> set[str]:
    with store.reading() as conn:
        return set(conn.execute(select(comments.c.id)).scalars())


def count(store: Store, table: Table) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_only_what_is_past_its_sites_retention_goes(store: Store) -> None:
    keep = {
        add_comment(store, "blog", CommentStatus.SPAM, age_days=29),
        add_comment(store, "blog", CommentStatus.APPROVED, age_days=400),
        add_comment(store, "blog", CommentStatus.PENDING, age_days=400),
        add_comment(store, "blog", CommentStatus.REJECTED, age_days=400),
        # Trashed recently, though it arrived long ago: trash ages from when it was trashed.
        add_comment(store, "blog", CommentStatus.TRASH, age_days=90, changed_days=10),
        add_comment(store, "archive", CommentStatus.SPAM, age_days=6),
        # The archive keeps its trash forever (0 days).
        add_comment(store, "archive", CommentStatus.TRASH, age_days=900, changed_days=800),
    }
    gone = {
        add_comment(store, "blog", CommentStatus.SPAM, age_days=31, marks=2, events=1),
        add_comment(store, "blog", CommentStatus.SPAM, age_days=300),
        add_comment(store, "blog", CommentStatus.TRASH, age_days=90, changed_days=31),
        # Trash from before status changes were dated ages from its arrival.
        add_comment(store, "blog", CommentStatus.TRASH, age_days=45),
        add_comment(store, "archive", CommentStatus.SPAM, age_days=8),
    }
    add_comment(store, "blog", CommentStatus.APPROVED, age_days=1, marks=1)

    dry = purge(store, now=NOW, dry_run=True)
    assert (dry.spam, dry.trash, dry.dry_run) == (3, 2, True)
    assert len(remaining(store)) == len(keep) + len(gone) + 1

    report = purge(store, now=NOW, batch=2)
    by_site = {s.site: (s.spam, s.trash) for s in report.sites}
    assert by_site == {"blog": (2, 2), "archive": (1, 0)}
    assert (report.spam, report.trash) == (3, 2)
    assert remaining(store).isdisjoint(gone)
    assert keep <= remaining(store)
    # The purged comment's reputation marks went with it; its history stays.
    assert count(store, reputation_marks) == 1
    assert count(store, comment_events) == 1
    again = purge(store, now=NOW)
    assert again.total == 0


def test_retention_is_a_policy_setting_with_zero_meaning_forever() -> None:
    assert SitePolicy().spam_retention_days == 30
    assert SitePolicy().trash_retention_days == 30
    assert SitePolicy().updated({"spam_retention_days": "0"}).spam_retention_days == 0
    with pytest.raises(PolicyError, match="keep forever"):
        SitePolicy().updated({"trash_retention_days": -1})
    with pytest.raises(PolicyError, match="whole number"):
        SitePolicy().updated({"spam_retention_days": "a month"})


def test_expired_sessions_and_old_finished_deliveries_go(store: Store) -> None:
    site_id = store.get_site("blog").id
    with store.writing() as conn:
        moderator_id = conn.execute(
            insert(moderators)
            .values(name="ada", password_hash="x", is_admin=True, created_at=NOW)
            .returning(moderators.c.id)
        ).scalar_one()
        for n, expires in enumerate([NOW - timedelta(minutes=1), NOW + timedelta(hours=1)]):
            conn.execute(
                insert(moderator_sessions).values(
                    id_hash=f"s{n}", moderator_id=moderator_id, csrf_token="t",
                    created_at=NOW - timedelta(days=1), expires_at=expires,
                )
            )  # fmt: skip
        for n, (state, age) in enumerate(
            [
                (DeliveryState.DELIVERED, 31),  # goes
                (DeliveryState.FAILED, 45),  # goes
                (DeliveryState.DELIVERED, 29),
                (DeliveryState.PENDING, 90),  # still owed: never purged
            ]
        ):
            conn.execute(
                insert(webhook_deliveries).values(
                    site_id=site_id, comment_id="c", event_id=n, url="https://blog.example/h",
                    body="{}", state=state.value, attempts=1,
                    next_attempt_at=NOW, created_at=NOW - timedelta(days=age),
                )
            )  # fmt: skip
    report = purge(store, now=NOW)
    assert (report.sessions, report.deliveries) == (1, 2)
    with store.reading() as conn:
        assert list(conn.execute(select(moderator_sessions.c.id_hash)).scalars()) == ["s1"]
        states = sorted(conn.execute(select(webhook_deliveries.c.state)).scalars())
    assert states == ["delivered", "pending"]


def test_two_purges_at_once_remove_each_row_once(
    store: Store, tmp_path: Path, database_url: str
) -> None:
    old = {add_comment(store, "blog", CommentStatus.SPAM, age_days=40) for _ in range(120)}
    young = add_comment(store, "blog", CommentStatus.SPAM, age_days=1)
    other = open_store(make_settings(tmp_path, database_url))
    reports = []
    try:
        threads = [
            threading.Thread(target=lambda s=s: reports.append(purge(s, now=NOW, batch=10)))
            for s in (store, other)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        other.engine.dispose()
    assert len(reports) == 2
    assert sum(r.spam for r in reports) == len(old)
    assert remaining(store) == {young}


def test_a_purged_comment_a_moderator_labelled_stays_a_training_sample(store: Store) -> None:
    decided = add_comment(store, "blog", CommentStatus.SPAM, age_days=40, label="spam")
    add_comment(store, "blog", CommentStatus.SPAM, age_days=40)  # never looked at
    add_comment(store, "blog", CommentStatus.SPAM, age_days=40, label="spam", is_test=True)
    report = purge(store, now=NOW)
    assert report.spam == 3
    assert remaining(store) == set()
    with store.reading() as conn:
        samples = conn.execute(select(labelled_samples)).all()
    assert [(s.guid, s.label, s.content) for s in samples] == [(decided, "spam", "text")]
    assert purge(store, now=NOW).total == 0
