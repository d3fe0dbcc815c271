"""Per-site policy and the three-band decision that combines rule hits with the classifier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from moderation.domain import Decision, Reason, ReasonCode, RuleHit, Score, Verdict

# Chosen from the validation report of the shipped model (training/README.md): below HAM the
# comment is approved, from SPAM up it is spam, in between a moderator looks at it.
DEFAULT_HAM_THRESHOLD = 0.37
DEFAULT_SPAM_THRESHOLD = 0.88
DEFAULT_DISCARD_THRESHOLD = 0.985
_EVIDENCE_IN_REASON = 5
MAX_RETENTION_DAYS = 36_500


class PolicyError(ValueError):
    """A site policy that cannot be applied (unknown field, wrong type, thresholds out of order)."""


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """Everything a site can tune: thresholds, rule switches and their limits, word lists."""

    ham_threshold: float = DEFAULT_HAM_THRESHOLD
    spam_threshold: float = DEFAULT_SPAM_THRESHOLD
    discard_threshold: float = DEFAULT_DISCARD_THRESHOLD

    require_name_email: bool = True
    check_email_deliverability: bool = False
    email_dns_timeout_seconds: int = 2

    check_links: bool = True
    max_links: int = 2
    hold_url_shorteners: bool = True
    banned_domains: tuple[str, ...] = ()

    check_words: bool = True
    banned_words: tuple[str, ...] = ()
    moderation_words: tuple[str, ...] = ()

    check_honeypot: bool = True
    check_timing: bool = True
    min_submit_seconds: float = 3.0

    check_duplicates: bool = True
    check_flood: bool = True
    flood_interval_seconds: float = 15.0

    trust_previously_approved: bool = True

    # Reputation (Antispam Bee's local spam database): what moderators marked spam or not spam
    # in the last `reputation_days` days leans new comments from the same IP, email or link
    # domain the same way.
    check_reputation: bool = True
    reputation_days: int = 30

    # Retention (`moderation purge`): spam is deleted this many days after it arrived, trash
    # this many days after it was trashed; 0 keeps it forever.
    spam_retention_days: int = 30
    trash_retention_days: int = 30

    def __post_init__(self) -> None:
        if not 0.0 <= self.ham_threshold <= self.spam_threshold <= self.discard_threshold <= 1.0:
            raise PolicyError(
                "thresholds must satisfy 0 <= ham_threshold <= spam_threshold "
                "<= discard_threshold <= 1"
            )
        if self.max_links < 0:
            raise PolicyError("max_links must be 0 or more")
        for name in (
            "min_submit_seconds",
            "flood_interval_seconds",
            "email_dns_timeout_seconds",
            "reputation_days",
        ):
            if getattr(self, name) < 0:
                raise PolicyError(f"{name} must be 0 or more")
        for name in ("spam_retention_days", "trash_retention_days"):
            if not 0 <= getattr(self, name) <= MAX_RETENTION_DAYS:
                raise PolicyError(f"{name} must be 0 (keep forever) to {MAX_RETENTION_DAYS}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every setting."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SitePolicy:
        """Build a policy from stored or submitted settings; unknown keys are an error."""
        return cls().updated(data)

    def updated(self, changes: dict[str, Any]) -> SitePolicy:
        """A copy with `changes` applied, each checked against the field's type."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise PolicyError(f"unknown policy setting {name!r}")
            clean[name] = _coerce(name, value, getattr(self, name))
        return replace(self, **clean)


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise PolicyError(f"{name} must be true or false")
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PolicyError(f"{name} must be a whole number")
        try:
            return int(value)
        except ValueError as exc:
            raise PolicyError(f"{name} must be a whole number") from exc
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PolicyError(f"{name} must be a number")
        try:
            return float(value)
        except ValueError as exc:
            raise PolicyError(f"{name} must be a number") from exc
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = value.splitlines()
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise PolicyError(f"{name} must be a list of strings")
        return tuple(v.strip() for v in value if v.strip())
    raise PolicyError(f"{name} cannot be set")


def _terms(score: Score) -> str:
    """The terms that pushed towards spam, as a reason's tail ("" when none did)."""
    pushing = [e.term for e in score.evidence if e.weight > 0][:_EVIDENCE_IN_REASON]
    return f"; terms: {', '.join(repr(t) for t in pushing)}" if pushing else ""


def _classifier_reason(score: Score, policy: SitePolicy) -> tuple[Verdict, Reason]:
    p = score.spam_probability
    if p >= policy.spam_threshold:
        return Verdict.SPAM, Reason(
            ReasonCode.CLASSIFIER_SPAM,
            f"spam probability {p:.2f} is at or above {policy.spam_threshold:.2f}{_terms(score)}",
        )
    if p >= policy.ham_threshold:
        return Verdict.HOLD, Reason(
            ReasonCode.CLASSIFIER_UNSURE,
            f"spam probability {p:.2f} is between {policy.ham_threshold:.2f} "
            f"and {policy.spam_threshold:.2f}{_terms(score)}",
        )
    return Verdict.APPROVE, Reason(
        ReasonCode.CLASSIFIER_HAM,
        f"spam probability {p:.2f} is below {policy.ham_threshold:.2f}",
    )


def decide(
    hits: Iterable[RuleHit],
    score: Score,
    policy: SitePolicy,
    *,
    previously_approved: bool = False,
) -> Decision:
    """Combine rule hits and the classifier's score into one verdict with its reasons.

    The most severe outcome wins (reject > spam > hold > approve). An author with an approved
    comment on the site, or whose comments moderators marked not spam (a reputation_ham hit),
    keeps only the hard hits: soft hits and the classifier are waived.
    """
    hits = list(hits)
    # An author whose comments moderators marked not spam is trusted like one with an approved
    # comment (the reputation rule only says so when nothing of theirs was marked spam).
    trusted = (previously_approved and policy.trust_previously_approved) or any(
        hit.code is ReasonCode.REPUTATION_HAM for hit in hits
    )
    if trusted:
        hits = [h for h in hits if h.hard]
    verdict = Verdict.APPROVE
    discard = False
    reasons: list[Reason] = []
    for hit in hits:
        reasons.append(hit.reason)
        if hit.verdict.severity > verdict.severity:
            verdict = hit.verdict
        discard = discard or hit.discard

    if trusted and not hits:
        reasons.append(
            Reason(
                ReasonCode.PREVIOUSLY_APPROVED,
                "the author has an approved comment on this site",
            )
        )
    else:
        band, reason = _classifier_reason(score, policy)
        if not trusted or band is Verdict.APPROVE:
            reasons.append(reason)
            if band.severity > verdict.severity:
                verdict = band
    if verdict is Verdict.SPAM and score.spam_probability >= policy.discard_threshold:
        discard = True
    return Decision(
        verdict=verdict,
        spam_probability=score.spam_probability,
        reasons=tuple(reasons),
        discard=discard and verdict is Verdict.SPAM,
        evidence=score.evidence,
    )
