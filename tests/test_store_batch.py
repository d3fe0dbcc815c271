"""A batch of checks stored in one transaction decides each comment as it would be decided alone.

The batch asks every comment's facts before writing any of them; these tests hold it to the
order a blog sent the comments in: a comment sees the earlier ones of its own batch.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from moderation import checking
from moderation.domain import Comment, Decision, ReasonCode, Score, Verdict
from moderation.rules import Facts
from moderation.store import (
    PendingCheck,
    Site,
    Store,
    StoredCheck,
    StoreError,
    make_engine,
    migrate,
)

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def pending(site: Site, comment: Comment, at: datetime, score: float = 0.1) -> PendingCheck:
    def decide(facts: Facts) -> Decision:
        return checking.judge(comment, site.policy, facts, Score(score))

    return PendingCheck(site, comment, decide, "t", at)


def comment(i: int, **fields: str) -> Comment:
    values: dict[str, str] = {
        "content": f"The vote on the {i}th was close; the minutes say so.",
        "author_name": f"Reader {i}",
        "author_email": f"reader{i}@example.org",
        "user_ip": f"198.51.100.{i}",
        "post_id": "p1",
        **fields,
    }
    return Comment(**values)  # type: ignore[arg-type]


def stored_all(store: Store, items: list[PendingCheck]) -> list[StoredCheck]:
    results = store.check_and_save_many(items)
    assert all(isinstance(r, StoredCheck) for r in results), results
    return [r for r in results if isinstance(r, StoredCheck)]


def codes(result: StoredCheck) -> set[ReasonCode]:
    return {reason.code for reason in result.decision.reasons}


def test_a_copy_later_in_the_same_batch_is_a_duplicate(store: Store) -> None:
    site, _ = store.create_site("blog")
    first, again = stored_all(store, [pending(site, comment(1), T0), pending(site, comment(1), T0)])
    assert first.decision.verdict is Verdict.APPROVE
    assert again.decision.verdict is Verdict.REJECT
    assert ReasonCode.DUPLICATE in codes(again)


def test_an_anonymous_copy_later_in_the_same_batch_is_a_duplicate(store: Store) -> None:
    site, _ = store.create_site("blog")
    store.set_policy("blog", replace(site.policy, require_name_email=False))
    site = store.get_site("blog")
    anonymous = comment(1, author_email="", user_ip="")
    first, again = stored_all(store, [pending(site, anonymous, T0), pending(site, anonymous, T0)])
    assert ReasonCode.DUPLICATE not in codes(first)
    assert ReasonCode.DUPLICATE in codes(again)


def test_a_flood_from_one_address_within_a_batch_is_held(store: Store) -> None:
    site, _ = store.create_site("blog")
    items = [pending(site, comment(i, user_ip="203.0.113.9"), T0) for i in range(3)]
    first, *rest = stored_all(store, items)
    assert ReasonCode.FLOOD not in codes(first)
    assert all(ReasonCode.FLOOD in codes(r) and r.decision.verdict is Verdict.HOLD for r in rest)


def test_an_author_approved_earlier_in_the_batch_is_trusted_later_in_it(store: Store) -> None:
    site, _ = store.create_site("blog")
    store.set_policy("blog", replace(site.policy, flood_interval_seconds=0))
    site = store.get_site("blog")
    author = {"author_email": "regular@example.org", "user_ip": "203.0.113.7"}
    doubtful = comment(2, **author, content="Is this the same council as last year, or not?")
    first, second = stored_all(
        store,
        [pending(site, comment(1, **author), T0), pending(site, doubtful, T0, score=0.6)],
    )
    assert first.decision.verdict is Verdict.APPROVE
    # Alone, a score of 0.6 is held; an author with an approved comment gets the benefit.
    assert second.decision.verdict is Verdict.APPROVE


def test_a_repeated_external_id_in_one_batch_is_answered_with_the_first_decision(
    store: Store,
) -> None:
    site, _ = store.create_site("blog")
    first, retry = stored_all(
        store,
        [
            pending(site, comment(1, external_id="wp-1"), T0),
            pending(site, comment(2, external_id="wp-1"), T0),
        ],
    )
    assert not first.replayed
    assert retry.replayed
    assert retry.id == first.id
    assert retry.decision.verdict is first.decision.verdict


def test_an_external_id_stored_by_an_earlier_batch_is_a_replay(store: Store) -> None:
    site, _ = store.create_site("blog")
    (first,) = stored_all(store, [pending(site, comment(1, external_id="wp-1"), T0)])
    new, retry = stored_all(
        store,
        [pending(site, comment(5), T0), pending(site, comment(1, external_id="wp-1"), T0)],
    )
    assert not new.replayed
    assert retry.replayed
    assert retry.id == first.id


def test_a_mixed_batch_decides_as_the_same_comments_sent_one_by_one(store: Store) -> None:
    """Repeated authors, addresses, texts and ids among unrelated comments, on two sites: every
    verdict and reason the same as when each is stored in its own transaction, in the same
    order (on two other sites of the same database, since every fact is per site)."""
    names = ("blog", "other", "blog-alone", "other-alone")
    sites = {name: store.create_site(name)[0] for name in names}
    sent = []
    for i in range(40):
        fields = {"author_email": f"a{i % 7}@example.org", "user_ip": f"192.0.2.{i % 5}"}
        if i % 3 == 0:
            fields["content"] = "Same text as before, posted again."
        if i % 11 == 0:
            fields["external_id"] = f"wp-{i % 2}"
        sent.append(("blog" if i % 4 else "other", comment(i, **fields), T0 + timedelta(seconds=i)))
    batched = stored_all(store, [pending(sites[name], c, at) for name, c, at in sent])
    alone = [stored_all(store, [pending(sites[f"{name}-alone"], c, at)])[0] for name, c, at in sent]
    assert {r.decision.verdict for r in batched} >= {Verdict.APPROVE, Verdict.HOLD, Verdict.REJECT}
    for together, single in zip(batched, alone, strict=True):
        assert together.decision.verdict is single.decision.verdict
        assert codes(together) == codes(single)
        assert together.replayed == single.replayed


def test_a_batch_waiting_past_the_busy_timeout_fails_as_a_store_error_and_the_store_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=50)
    migrate(engine)
    store = Store(engine)
    site, _ = store.create_site("blog")
    # Another program writing (it does not queue on the store's own write lock).
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match=r"^database error: database is locked") as raised:
            store.check_and_save_many([pending(site, comment(1), T0)])
        assert isinstance(raised.value.__cause__, OperationalError)
        assert store.get_site("blog") == site  # readers are not held up
    finally:
        other.execute("ROLLBACK")
        other.close()
    (stored,) = stored_all(store, [pending(site, comment(1), T0)])
    assert stored.status.value == "approved"
    engine.dispose()
