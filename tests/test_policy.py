"""The three bands, how rule hits combine with them, and site policy validation."""

from __future__ import annotations

import pytest

from moderation.domain import Evidence, ReasonCode, RuleHit, Score, Verdict
from moderation.policy import PolicyError, SitePolicy, decide

POLICY = SitePolicy(ham_threshold=0.3, spam_threshold=0.8, discard_threshold=0.97)


@pytest.mark.parametrize(
    ("p", "verdict", "code"),
    [
        (0.05, Verdict.APPROVE, ReasonCode.CLASSIFIER_HAM),
        (0.5, Verdict.HOLD, ReasonCode.CLASSIFIER_UNSURE),
        (0.9, Verdict.SPAM, ReasonCode.CLASSIFIER_SPAM),
    ],
)
def test_three_bands(p: float, verdict: Verdict, code: ReasonCode) -> None:
    decision = decide([], Score(p), POLICY)
    assert decision.verdict is verdict
    assert [r.code for r in decision.reasons] == [code]
    assert decision.discard is False


def test_classifier_reason_names_the_terms_that_pushed() -> None:
    score = Score(0.95, (Evidence("casino", 2.0), Evidence("article", -0.5)))
    decision = decide([], score, SitePolicy(spam_threshold=0.9, discard_threshold=0.99))
    assert "'casino'" in decision.reasons[0].message
    assert "'article'" not in decision.reasons[0].message


def test_near_certain_spam_is_marked_discard() -> None:
    assert decide([], Score(0.99), POLICY).discard is True


def test_most_severe_outcome_wins() -> None:
    hits = [
        RuleHit(ReasonCode.TOO_MANY_LINKS, "3 links, limit 2", Verdict.HOLD, hard=False),
        RuleHit(ReasonCode.MISSING_EMAIL, "email required", Verdict.REJECT),
    ]
    decision = decide(hits, Score(0.9), POLICY)
    assert decision.verdict is Verdict.REJECT
    assert {r.code for r in decision.reasons} == {
        ReasonCode.TOO_MANY_LINKS, ReasonCode.MISSING_EMAIL, ReasonCode.CLASSIFIER_SPAM,
    }  # fmt: skip
    assert decision.discard is False


def test_previously_approved_author_gets_the_benefit_of_the_doubt() -> None:
    soft = [RuleHit(ReasonCode.TOO_MANY_LINKS, "3 links, limit 2", Verdict.HOLD, hard=False)]
    decision = decide(soft, Score(0.6), POLICY, previously_approved=True)
    assert decision.verdict is Verdict.APPROVE
    assert [r.code for r in decision.reasons] == [ReasonCode.PREVIOUSLY_APPROVED]


def test_hard_rule_still_applies_to_a_trusted_author() -> None:
    hard = [RuleHit(ReasonCode.BANNED_WORD, "banned", Verdict.SPAM)]
    assert decide(hard, Score(0.1), POLICY, previously_approved=True).verdict is Verdict.SPAM


def test_trust_can_be_switched_off() -> None:
    policy = SitePolicy(trust_previously_approved=False)
    assert decide([], Score(0.6), policy, previously_approved=True).verdict is Verdict.HOLD


def test_policy_round_trips_and_validates() -> None:
    policy = SitePolicy.from_dict({"max_links": "5", "banned_words": ["a", " b "]})
    assert policy.max_links == 5
    assert policy.banned_words == ("a", "b")
    assert SitePolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(PolicyError, match="unknown"):
        SitePolicy.from_dict({"max_linkz": 3})
    with pytest.raises(PolicyError, match="thresholds"):
        SitePolicy(ham_threshold=0.9, spam_threshold=0.5)
    with pytest.raises(PolicyError, match="true or false"):
        SitePolicy.from_dict({"check_flood": "maybe"})
