"""The values that flow through a moderation decision: no I/O, no framework."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    """What the blog should do with a comment."""

    APPROVE = "approve"
    HOLD = "hold"
    SPAM = "spam"
    REJECT = "reject"

    @property
    def severity(self) -> int:
        """Rank used to combine several rule outcomes: the most severe wins."""
        return _SEVERITY[self]


_SEVERITY = {Verdict.APPROVE: 0, Verdict.HOLD: 1, Verdict.SPAM: 2, Verdict.REJECT: 3}


class Label(StrEnum):
    """A training label, from the seed corpus or a moderator's decision."""

    HAM = "ham"
    SPAM = "spam"


class ReasonCode(StrEnum):
    """Stable machine-readable codes for every reason a decision can give."""

    MISSING_NAME = "missing_name"
    MISSING_EMAIL = "missing_email"
    INVALID_EMAIL = "invalid_email"
    BANNED_DOMAIN = "banned_domain"
    TOO_MANY_LINKS = "too_many_links"
    URL_SHORTENER = "url_shortener"
    BANNED_WORD = "banned_word"
    MODERATION_WORD = "moderation_word"
    HONEYPOT = "honeypot"
    TOO_FAST = "too_fast"
    DUPLICATE = "duplicate"
    FLOOD = "flood"
    PREVIOUSLY_APPROVED = "previously_approved"
    CLASSIFIER_SPAM = "classifier_spam"
    CLASSIFIER_UNSURE = "classifier_unsure"
    CLASSIFIER_HAM = "classifier_ham"
    # Akismet's test switches: the blog vouches for an administrator; Akismet's test author and
    # email are always spam.
    TRUSTED_ROLE = "trusted_role"
    AKISMET_TEST_SPAM = "akismet_test_spam"
    # Reputation: moderators recently marked this IP, email or link domain as spam, or approved
    # this author.
    REPUTATION_SPAM = "reputation_spam"
    REPUTATION_HAM = "reputation_ham"


class CommentStatus(StrEnum):
    """Where a stored comment stands."""

    APPROVED = "approved"
    PENDING = "pending"
    SPAM = "spam"
    REJECTED = "rejected"
    TRASH = "trash"


class ModerationAction(StrEnum):
    """What a moderator can do to a comment; every action is recorded in its history."""

    APPROVE = "approve"
    SPAM = "spam"  # mark spam: labelled spam for training
    HAM = "ham"  # mark not spam: approved and labelled ham
    TRASH = "trash"
    DELETE = "delete"  # delete forever: the comment goes, its history stays
    UNDO = "undo"  # restore the status and label before the last action


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment as the blog submitted it, before any decision."""

    content: str
    author_name: str = ""
    author_email: str = ""
    author_url: str = ""
    post_id: str = ""
    permalink: str = ""
    user_ip: str = ""
    user_agent: str = ""
    referrer: str = ""
    language: str = ""
    honeypot: str = ""
    form_rendered_at: datetime | None = None
    submitted_at: datetime | None = None
    parent_id: str = ""
    external_id: str = ""


MAX_POST_KEY = 500


def post_key(post_id: str, permalink: str) -> str:
    """The key a comment's post is stored and matched under: its id, else its permalink.

    A permalink longer than a stored post key is represented by its digest, so that
    duplicates are still judged per post and nothing is cut.
    """
    post = post_id.strip() or permalink.strip()
    if len(post) <= MAX_POST_KEY:
        return post
    return "permalink-sha256:" + hashlib.sha256(post.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a decision, in words a moderator or commenter can read."""

    code: ReasonCode
    message: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: the verdict it asks for and why.

    `hard` hits stand even for a trusted, previously approved author; soft hits (moderation words,
    link counts, flood) are waived for such an author, as WordPress does.
    """

    code: ReasonCode
    message: str
    verdict: Verdict
    discard: bool = False
    hard: bool = True

    @property
    def reason(self) -> Reason:
        """The hit as a reason to report."""
        return Reason(self.code, self.message)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A term that pushed the classifier's score, and by how much (log-odds, signed)."""

    term: str
    weight: float


@dataclass(frozen=True, slots=True)
class Score:
    """The classifier's view of a comment: a calibrated probability and its evidence."""

    spam_probability: float
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer given to the blog for one comment."""

    verdict: Verdict
    spam_probability: float
    reasons: tuple[Reason, ...]
    discard: bool = False
    evidence: tuple[Evidence, ...] = field(default=())
