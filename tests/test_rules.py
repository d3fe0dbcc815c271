"""Each rule on its own: what fires, what the commenter or moderator is told, what is waived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation import rules
from moderation.domain import Comment, ReasonCode, Verdict
from moderation.policy import SitePolicy
from moderation.rules import Facts

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FACTS = Facts(now=NOW)


def comment(**fields: object) -> Comment:
    values: dict[str, object] = {
        "content": "Thanks for the article on the tuition vote.",
        "author_name": "Ana",
        "author_email": "ana@example.org",
        "post_id": "42",
    }
    values.update(fields)
    return Comment(**values)  # type: ignore[arg-type]


def codes(c: Comment, policy: SitePolicy | None = None, facts: Facts = FACTS) -> set[ReasonCode]:
    return {hit.code for hit in rules.run(c, policy or SitePolicy(), facts)}


def test_clean_comment_fires_nothing() -> None:
    assert codes(comment()) == set()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"author_name": "  "}, ReasonCode.MISSING_NAME),
        ({"author_email": ""}, ReasonCode.MISSING_EMAIL),
        ({"author_email": "ana@"}, ReasonCode.INVALID_EMAIL),
        ({"author_email": "ana at example dot org"}, ReasonCode.INVALID_EMAIL),
        ({"author_email": "ana@example..org"}, ReasonCode.INVALID_EMAIL),
    ],
)
def test_missing_or_invalid_author_is_rejected_with_a_message(
    fields: dict[str, str], code: ReasonCode
) -> None:
    hits = rules.run(comment(**fields), SitePolicy(), FACTS)
    hit = next(h for h in hits if h.code is code)
    assert hit.verdict is Verdict.REJECT
    assert "email" in hit.message.lower() or "name" in hit.message.lower()


def test_name_and_email_optional_when_the_site_says_so() -> None:
    policy = SitePolicy(require_name_email=False)
    assert codes(comment(author_name="", author_email=""), policy) == set()


def test_international_email_is_valid() -> None:
    assert codes(comment(author_email="josé@exämple.fr")) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Buy here: https://www.cheap-pills.ru/offer",
        "visit cheap-pills.ru today",
        'a <a href="http://shop.cheap-pills.ru">deal</a>',
        "[url=http://cheap-pills.ru]pills[/url]",
        "[pills](https://cheap-pills.ru)",
        "cheap-pills[.]ru",
    ],
)
def test_banned_domain_and_its_subdomains_are_spam(text: str) -> None:
    policy = SitePolicy(banned_domains=("cheap-pills.ru",))
    hits = rules.run(comment(content=text), policy, FACTS)
    assert [h.verdict for h in hits if h.code is ReasonCode.BANNED_DOMAIN] == [Verdict.SPAM]


def test_banned_domain_in_author_url() -> None:
    policy = SitePolicy(banned_domains=("casino.example",))
    assert ReasonCode.BANNED_DOMAIN in codes(
        comment(author_url="https://win.casino.example/"), policy
    )


def test_similar_domain_is_not_banned() -> None:
    policy = SitePolicy(banned_domains=("pills.ru",))
    assert codes(comment(content="see cheap-pills.ru"), policy) == set()


def test_more_links_than_allowed_is_held() -> None:
    text = "https://a.example.com https://b.example.com https://c.example.com"
    hits = rules.run(comment(content=text), SitePolicy(), FACTS)
    hit = next(h for h in hits if h.code is ReasonCode.TOO_MANY_LINKS)
    assert hit.verdict is Verdict.HOLD
    assert hit.message == "3 links, limit 2"
    assert codes(comment(content=text), SitePolicy(max_links=3)) == set()


def test_url_shortener_is_held() -> None:
    assert ReasonCode.URL_SHORTENER in codes(comment(content="look https://bit.ly/3xYz"))


@pytest.mark.parametrize(
    "text",
    [
        "Great VIAGRA deals",
        "Great v\u200biagra deals",  # zero-width space inside
        "Great vi\u0430gra deals",  # Cyrillic a
        "Great ｖｉａｇｒａ deals",  # fullwidth
    ],
)
def test_banned_word_survives_disguise(text: str) -> None:
    policy = SitePolicy(banned_words=("viagra",))
    assert ReasonCode.BANNED_WORD in codes(comment(content=text), policy)


def test_banned_word_matches_name_email_ip_and_agent() -> None:
    policy = SitePolicy(banned_words=("casino", "203.0.113.9", "evilbot"))
    assert ReasonCode.BANNED_WORD in codes(comment(author_name="Casino King"), policy)
    assert ReasonCode.BANNED_WORD in codes(comment(user_ip="203.0.113.9"), policy)
    assert ReasonCode.BANNED_WORD in codes(comment(user_agent="EvilBot/1.0"), policy)


def test_banned_word_needs_word_boundaries_unless_wildcard() -> None:
    assert codes(comment(content="our class met"), SitePolicy(banned_words=("ass",))) == set()
    policy = SitePolicy(banned_words=("casino*",))
    assert ReasonCode.BANNED_WORD in codes(comment(content="casinos galore"), policy)


def test_moderation_word_holds() -> None:
    policy = SitePolicy(moderation_words=("lawsuit",))
    hits = rules.run(comment(content="I will file a LAWSUIT"), policy, FACTS)
    assert [(h.code, h.verdict) for h in hits] == [(ReasonCode.MODERATION_WORD, Verdict.HOLD)]


def test_honeypot_is_spam_to_discard() -> None:
    hits = rules.run(comment(honeypot="http://x"), SitePolicy(), FACTS)
    assert [(h.code, h.verdict, h.discard) for h in hits] == [
        (ReasonCode.HONEYPOT, Verdict.SPAM, True)
    ]


def test_submitted_too_fast_is_spam() -> None:
    fast = comment(form_rendered_at=NOW - timedelta(seconds=1), submitted_at=NOW)
    slow = comment(form_rendered_at=NOW - timedelta(seconds=30), submitted_at=NOW)
    assert ReasonCode.TOO_FAST in codes(fast)
    assert codes(slow) == set()
    assert codes(fast, SitePolicy(min_submit_seconds=0.5)) == set()


def test_clock_skew_is_not_too_fast() -> None:
    assert codes(comment(form_rendered_at=NOW + timedelta(seconds=5), submitted_at=NOW)) == set()


def test_duplicate_is_rejected_and_flood_held() -> None:
    assert ReasonCode.DUPLICATE in codes(comment(), facts=Facts(now=NOW, duplicate=True))
    flood = rules.run(comment(), SitePolicy(), Facts(now=NOW, recent_from_same_author=2))
    assert [(h.code, h.verdict) for h in flood] == [(ReasonCode.FLOOD, Verdict.HOLD)]


def test_every_rule_can_be_switched_off() -> None:
    policy = SitePolicy(
        require_name_email=False, check_links=False, check_words=False, check_honeypot=False,
        check_timing=False, check_duplicates=False, check_flood=False,
        banned_words=("x",), banned_domains=("a.example",),
    )  # fmt: skip
    noisy = comment(
        author_name="", author_email="", honeypot="x", content="x https://a.example " * 5,
        form_rendered_at=NOW, submitted_at=NOW,
    )  # fmt: skip
    facts = Facts(now=NOW, duplicate=True, recent_from_same_author=3)
    assert codes(noisy, policy, facts) == set()


_DOMAINS = [
    "example.org", "Example.ORG", "gmail.com", "sub.example.co.uk", "xn--bcher-kva.example",
    "localhost", "example", "test", "invalid", "local", "onion", "1.2.3.4", "[1.2.3.4]",
    "[IPv6:::1]", "example.org.", ".example.org", "exa mple.org", "exa_mple.org",
    "-example.org", "example-.org", "example..org", "ex\"ample.org", "example.org>", "<x@y.org",
    "example.c", "example.123", "a" * 64 + ".org", "a" * 63 + ".org", "é.example", "",
    ".".join(["abcdefghi"] * 26) + ".org",
]  # fmt: skip
_LOCAL = "abcXYZ019!#$%&'*+-/=?^_`{|}~." + ' @"<>()\\,;:[]é\t'


@settings(max_examples=400, deadline=None)
@given(
    local=st.one_of(
        st.text(alphabet=_LOCAL, max_size=12),
        st.text(alphabet="ab", min_size=60, max_size=260),  # around every length limit
    ),
    domain=st.one_of(
        st.sampled_from(_DOMAINS),
        st.text(alphabet='abZ09.-_ <>"é[]:', max_size=20),
    ),
)
def test_the_email_syntax_shortcut_agrees_with_email_validator(local: str, domain: str) -> None:
    email = f"{local}@{domain}"
    assert rules._email_syntax_problem(email) == rules._library_email_problem(email)


_LABELS = [
    "a", "Z9", "ab-c", "a--b", "xn--bcher-kva", "-a", "a-", "1", "a" * 63, "a" * 64, "test",
    "local", "localhost", "onion", "invalid", "arpa", "example", "com", "c", "123", "é",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    labels=st.lists(
        st.one_of(st.sampled_from(_LABELS), st.text(alphabet="aZ09-", min_size=0, max_size=8)),
        min_size=1,
        max_size=6,
    ),
    long=st.sampled_from([0, 0, 0, 180, 240, 250, 260]),
)
def test_the_email_domain_shortcut_agrees_with_email_validator(
    labels: list[str], long: int
) -> None:
    # Padded with labels of "b" up to the length limits, which the shortcut checks itself.
    padding = "b." * (long // 2)
    domain = padding + ".".join(labels)
    expected = rules._library_email_problem(f"a@{domain}")
    assert rules._email_domain_problem.__wrapped__(domain) == expected
    if rules._plain_domain(domain):
        assert expected is None


def test_addresses_of_one_domain_are_each_judged_on_their_own() -> None:
    assert rules._email_syntax_problem("ana@example.org") is None
    assert rules._email_syntax_problem("ana..b@example.org") is not None  # a bad local part
    assert rules._email_syntax_problem("ana@example..org") is not None  # a bad domain
    too_long = "a" * 250 + "@example.org"
    assert rules._email_syntax_problem(too_long) == rules._library_email_problem(too_long)
    assert rules._email_syntax_problem(too_long) is not None
