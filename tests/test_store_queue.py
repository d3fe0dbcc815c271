"""The moderation queue in the database, on SQLite and PostgreSQL: listing, actions, undo."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from moderation.domain import (
    Comment,
    CommentStatus,
    Decision,
    Evidence,
    Label,
    ModerationAction,
    Reason,
    ReasonCode,
    Verdict,
)
from moderation.queue import QueueFilter, QueueSort
from moderation.rules import Facts
from moderation.schema import comment_events, comments, reputation_marks, sites, webhook_deliveries
from moderation.store import NotFoundError, PendingCheck, Site, Store, make_engine, migrate
from moderation.store_accounts import Accounts, Moderator
from moderation.store_queue import QueueStore, webhook_body

PASSWORD = "a long enough passphrase"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
ALL = tuple(CommentStatus)
_clock = count()


@dataclass
class Env:
    """A store with two sites, an admin, a moderator of 'blog' only, and one of no site."""

    store: Store
    queue: QueueStore
    blog: Site
    news: Site
    admin: Moderator
    alice: Moderator
    nobody: Moderator


def open_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A fresh store on `database_url` with two sites and three moderators; closed after."""
    # Password hashing is deliberately slow and beside the point here.
    monkeypatch.setattr("moderation.store_accounts.hash_password", lambda password: "unused")
    engine = make_engine(database_url)
    migrate(engine)
    store = Store(engine)
    blog, _ = store.create_site("blog")
    news, _ = store.create_site("news")
    accounts = Accounts(store)
    admin = accounts.create_moderator("root", password=PASSWORD, admin=True)
    alice = accounts.create_moderator("alice", password=PASSWORD, sites=["blog"])
    nobody = accounts.create_moderator("nobody", password=PASSWORD)
    yield Env(store, QueueStore(store), blog, news, admin, alice, nobody)
    engine.dispose()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from open_env(database_url, monkeypatch)


def add(
    env: Env,
    *,
    site: Site | None = None,
    content: str = "A fair point about the council vote.",
    name: str = "Ana",
    email: str = "ana@example.org",
    ip: str = "198.51.100.7",
    url: str = "",
    post: str = "p1",
    verdict: Verdict = Verdict.HOLD,
    p: float = 0.5,
    reasons: Sequence[ReasonCode] = (ReasonCode.CLASSIFIER_UNSURE,),
    at: datetime | None = None,
    is_test: bool = False,
) -> str:
    """Store a comment with the decision given; each call is a second later than the last."""
    comment = Comment(
        content=content, author_name=name, author_email=email, author_url=url, post_id=post,
        user_ip=ip,
    )  # fmt: skip
    decision = Decision(
        verdict=verdict,
        spam_probability=p,
        reasons=tuple(Reason(code, f"because {code.value}") for code in reasons),
        evidence=(Evidence("council", -0.8), Evidence("casino", 1.25)),
    )

    def decide(facts: Facts) -> Decision:
        return decision

    when = at or T0 + timedelta(seconds=next(_clock))
    pending = PendingCheck(site or env.blog, comment, decide, "test-model", when, is_test=is_test)
    result = env.store.check_and_save_many([pending])[0]
    assert not isinstance(result, Exception)
    return result.id


def ids(env: Env, moderator: Moderator | None = None, **filters: object) -> list[str]:
    sort = filters.pop("sort", QueueSort.PROBABILITY)
    page = env.queue.list(moderator or env.admin, QueueFilter(**filters), sort=sort, limit=200)  # type: ignore[arg-type]
    return [item.id for item in page.items]


def row(env: Env, comment_id: str) -> dict[str, object]:
    with env.store.reading() as conn:
        found = conn.execute(select(comments).where(comments.c.id == comment_id)).first()
    assert found is not None
    return dict(found._mapping)


def marks(env: Env, comment_id: str | None = None) -> set[tuple[str, str, str]]:
    query = select(reputation_marks.c.kind, reputation_marks.c.value, reputation_marks.c.label)
    if comment_id is not None:
        query = query.where(reputation_marks.c.comment_id == comment_id)
    with env.store.reading() as conn:
        return {(r.kind, r.value, r.label) for r in conn.execute(query)}


def deliveries(env: Env) -> list[dict[str, object]]:
    with env.store.reading() as conn:
        rows = conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id)).all()
    return [dict(r._mapping) for r in rows]


def set_webhook(env: Env, site: Site, url: str) -> None:
    with env.store.writing() as conn:
        conn.execute(sites.update().where(sites.c.id == site.id).values(webhook_url=url))


# Listing


def test_held_and_spam_are_listed_by_default_and_other_statuses_on_request(env: Env) -> None:
    held = add(env, verdict=Verdict.HOLD)
    spam = add(env, verdict=Verdict.SPAM, p=0.97)
    approved = add(env, verdict=Verdict.APPROVE, p=0.1)
    rejected = add(env, verdict=Verdict.REJECT, p=0.2)
    assert set(ids(env)) == {held, spam}
    assert ids(env, statuses=(CommentStatus.APPROVED,)) == [approved]
    assert set(ids(env, statuses=ALL)) == {held, spam, approved, rejected}
    env.queue.act(env.admin, [held], ModerationAction.TRASH)
    assert ids(env, statuses=(CommentStatus.TRASH,)) == [held]
    assert ids(env) == [spam]


def test_every_filter_narrows_the_listing(env: Env) -> None:
    first = add(env, post="p1", email="Ana@Example.org", ip="198.51.100.7",
                reasons=(ReasonCode.TOO_MANY_LINKS, ReasonCode.CLASSIFIER_UNSURE))  # fmt: skip
    second = add(env, post="p2", email="bo@example.org", ip="203.0.113.9",
                 content="Cheap watches at https://watches.example", name="Watch Shop",
                 reasons=(ReasonCode.FLOOD,))  # fmt: skip
    other_site = add(env, site=env.news, post="p1")
    later = add(env, post="p1", at=T0 + timedelta(days=3))
    assert set(ids(env)) == {first, second, other_site, later}
    assert set(ids(env, site="blog")) == {first, second, later}
    assert set(ids(env, site="news")) == {other_site}
    assert ids(env, site="no such site") == []
    assert set(ids(env, post_id="p2")) == {second}
    assert ids(env, reason=ReasonCode.TOO_MANY_LINKS) == [first]
    assert ids(env, reason=ReasonCode.FLOOD) == [second]
    assert ids(env, reason=ReasonCode.DUPLICATE) == []
    # The email is compared as the store compares authors: case and spaces do not matter.
    assert set(ids(env, author_email=" ANA@example.ORG ", site="blog")) == {first, later}
    assert ids(env, user_ip="203.0.113.9") == [second]
    assert set(ids(env, since=T0 + timedelta(days=1))) == {later}
    assert later not in ids(env, until=T0 + timedelta(days=1))
    assert ids(env, text="WATCHES") == [second]  # content, any case
    assert ids(env, text="watch shop") == [second]  # author name
    assert ids(env, text="bo@exa") == [second]  # email


def test_sql_and_like_metacharacters_in_filters_are_plain_text(env: Env) -> None:
    percent = add(env, content="Now 50% off everything")
    plain = add(env, content="Now 50 off everything, 5000 items")
    underscore = add(env, content="call my_function please")
    lookalike = add(env, content="call myXfunction please")
    bang = add(env, content="wow! 100%_real")
    quote = add(env, content="it's O'Brien's; DROP TABLE comments; --")
    assert ids(env, text="50%") == [percent]
    assert set(ids(env, text="%")) == {percent, bang}
    assert ids(env, text="my_f") == [underscore]
    assert set(ids(env, text="_")) == {underscore, bang}
    assert ids(env, text="!") == [bang]
    assert ids(env, text="!%_") == []
    assert ids(env, text="%_") == [bang]
    assert ids(env, text="O'Brien's; DROP TABLE comments; --") == [quote]
    assert ids(env, text="' OR '1'='1") == []
    assert ids(env, author_email="' OR 1=1 --") == []
    assert ids(env, post_id="%") == []
    assert ids(env, site="%") == []
    assert ids(env, user_ip="1' OR '1'='1") == []
    assert set(ids(env)) == {percent, plain, underscore, lookalike, bang, quote}


def test_sorted_by_probability_or_date(env: Env) -> None:
    low = add(env, p=0.40)
    high = add(env, p=0.99, verdict=Verdict.SPAM)
    mid = add(env, p=0.70)
    assert ids(env) == [high, mid, low]
    assert ids(env, sort=QueueSort.NEWEST) == [mid, high, low]
    assert ids(env, sort=QueueSort.OLDEST) == [low, high, mid]


@pytest.mark.parametrize("sort", list(QueueSort))
def test_cursor_pages_stay_stable_while_comments_arrive(env: Env, sort: QueueSort) -> None:
    # Ties on the sort key are broken by id, so equal probabilities and times page cleanly.
    same_time = T0 + timedelta(hours=1)
    originals = {add(env, p=0.6, at=same_time) for _ in range(3)}
    originals |= {add(env, p=0.5 + i / 100) for i in range(4)}
    seen: list[str] = []
    cursor = None
    while True:
        page = env.queue.list(env.alice, QueueFilter(), sort=sort, cursor=cursor, limit=2)
        seen.extend(item.id for item in page.items)
        if len(seen) == 2:
            # Newcomers on both sides of the cursor: they never make a page repeat a row.
            add(env, p=0.99, verdict=Verdict.SPAM)
            add(env, p=0.01, at=T0 - timedelta(days=1))
            add(env, p=0.6, at=same_time)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)), "a row was shown twice"
    assert originals <= set(seen), "a row present from the start was skipped"


def test_a_bad_cursor_or_limit_is_a_value_error(env: Env) -> None:
    with pytest.raises(ValueError, match="cursor"):
        env.queue.list(env.admin, QueueFilter(), cursor="garbage")
    with pytest.raises(ValueError, match="limit"):
        env.queue.list(env.admin, QueueFilter(), limit=201)


def test_counts_per_status_and_reason(env: Env) -> None:
    add(env, reasons=(ReasonCode.TOO_MANY_LINKS, ReasonCode.CLASSIFIER_UNSURE))
    add(env, reasons=(ReasonCode.CLASSIFIER_UNSURE,))
    add(env, verdict=Verdict.SPAM, p=0.95, reasons=(ReasonCode.CLASSIFIER_SPAM,))
    add(env, verdict=Verdict.APPROVE, p=0.1, reasons=(ReasonCode.CLASSIFIER_HAM,))
    add(env, site=env.news)
    counts = env.queue.counts(env.alice, QueueFilter())
    assert counts.by_status == {"approved": 1, "pending": 2, "spam": 1, "rejected": 0, "trash": 0}
    assert counts.by_reason == {"too_many_links": 1, "classifier_unsure": 2, "classifier_spam": 1}
    narrowed = env.queue.counts(env.alice, QueueFilter(reason=ReasonCode.TOO_MANY_LINKS))
    assert narrowed.by_status["pending"] == 1
    assert narrowed.by_reason == {"too_many_links": 1, "classifier_unsure": 1}


# Visibility


def test_a_moderator_sees_and_acts_only_on_granted_sites(env: Env) -> None:
    mine = add(env)
    theirs = add(env, site=env.news)
    assert ids(env, env.alice) == [mine]
    assert set(ids(env, env.admin)) == {mine, theirs}
    assert ids(env, env.nobody) == []
    assert env.queue.counts(env.nobody, QueueFilter()).by_status["pending"] == 0
    with pytest.raises(NotFoundError):
        env.queue.item(env.alice, theirs)
    with pytest.raises(NotFoundError):
        env.queue.history(env.alice, theirs)
    result = env.queue.act(env.alice, [theirs], ModerationAction.SPAM)[0]
    assert (result.ok, result.error) == (False, "not_found")
    assert row(env, theirs)["status"] == "pending"  # untouched
    assert env.queue.undo(env.alice, theirs).error == "not_found"
    assert env.queue.item(env.admin, theirs).item.site_name == "news"


# Actions, history, undo


@pytest.mark.parametrize(
    ("action", "status", "label"),
    [
        (ModerationAction.APPROVE, "approved", "ham"),
        (ModerationAction.SPAM, "spam", "spam"),
        (ModerationAction.HAM, "approved", "ham"),
        (ModerationAction.TRASH, "trash", None),
    ],
)
def test_each_action_changes_status_and_label_and_is_recorded(
    env: Env, action: ModerationAction, status: str, label: str | None
) -> None:
    comment_id = add(env)
    before = datetime.now(UTC)
    result = env.queue.act(env.alice, [comment_id], action, note="looked at it")[0]
    assert (result.ok, result.status) == (True, CommentStatus(status))
    stored = row(env, comment_id)
    assert (stored["status"], stored["label"], stored["moderated_by"]) == (status, label, "alice")
    assert stored["status_changed_at"] is not None
    if label is not None:
        assert stored["label_source"] == "moderator"
        assert stored["labelled_at"] is not None
    [event] = env.queue.history(env.alice, comment_id)
    assert (event.action, event.actor, event.note) == (action, "alice", "looked at it")
    assert (event.from_status, event.to_status) == (CommentStatus.PENDING, CommentStatus(status))
    assert (event.from_label, event.to_label) == (None, Label(label) if label else None)
    assert event.created_at >= before - timedelta(seconds=1)
    with env.store.reading() as conn:
        moderator_id = conn.execute(select(comment_events.c.moderator_id)).scalar_one()
    assert moderator_id == env.alice.id


def test_trash_keeps_the_label_given_before(env: Env) -> None:
    comment_id = add(env)
    env.queue.act(env.alice, [comment_id], ModerationAction.SPAM)
    env.queue.act(env.alice, [comment_id], ModerationAction.TRASH)
    assert (row(env, comment_id)["status"], row(env, comment_id)["label"]) == ("trash", "spam")


def test_doing_again_what_is_done_records_no_new_event(env: Env) -> None:
    comment_id = add(env)
    env.queue.act(env.alice, [comment_id], ModerationAction.APPROVE)
    first = row(env, comment_id)["labelled_at"]
    result = env.queue.act(env.admin, [comment_id], ModerationAction.APPROVE)[0]
    assert (result.ok, result.status) == (True, CommentStatus.APPROVED)
    assert len(env.queue.history(env.admin, comment_id)) == 1
    again = row(env, comment_id)
    assert again["moderated_by"] == "root"
    assert again["labelled_at"] != first  # the label was given again: its time follows


def test_undo_walks_back_one_action_at_a_time(env: Env) -> None:
    comment_id = add(env)
    env.queue.act(env.alice, [comment_id], ModerationAction.SPAM)
    env.queue.act(env.alice, [comment_id], ModerationAction.HAM)
    result = env.queue.undo(env.alice, comment_id, note="misclick")
    assert (result.ok, result.status) == (True, CommentStatus.SPAM)
    assert (row(env, comment_id)["status"], row(env, comment_id)["label"]) == ("spam", "spam")
    assert env.queue.undo(env.admin, comment_id).status is CommentStatus.PENDING
    stored = row(env, comment_id)
    assert (stored["status"], stored["label"], stored["label_source"]) == ("pending", None, None)
    assert marks(env, comment_id) == set()
    nothing = env.queue.undo(env.alice, comment_id)
    assert (nothing.ok, nothing.error) == (False, "nothing_to_undo")
    assert "nothing to undo" in nothing.message
    history = env.queue.history(env.alice, comment_id)
    assert [e.action for e in history] == ["spam", "ham", "undo", "undo"]
    assert [(e.actor, e.note) for e in history[2:]] == [("alice", "misclick"), ("root", "")]
    assert (history[2].from_status, history[2].to_status) == ("approved", "spam")


def test_delete_is_forever_and_its_history_stays(env: Env) -> None:
    comment_id = add(env, ip="203.0.113.5")
    env.queue.act(env.alice, [comment_id], ModerationAction.SPAM)
    assert marks(env, comment_id)
    result = env.queue.act(env.alice, [comment_id], ModerationAction.DELETE, note="gone")[0]
    assert (result.ok, result.status) == (True, None)
    with env.store.reading() as conn:
        left = conn.execute(select(func.count()).where(comments.c.id == comment_id)).scalar()
    assert left == 0
    assert marks(env, comment_id) == set()
    assert [e.action for e in env.queue.history(env.alice, comment_id)] == ["spam", "delete"]
    with pytest.raises(NotFoundError):
        env.queue.history(env.nobody, comment_id)  # the history keeps to its site
    undo = env.queue.undo(env.alice, comment_id)
    assert (undo.ok, undo.error) == (False, "deleted")
    assert "deleted forever" in undo.message
    with pytest.raises(NotFoundError):
        env.queue.item(env.alice, comment_id)


def test_bulk_actions_answer_per_id_in_one_go(env: Env) -> None:
    a, b = add(env), add(env)
    hidden = add(env, site=env.news)
    missing = "00000000-0000-4000-8000-000000000000"
    results = env.queue.act(
        env.alice, [a, hidden, b, missing, a, "junk\x00"], ModerationAction.SPAM
    )
    assert [(r.id, r.ok, r.error) for r in results] == [
        (a, True, None),
        (hidden, False, "not_found"),
        (b, True, None),
        (missing, False, "not_found"),
        ("junk\x00", False, "not_found"),
    ]
    assert {row(env, a)["status"], row(env, b)["status"]} == {"spam"}
    assert row(env, hidden)["status"] == "pending"
    with pytest.raises(ValueError, match="500"):
        env.queue.act(env.admin, [f"id-{i}" for i in range(501)], ModerationAction.SPAM)
    with pytest.raises(ValueError, match="undo"):
        env.queue.act(env.admin, [a], ModerationAction.UNDO)


def test_a_bulk_action_on_many_comments(env: Env) -> None:
    many = [add(env, ip=f"198.51.100.{i}") for i in range(60)]
    results = env.queue.act(env.alice, many, ModerationAction.SPAM)
    assert all(r.ok for r in results)
    assert env.queue.counts(env.alice, QueueFilter()).by_status["spam"] == 60
    assert len(marks(env)) == 60 + 1  # each IP, and the one email


# Webhooks


def test_a_delivery_is_owed_only_when_the_site_has_a_webhook(env: Env) -> None:
    quiet = add(env)
    env.queue.act(env.alice, [quiet], ModerationAction.APPROVE)
    assert deliveries(env) == []
    set_webhook(env, env.blog, "https://blog.example/hook")
    comment_id = add(env, post="the-post")
    env.queue.act(env.alice, [comment_id], ModerationAction.SPAM)
    env.queue.undo(env.alice, comment_id)
    env.queue.act(env.alice, [comment_id], ModerationAction.DELETE)
    owed = deliveries(env)
    assert [d["state"] for d in owed] == ["pending"] * 3
    assert {d["url"] for d in owed} == {"https://blog.example/hook"}
    assert all(d["attempts"] == 0 and d["comment_id"] == comment_id for d in owed)
    events = env.queue.history(env.alice, comment_id)
    assert [d["event_id"] for d in owed] == [e.id for e in events]
    bodies = [json.loads(str(d["body"])) for d in owed]
    assert [(b["action"], b["from_status"], b["to_status"], b["label"]) for b in bodies] == [
        ("spam", "pending", "spam", "spam"),
        ("undo", "spam", "pending", None),
        ("delete", "pending", "deleted", None),
    ]
    first = bodies[0]
    assert first["event"] == "comment.status_changed"
    assert (first["site"], first["comment_id"], first["post_id"]) == (
        "blog",
        comment_id,
        "the-post",
    )
    assert (first["actor"], first["delivery_event_id"]) == ("alice", events[0].id)
    assert first["at"].endswith("Z")
    assert " " not in str(owed[0]["body"])  # compact


def test_webhook_body_is_compact_json() -> None:
    body = webhook_body(
        delivery_event_id=7, site="blog", comment_id="c", external_id=None, post_id="p",
        action=ModerationAction.HAM, from_status=CommentStatus.SPAM,
        to_status=CommentStatus.APPROVED, label=Label.HAM, actor="site:blog",
        at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )  # fmt: skip
    assert body == (
        '{"event":"comment.status_changed","delivery_event_id":7,"site":"blog","comment_id":"c",'
        '"external_id":null,"post_id":"p","action":"ham","from_status":"spam",'
        '"to_status":"approved","label":"ham","actor":"site:blog","at":"2026-11-25T12:00:00Z"}'
    )


# One comment in full


def test_the_item_shows_everything_and_the_authors_earlier_comments(env: Env) -> None:
    old_by_email = add(env, email="ana@example.org", ip="192.0.2.1", verdict=Verdict.APPROVE,
                       p=0.1, content="My first comment here.")  # fmt: skip
    old_by_ip = add(env, email="other@example.org", ip="198.51.100.7", verdict=Verdict.SPAM,
                    p=0.95)  # fmt: skip
    add(env, site=env.news, email="ana@example.org")  # another site: not this author's history
    add(env, email="stranger@example.org", ip="192.0.2.99")
    comment_id = add(env, email="ana@example.org", ip="198.51.100.7", url="https://ana.example",
                     reasons=(ReasonCode.TOO_MANY_LINKS,))  # fmt: skip
    add(env, email="ana@example.org")  # later: not an earlier comment
    env.queue.act(env.alice, [comment_id], ModerationAction.SPAM, note="links")
    detail = env.queue.item(env.alice, comment_id)
    item = detail.item
    assert (item.author_email, item.user_ip, item.author_url) == (
        "ana@example.org", "198.51.100.7", "https://ana.example",
    )  # fmt: skip
    assert (item.site_name, item.post_id, item.status, item.label) == ("blog", "p1", "spam", "spam")
    assert item.reasons == (Reason(ReasonCode.TOO_MANY_LINKS, "because too_many_links"),)
    assert Evidence("casino", 1.25) in item.evidence
    assert item.moderated_by == "alice"
    assert [e.note for e in detail.history] == ["links"]
    assert [c.id for c in detail.author.comments] == [old_by_ip, old_by_email]
    assert detail.author.comments[1].excerpt == "My first comment here."
    assert detail.author.by_status == {"approved": 1, "spam": 1}


# Akismet's submit-spam / submit-ham take the same path


def test_a_blogs_correction_changes_the_status_through_the_same_path(env: Env) -> None:
    set_webhook(env, env.blog, "https://blog.example/hook")
    comment_id = add(env, verdict=Verdict.APPROVE, p=0.2, ip="203.0.113.77")
    comment = Comment(content="whatever", author_email="ana@example.org")
    now = datetime.now(UTC)
    env.store.record_label(env.blog, comment, Label.SPAM, source="akismet-submit", now=now,
                           guid=comment_id)  # fmt: skip
    stored = row(env, comment_id)
    assert (stored["status"], stored["label"], stored["label_source"]) == (
        "spam", "spam", "akismet-submit",
    )  # fmt: skip
    assert stored["moderated_by"] == "site:blog"
    [event] = env.queue.history(env.alice, comment_id)
    assert (event.actor, event.action, event.to_status) == ("site:blog", "spam", "spam")
    assert ("ip", "203.0.113.77", "spam") in marks(env, comment_id)
    assert json.loads(str(deliveries(env)[0]["body"]))["actor"] == "site:blog"
    env.store.record_label(env.blog, comment, Label.HAM, source="akismet-submit", now=now,
                           guid=comment_id)  # fmt: skip
    assert (row(env, comment_id)["status"], row(env, comment_id)["label"]) == ("approved", "ham")
    assert marks(env, comment_id) == {("email", "ana@example.org", "ham")}


# The dashboard


def test_dashboard_counts_waiting_work_and_corrections_per_day(env: Env) -> None:
    now = datetime.now(UTC)
    add(env, at=now)
    add(env, site=env.news, at=now)
    caught = add(env, verdict=Verdict.SPAM, p=0.95, at=now)
    add(env, verdict=Verdict.SPAM, p=0.95, at=now - timedelta(days=2))
    missed = add(env, verdict=Verdict.APPROVE, p=0.1, at=now)
    add(env, verdict=Verdict.SPAM, p=0.95, at=now, is_test=True)
    env.queue.act(env.admin, [caught], ModerationAction.HAM)  # a false positive
    env.queue.act(env.admin, [missed], ModerationAction.SPAM)  # missed spam
    board = env.queue.dashboard(env.alice, now=now, days=7)
    assert board.pending_by_site == {"blog": 1}
    assert board.spam_by_site == {"blog": 3}  # the missed one is spam now; test traffic too
    assert len(board.days) == 7
    assert board.days[-1].day == now.date()
    assert (board.days[-1].spam_caught, board.days[-1].false_positives) == (1, 1)
    assert board.days[-1].missed_spam == 1
    assert board.days[-3].spam_caught == 1
    assert env.queue.dashboard(env.admin, now=now, days=1).pending_by_site == {"blog": 1, "news": 1}
