"""Scoring a backlog: the decisions `moderation score` and the batch endpoint give."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import pytest

from moderation import artifacts, backlog
from moderation.artifacts import LoadedModel
from moderation.dataset import read_all, seed_files
from moderation.domain import Comment, Decision, Verdict
from moderation.policy import SitePolicy
from moderation.rules import Facts
from tests.conftest import MODELS_DIR, ROOT


@cache
def _model() -> LoadedModel:
    return artifacts.load_current(MODELS_DIR)


@cache
def _comments() -> tuple[Comment, ...]:
    """About 500 seed comments, spam and ham, from every file."""
    examples = read_all(seed_files(ROOT / "training" / "data"))
    return tuple(
        Comment(post_id="p", content=ex.item.content, author_name=ex.item.author_name,
                author_email=ex.author_email or f"r{i}@example.org",
                author_url=ex.item.author_url)
        for i, ex in enumerate(examples[:: max(1, len(examples) // 500)])
    )  # fmt: skip


def _decisions(policy: SitePolicy, *, evidence: bool) -> list[Decision]:
    job = backlog.BacklogJob(model=_model(), policy=policy, facts=Facts(now=datetime.now(UTC)))
    decided = backlog.decide_all(job, _comments(), evidence=evidence)
    return [item[1] for item in decided if not isinstance(item, str)]


def _bands(kind: str) -> SitePolicy:
    if kind == "default":
        return SitePolicy()
    # The shipped model is sure of most comments: an unsure band from the 30th to the 70th
    # percentile of their probabilities holds many of them.
    probabilities = sorted(d.spam_probability for d in _decisions(SitePolicy(), evidence=True))
    ham, spam = (probabilities[len(probabilities) * q // 10] for q in (3, 7))
    return SitePolicy(ham_threshold=ham, spam_threshold=spam, discard_threshold=1.0)


@pytest.mark.parametrize("kind", ["default", "wide unsure band"])
def test_decisions_without_evidence_give_the_same_reasons(kind: str) -> None:
    # Without evidence (for callers that do not show it) a decision still names the terms
    # that pushed towards spam wherever its reasons do: in the unsure band and above it.
    policy = _bands(kind)
    full = _decisions(policy, evidence=True)
    lean = _decisions(policy, evidence=False)
    assert [(d.verdict, d.spam_probability, d.reasons, d.discard) for d in lean] == [
        (d.verdict, d.spam_probability, d.reasons, d.discard) for d in full
    ]
    for whole, some in zip(full, lean, strict=True):
        named = whole.spam_probability >= policy.ham_threshold
        assert some.evidence == (whole.evidence if named else ())
    verdicts = {d.verdict for d in lean}
    assert {Verdict.APPROVE, Verdict.SPAM} <= verdicts
    if kind != "default":
        assert sum(d.verdict is Verdict.HOLD for d in lean) > 50
        assert any(
            "terms:" in r.message for d in lean for r in d.reasons if d.verdict is Verdict.HOLD
        )
