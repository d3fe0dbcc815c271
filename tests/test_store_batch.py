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
from moderation.schema import comments, reputation_marks
from moderation.store import (
    PendingCheck,
    Site,
    Store,
    StoredCheck,
    StoreError,
    content_hash,
    email_key,
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


def test_each_comment_of_a_batch_gets_the_facts_it_would_get_alone(store: Store) -> None:
    """On PostgreSQL a batch's facts are asked in one statement, elsewhere a comment's at a
    time: either way each comment's facts are those asked for it alone. The history covers
    every fact: copies, floods by email and by address, approvals, and reputation marks on
    addresses, emails and link domains (one among dozens of links, a subdomain of one, past
    and inside each site's window), on two sites whose windows differ."""
    blog, _ = store.create_site("blog")
    other, _ = store.create_site("other")
    store.set_policy("other", replace(other.policy, flood_interval_seconds=5, reputation_days=2))
    other = store.get_site("other")
    now = T0 + timedelta(days=10)
    history = [
        pending(blog, comment(1), now - timedelta(seconds=30)),
        pending(blog, comment(2, user_ip="192.0.2.9"), now - timedelta(seconds=12)),
        pending(blog, comment(3, user_ip="192.0.2.9"), now - timedelta(seconds=8)),
        pending(other, comment(4, user_ip="192.0.2.9"), now - timedelta(seconds=8)),
        pending(blog, comment(5, author_email="regular@example.org"), now - timedelta(days=3)),
    ]
    stored_all(store, history)
    with store.engine.begin() as conn:
        conn.execute(comments.update().values(status="approved").where(
            comments.c.author_email_key == email_key("regular@example.org")))  # fmt: skip
        conn.execute(reputation_marks.insert(), [
            {"site_id": site.id, "kind": kind, "value": value, "label": label,
             "comment_id": "c", "created_at": now - timedelta(days=age)}
            for site in (blog, other)
            for kind, value, label, age in (
                ("ip", "203.0.113.66", "spam", 1), ("email", "promo@casino.example", "spam", 1),
                ("email", "regular@example.org", "ham", 1), ("domain", "mm-loans.example",
                "spam", 1), ("domain", "zz-pills.example", "spam", 3), ("domain",
                "casino.example", "spam", 1),
            )
        ])  # fmt: skip
    links = " ".join(f"https://site{i:02d}.example/" for i in range(40))
    asked = [
        comment(1),  # a copy of a stored comment
        comment(6, user_ip="192.0.2.9"),  # the third from that address in 15 seconds
        comment(7, author_email="regular@example.org"),  # approved before, marked ham
        comment(8, user_ip="203.0.113.66", author_email="promo@casino.example"),
        comment(9, content=f"{links} https://zz-pills.example/ https://mm-loans.example/ x"),
        comment(10, content="Offer at https://shop.casino.example/ today"),
        comment(11, content="No links at all.", user_ip="", author_email=""),
        comment(12, content="Loans at https://mm-loans.example/"),  # one domain, marked
    ]
    items = [
        pending(site, c, now)
        for site in (blog, other)
        for c in asked
    ]  # fmt: skip
    asks = [store._ask(item, content_hash(item.comment.content)) for item in items]
    with store.writing() as conn:
        together = store._facts_of_all(conn, [], asks)
        alone = [store._facts_of_all(conn, [], [ask])[0] for ask in asks]
    assert together == alone
    on_blog = together[: len(asked)]
    assert on_blog[0].duplicate
    assert on_blog[1].recent_from_same_author == 2
    assert on_blog[2].previously_approved
    assert on_blog[2].reputation_ham_email == 1
    assert on_blog[3].reputation_spam_ip == 1
    assert on_blog[3].reputation_spam_email == 1
    assert (on_blog[4].reputation_spam_domains, on_blog[4].reputation_spam_domain) == (
        2, "mm-loans.example",
    )  # fmt: skip
    assert on_blog[5].reputation_spam_domain == "casino.example"
    assert on_blog[6].reputation_spam_domains == 0
    assert on_blog[7].reputation_spam_domain == "mm-loans.example"
    on_other = together[len(asked) :]
    # Five seconds of flood window and two days of marks on the other site.
    assert on_other[1].recent_from_same_author == 0
    assert (on_other[4].reputation_spam_domains, on_other[4].reputation_spam_domain) == (
        1, "mm-loans.example",
    )  # fmt: skip


def test_a_batch_stores_every_value_as_given(store: Store) -> None:
    """On PostgreSQL a batch's rows travel to the server as one JSON document: every value
    comes back as it went in, times to the microsecond with their zone, text of any script,
    quotes, backslashes and control characters included, a missing form time as none."""
    site, _ = store.create_site("blog")
    rendered = datetime(2026, 11, 25, 11, 59, 30, 123456, tzinfo=UTC)
    odd = 'Quote " backslash \\ tab\t newline\n emoji 🎉 accents éàü CJK 漢字 RTL שלום'
    sent = [
        comment(
            1, content=odd, author_name='Zoë "Z" O\'Brien', permalink="https://b.example/?a=1&b=2"
        ),
        replace(comment(2, external_id="wp-77", parent_id="p-1"), form_rendered_at=rendered),
        comment(3, author_email="", user_ip="", language="fr-CA"),
    ]
    at = T0 + timedelta(microseconds=654321)
    results = stored_all(store, [pending(site, c, at, score=0.123456789) for c in sent])
    for sent_comment, result in zip(sent, results, strict=True):
        row = store.get_comment(site.id, result.id)
        for field in ("content", "author_name", "author_email", "user_ip", "permalink",
                      "parent_id", "language", "post_id"):  # fmt: skip
            assert row[field] == getattr(sent_comment, field)
        assert row["external_id"] == (sent_comment.external_id or None)
        assert row["form_rendered_at"] == sent_comment.form_rendered_at
        assert row["created_at"] == at
        assert row["spam_probability"] == result.decision.spam_probability
        assert row["is_test"] is False
        assert row["discard"] is result.decision.discard
        assert [r["code"] for r in row["reasons"]] == [
            r.code.value for r in result.decision.reasons
        ]


def test_a_value_longer_than_its_column_is_never_cut(store: Store) -> None:
    """A value longer than its column is refused (PostgreSQL) or kept whole (SQLite, whose
    columns have no length): never stored cut short. The API refuses such values first."""
    site, _ = store.create_site("blog")
    long_agent = "A" * 2500  # the column holds 2,000
    batch = [pending(site, replace(comment(1), user_agent=long_agent), T0)]
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(StoreError, match="too long"):
            store.check_and_save_many(batch)
        return
    [result] = stored_all(store, batch)
    assert store.get_comment(site.id, result.id)["user_agent"] == long_agent
