"""The rule checks: one small pure function per rule, each switchable and tuned by the policy."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from moderation.domain import Comment, ReasonCode, RuleHit, Verdict
from moderation.links import domain_matches, extract_links, is_shortener, link_domains
from moderation.policy import SitePolicy
from moderation.textnorm import skeleton


@dataclass(frozen=True, slots=True)
class Facts:
    """What the store knows about a comment's context, gathered before the rules run."""

    now: datetime
    duplicate: bool = False
    recent_from_same_author: int = 0
    previously_approved: bool = False
    # Reputation marks of the site's window (bounded counts): spam marks on this IP, email or one
    # of the comment's link domains (`reputation_spam_domain` names one), ham marks on the email.
    reputation_spam_ip: int = 0
    reputation_spam_email: int = 0
    reputation_spam_domains: int = 0
    reputation_spam_domain: str = ""
    reputation_ham_email: int = 0


Rule = Callable[[Comment, SitePolicy, Facts], RuleHit | None]


def required_fields(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Reject a comment without author name or email when the site requires them."""
    if not policy.require_name_email:
        return None
    if not comment.author_name.strip():
        return RuleHit(
            ReasonCode.MISSING_NAME, "Please enter your name: it is required.", Verdict.REJECT
        )
    if not comment.author_email.strip():
        return RuleHit(
            ReasonCode.MISSING_EMAIL,
            "Please enter your email address: it is required (it will not be published).",
            Verdict.REJECT,
        )
    return None


@lru_cache(maxsize=4096)
def _email_syntax_problem(email: str) -> str | None:
    # Regular commenters come back with the same address: its syntax is checked once.
    local, at, domain = email.rpartition("@")
    if at and domain.isascii() and len(email) <= EMAIL_MAX_LENGTH and DOT_ATOM_TEXT.match(local):
        # A plain local part passes every check email-validator makes of it, and the length
        # is within bounds: the address is valid exactly when its domain is. New commenters
        # mostly come from a few domains, whose checks are most of the library's time
        # (about 25 us an address); a test holds this to the library itself.
        return _email_domain_problem(domain)
    return _library_email_problem(email)


@lru_cache(maxsize=1024)
def _email_domain_problem(domain: str) -> str | None:
    if _plain_domain(domain):
        return None
    return _library_email_problem(f"a@{domain}")


# Labels of letters, digits and inner hyphens under an alphabetic top-level label.
_PLAIN_DOMAIN = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}")


def _plain_domain(domain: str) -> bool:
    # A name like this passes every check email-validator makes of a domain but one, the
    # special-use names (.test, .local...), which are left to the library; so are "--"
    # (Punycode, reserved labels) and names too long for a one-letter local part. The library
    # spends some 300,000 instructions on a domain: most of the rules' work for a comment from
    # a new one. A test holds this to the library itself.
    if len(domain) > EMAIL_MAX_LENGTH - 2 or "--" in domain or not _PLAIN_DOMAIN.fullmatch(domain):
        return False
    return domain_matches(domain, SPECIAL_USE_DOMAIN_NAMES) is None


def _library_email_problem(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def _email_problem(email: str, policy: SitePolicy) -> str | None:
    problem = _email_syntax_problem(email)
    if problem is not None or not policy.check_email_deliverability:
        return problem
    # Deliverability (DNS) is never cached: a domain's mail records can change.
    try:
        validate_email(email, check_deliverability=True, timeout=policy.email_dns_timeout_seconds)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def email_valid(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Reject an email address that is not valid (syntax; DNS only if the site opts in)."""
    email = comment.author_email.strip()
    if not email:
        return None
    problem = _email_problem(email, policy)
    if problem is not None:
        return RuleHit(
            ReasonCode.INVALID_EMAIL,
            f"Please enter a valid email address: {problem}",
            Verdict.REJECT,
        )
    return None


def banned_domains(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Spam when a link, the author URL or the email's domain is on the site's banned list."""
    if not policy.check_links or not policy.banned_domains:
        return None
    domains = link_domains(comment.content, comment.author_url)
    _, _, email_domain = comment.author_email.strip().rpartition("@")
    if email_domain:
        domains.extend(link_domains("", email_domain))
    for domain in domains:
        listed = domain_matches(domain, policy.banned_domains)
        if listed is not None:
            return RuleHit(
                ReasonCode.BANNED_DOMAIN,
                f"links to {domain}, which is banned ({listed})",
                Verdict.SPAM,
            )
    return None


def too_many_links(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Hold a comment with more links in its text than the site allows."""
    if not policy.check_links:
        return None
    count = len(extract_links(comment.content))
    if count > policy.max_links:
        return RuleHit(
            ReasonCode.TOO_MANY_LINKS,
            f"{count} links, limit {policy.max_links}",
            Verdict.HOLD,
            hard=False,
        )
    return None


def url_shortener(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Hold a comment linking through a URL shortener, which hides where the link goes."""
    if not policy.check_links or not policy.hold_url_shorteners:
        return None
    for domain in link_domains(comment.content, comment.author_url):
        if is_shortener(domain):
            return RuleHit(
                ReasonCode.URL_SHORTENER,
                f"links through the URL shortener {domain}",
                Verdict.HOLD,
                hard=False,
            )
    return None


def _compile_words(words: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation over the folded entries; an entry ending in `*` matches as a prefix.

    Unlike WordPress's plain substring match, a word entry only matches at word boundaries, so
    that "ass" does not hold every comment about a "class".
    """
    parts = []
    for raw in words:
        word = skeleton(raw.strip())
        prefix = word.endswith("*")
        word = word.rstrip("*").strip()
        if not word:
            continue
        left = r"(?<!\w)" if word[0].isalnum() else ""
        right = "" if prefix or not word[-1].isalnum() else r"(?!\w)"
        parts.append(f"{left}{re.escape(word)}{right}")
    if not parts:
        return None
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


_word_cache: dict[tuple[str, ...], re.Pattern[str] | None] = {}


def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    # Site lists change rarely and are checked on every comment: compile each list once.
    if words not in _word_cache:
        if len(_word_cache) > 1024:
            _word_cache.clear()
        _word_cache[words] = _compile_words(words)
    return _word_cache[words]


def _find_word(comment: Comment, words: tuple[str, ...]) -> tuple[str, str] | None:
    pattern = _words_pattern(words)
    if pattern is None:
        return None
    for field_name in ("author_name", "author_email", "author_url", "content", "user_ip",
                       "user_agent"):  # fmt: skip
        match = pattern.search(skeleton(getattr(comment, field_name)))
        if match:
            return field_name, match.group(0)
    return None


def banned_words(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Spam when a disallowed word appears in any field, after Unicode folding."""
    if not policy.check_words:
        return None
    found = _find_word(comment, policy.banned_words)
    if found:
        return RuleHit(
            ReasonCode.BANNED_WORD,
            f"{found[0].replace('_', ' ')} contains the banned term {found[1]!r}",
            Verdict.SPAM,
        )
    return None


def moderation_words(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Hold when a moderation word appears in any field, after Unicode folding."""
    if not policy.check_words:
        return None
    found = _find_word(comment, policy.moderation_words)
    if found:
        return RuleHit(
            ReasonCode.MODERATION_WORD,
            f"{found[0].replace('_', ' ')} contains the moderation term {found[1]!r}",
            Verdict.HOLD,
            hard=False,
        )
    return None


def honeypot(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Spam, to discard, when the hidden form field that people never see was filled."""
    if policy.check_honeypot and comment.honeypot.strip():
        return RuleHit(
            ReasonCode.HONEYPOT, "the hidden honeypot field was filled", Verdict.SPAM, discard=True
        )
    return None


def too_fast(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Spam when the comment came sooner after the form was shown than a person can type."""
    if not policy.check_timing or comment.form_rendered_at is None:
        return None
    submitted = comment.submitted_at or facts.now
    elapsed = (submitted - comment.form_rendered_at).total_seconds()
    # A negative delay is clock skew between blog and service, not evidence of a bot.
    if 0 <= elapsed < policy.min_submit_seconds:
        return RuleHit(
            ReasonCode.TOO_FAST,
            f"submitted {elapsed:.1f} s after the form was shown, minimum "
            f"{policy.min_submit_seconds:g} s",
            Verdict.SPAM,
        )
    return None


def duplicate(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Reject the same comment posted twice by the same author on the same post."""
    if policy.check_duplicates and facts.duplicate:
        return RuleHit(
            ReasonCode.DUPLICATE,
            "Duplicate comment detected; it looks as though you have already said that.",
            Verdict.REJECT,
        )
    return None


def flood(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Hold a comment that follows another from the same IP or email too quickly."""
    if policy.check_flood and facts.recent_from_same_author > 0:
        return RuleHit(
            ReasonCode.FLOOD,
            f"{facts.recent_from_same_author} other comment(s) from the same IP or email in the "
            f"last {policy.flood_interval_seconds:g} s",
            Verdict.HOLD,
            hard=False,
        )
    return None


def _in_the_last(days: int) -> str:
    return "in the last day" if days == 1 else f"in the last {days} days"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def reputation(comment: Comment, policy: SitePolicy, facts: Facts) -> RuleHit | None:
    """Spam when moderators recently marked this IP, email or a link domain as spam; approve
    (a trusted author) when they marked this author's comments as not spam and nothing as spam.

    A spam mark on the author's own email is a hard hit; one on a shared IP or a linked domain
    is soft, so an author the site already trusts keeps that trust.
    """
    if not policy.check_reputation:
        return None
    window = _in_the_last(policy.reputation_days)
    matched = []
    if facts.reputation_spam_email:
        matched.append(f"the email address {comment.author_email.strip()}")
    if facts.reputation_spam_ip:
        matched.append(f"the IP address {comment.user_ip}")
    if facts.reputation_spam_domains:
        matched.append(f"the link domain {facts.reputation_spam_domain}")
    if matched:
        verb = "was" if len(matched) == 1 else "were"
        return RuleHit(
            ReasonCode.REPUTATION_SPAM,
            f"{_joined(matched)} {verb} marked as spam by a moderator {window}",
            Verdict.SPAM,
            hard=bool(facts.reputation_spam_email),
        )
    if facts.reputation_ham_email:
        return RuleHit(
            ReasonCode.REPUTATION_HAM,
            f"a moderator marked comments from {comment.author_email.strip()} as not spam {window}",
            Verdict.APPROVE,
        )
    return None


ALL_RULES: tuple[Rule, ...] = (
    required_fields,
    email_valid,
    honeypot,
    too_fast,
    duplicate,
    banned_domains,
    banned_words,
    too_many_links,
    url_shortener,
    moderation_words,
    flood,
    reputation,
)


def run(
    comment: Comment, policy: SitePolicy, facts: Facts, *, rules: Iterable[Rule] = ALL_RULES
) -> list[RuleHit]:
    """Every hit of every enabled rule, in a stable order."""
    hits = []
    for rule in rules:
        hit = rule(comment, policy, facts)
        if hit is not None:
            hits.append(hit)
    return hits
