"""Reputation: what moderators marked spam or not spam leans new comments the same way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from moderation import checking, rules
from moderation.domain import (
    Comment,
    Decision,
    ModerationAction,
    ReasonCode,
    RuleHit,
    Score,
    Verdict,
)
from moderation.policy import PolicyError, SitePolicy, decide
from moderation.rules import Facts
from moderation.store import Site
from tests.test_store_queue import Env, add, marks, open_env, row

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
AUTHOR = Comment(
    content="Thanks, a useful summary.",
    author_name="Ana",
    author_email="Ana@Example.org",
    user_ip="203.0.113.9",
    post_id="p",
)


def reputation(facts: Facts, policy: SitePolicy | None = None) -> RuleHit | None:
    return rules.reputation(AUTHOR, policy or SitePolicy(), facts)


# The rule, purely


def test_no_marks_no_hit() -> None:
    assert reputation(Facts(now=NOW)) is None


def test_a_spam_marked_ip_makes_spam_and_says_which_ip_and_window() -> None:
    hit = reputation(Facts(now=NOW, reputation_spam_ip=2))
    assert hit is not None
    assert (hit.code, hit.verdict) == (ReasonCode.REPUTATION_SPAM, Verdict.SPAM)
    assert hit.message == (
        "the IP address 203.0.113.9 was marked as spam by a moderator in the last 30 days"
    )
    assert not hit.hard  # a shared address: an author the site trusts keeps that trust


def test_a_spam_marked_email_is_a_hard_hit_naming_everything_matched() -> None:
    facts = Facts(
        now=NOW,
        reputation_spam_email=1,
        reputation_spam_ip=1,
        reputation_spam_domains=1,
        reputation_spam_domain="casino.example",
    )
    hit = reputation(facts, SitePolicy(reputation_days=7))
    assert hit is not None
    assert hit.hard
    assert hit.message == (
        "the email address Ana@Example.org, the IP address 203.0.113.9 and the link domain "
        "casino.example were marked as spam by a moderator in the last 7 days"
    )


def test_a_spam_marked_domain_is_named() -> None:
    facts = Facts(now=NOW, reputation_spam_domains=1, reputation_spam_domain="casino.example")
    hit = reputation(facts, SitePolicy(reputation_days=1))
    assert hit is not None
    assert hit.message.endswith("link domain casino.example was marked as spam by a moderator "
                                "in the last day")  # fmt: skip


def test_an_author_marked_not_spam_is_approved_unless_something_is_marked_spam() -> None:
    hit = reputation(Facts(now=NOW, reputation_ham_email=3))
    assert hit is not None
    assert (hit.code, hit.verdict) == (ReasonCode.REPUTATION_HAM, Verdict.APPROVE)
    assert "marked comments from Ana@Example.org as not spam in the last 30 days" in hit.message
    mixed = reputation(Facts(now=NOW, reputation_ham_email=3, reputation_spam_ip=1))
    assert mixed is not None
    assert mixed.code is ReasonCode.REPUTATION_SPAM


def test_the_site_can_switch_reputation_off() -> None:
    facts = Facts(now=NOW, reputation_spam_ip=1, reputation_ham_email=1)
    assert reputation(facts, SitePolicy(check_reputation=False)) is None


def test_the_rule_runs_with_the_others() -> None:
    hits = rules.run(AUTHOR, SitePolicy(), Facts(now=NOW, reputation_spam_ip=1))
    assert [h.code for h in hits] == [ReasonCode.REPUTATION_SPAM]


def test_the_window_is_a_validated_site_setting() -> None:
    assert SitePolicy().reputation_days == 30
    assert SitePolicy.from_dict({"reputation_days": "7"}).reputation_days == 7
    assert SitePolicy.from_dict({"check_reputation": "false"}).check_reputation is False
    with pytest.raises(PolicyError, match="reputation_days"):
        SitePolicy(reputation_days=-1)
    with pytest.raises(PolicyError, match="reputation_days"):
        SitePolicy.from_dict({"reputation_days": "soon"})


def judged(facts: Facts, p: float, comment: Comment = AUTHOR) -> Decision:
    return checking.judge(comment, SitePolicy(), facts, Score(p))


def test_an_author_marked_not_spam_is_trusted_over_the_classifier_alone() -> None:
    trusted = Facts(now=NOW, reputation_ham_email=1)
    decision = judged(trusted, 0.97)
    assert decision.verdict is Verdict.APPROVE
    assert [r.code for r in decision.reasons] == [ReasonCode.REPUTATION_HAM]
    assert judged(Facts(now=NOW), 0.97).verdict is Verdict.SPAM  # without the mark
    # Other rules still count: the honeypot is a hard hit.
    bot = replace(AUTHOR, honeypot="filled")
    assert judged(trusted, 0.05, bot).verdict is Verdict.SPAM


def test_a_trusted_author_behind_a_spam_marked_ip_keeps_that_trust() -> None:
    hits = rules.run(AUTHOR, SitePolicy(), Facts(now=NOW, reputation_spam_ip=1))
    assert decide(hits, Score(0.1), SitePolicy(), previously_approved=True).verdict is (
        Verdict.APPROVE
    )
    assert decide(hits, Score(0.1), SitePolicy()).verdict is Verdict.SPAM
    email_hits = rules.run(AUTHOR, SitePolicy(), Facts(now=NOW, reputation_spam_email=1))
    assert decide(email_hits, Score(0.1), SitePolicy(), previously_approved=True).verdict is (
        Verdict.SPAM
    )


# Through the store's facts, on SQLite and PostgreSQL


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    yield from open_env(database_url, monkeypatch)


def check(
    env: Env,
    comment: Comment,
    *,
    p: float = 0.1,
    at: datetime | None = None,
    site: Site | None = None,
) -> Decision:
    """Check a comment as the API does, with the classifier's probability fixed at `p`."""
    target = site or env.blog

    def decide_(facts: Facts) -> Decision:
        return checking.judge(comment, target.policy, facts, Score(p))

    return env.store.check_and_save(
        target, comment, decide_, model_version="test", now=at or datetime.now(UTC)
    ).decision


def codes(decision: Decision) -> list[ReasonCode]:
    return [r.code for r in decision.reasons]


def add_spam(env: Env, *, is_test: bool = False) -> str:
    """A comment from a spammer, held."""
    return add(
        env,
        ip="203.0.113.66",
        email="promo@casino.example",
        name="Casino",
        content="Best bonus at https://www.casino.example/win, see en.wikipedia.org/wiki/Casino",
        is_test=is_test,
    )


def person(content: str, name: str, ip: str) -> Comment:
    """A comment from someone else."""
    return Comment(
        content=content,
        author_name=name,
        author_email=f"{name.lower()}@example.org",
        user_ip=ip,
        post_id="p",
    )


def test_marking_spam_pushes_new_comments_from_that_ip_email_or_domain_to_spam(env: Env) -> None:
    spam_id = add_spam(env)
    env.queue.act(env.alice, [spam_id], ModerationAction.SPAM)
    assert marks(env, spam_id) == {
        ("ip", "203.0.113.66", "spam"),
        ("email", "promo@casino.example", "spam"),
        ("domain", "casino.example", "spam"),  # www. dropped; wikipedia.org never marked
    }
    same_ip = person("Nice post.", "Bo", "203.0.113.66")
    decision = check(env, same_ip)
    assert decision.verdict is Verdict.SPAM
    reason = next(r for r in decision.reasons if r.code is ReasonCode.REPUTATION_SPAM)
    assert reason.message == (
        "the IP address 203.0.113.66 was marked as spam by a moderator in the last 30 days"
    )
    by_domain = person("See http://shop.casino.example/x", "Cy", "192.0.2.3")
    reason = next(r for r in check(env, by_domain).reasons if r.code is ReasonCode.REPUTATION_SPAM)
    assert "link domain casino.example" in reason.message
    wiki = person("See https://en.wikipedia.org/wiki/Casino", "Di", "192.0.2.4")
    assert check(env, wiki).verdict is Verdict.APPROVE
    # Another site keeps its own reputation.
    assert check(env, same_ip, site=env.news).verdict is Verdict.APPROVE


def test_marks_lapse_after_the_sites_window(env: Env) -> None:
    spam_id = add_spam(env)
    env.queue.act(env.alice, [spam_id], ModerationAction.SPAM)
    later = person("Hello again.", "Bo", "203.0.113.66")
    soon = datetime.now(UTC) + timedelta(days=29)
    assert check(env, later, at=soon).verdict is Verdict.SPAM
    lapsed = datetime.now(UTC) + timedelta(days=31)
    decision = check(env, later, at=lapsed)
    assert ReasonCode.REPUTATION_SPAM not in codes(decision)


def test_undo_and_delete_take_the_marks_back(env: Env) -> None:
    spam_id = add_spam(env)
    env.queue.act(env.alice, [spam_id], ModerationAction.SPAM)
    env.queue.undo(env.alice, spam_id)
    assert marks(env) == set()
    other = add_spam(env)
    env.queue.act(env.alice, [other], ModerationAction.SPAM)
    env.queue.act(env.alice, [other], ModerationAction.DELETE)
    assert marks(env) == set()
    newcomer = person("Hello.", "Bo", "203.0.113.66")
    assert check(env, newcomer).verdict is Verdict.APPROVE


def test_test_traffic_leaves_no_marks(env: Env) -> None:
    spam_id = add_spam(env, is_test=True)
    env.queue.act(env.alice, [spam_id], ModerationAction.SPAM)
    assert row(env, spam_id)["status"] == "spam"
    assert marks(env) == set()


def test_an_author_moderators_approved_is_approved_over_an_unsure_classifier(env: Env) -> None:
    # The site does not trust previous approvals as such: only the moderator's mark counts.
    env.store.set_policy("blog", SitePolicy(trust_previously_approved=False))
    env.blog = env.store.get_site("blog")
    held = add(env, email="ana@example.org", ip="192.0.2.10")
    env.queue.act(env.alice, [held], ModerationAction.APPROVE)
    assert marks(env, held) == {("email", "ana@example.org", "ham")}
    comment = replace(person("Another thought on the vote.", "Ana", "192.0.2.11"),
                      author_email="ANA@example.org")  # fmt: skip
    decision = check(env, comment, p=0.7)
    assert decision.verdict is Verdict.APPROVE
    assert codes(decision)[0] is ReasonCode.REPUTATION_HAM
    stranger = person("Another thought on the vote!", "Bo", "192.0.2.12")
    assert check(env, stranger, p=0.7).verdict is Verdict.HOLD


def test_a_marked_domain_among_dozens_of_links_is_found_and_named(env: Env) -> None:
    # The domains are looked up sixteen to a statement: the marked ones sit in the third
    # statement and later, and the message names the first of them in alphabetical order.
    for domain in ("zz-pills.example", "mm-loans.example"):
        spam_id = add(env, content=f"Visit https://{domain}/offer", ip="", email="")
        env.queue.act(env.alice, [spam_id], ModerationAction.SPAM)
    links = " ".join(f"https://site{i:02d}.example/" for i in range(40))
    comment = person(f"{links} https://zz-pills.example/ https://mm-loans.example/", "Ed", "")
    decision = check(env, comment)
    reason = next(r for r in decision.reasons if r.code is ReasonCode.REPUTATION_SPAM)
    assert "link domain mm-loans.example was marked" in reason.message
    assert decision.verdict is Verdict.SPAM
