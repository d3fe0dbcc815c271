"""moderation.akismet: the protocol's pure parts, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moderation import akismet
from moderation.domain import Decision, Verdict

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("3f9c0a7d12be.rest.akismet.com", "3f9c0a7d12be"),
        ("3f9c0a7d12be.rest.akismet.com:443", "3f9c0a7d12be"),
        ("mod_AbC-123.localhost:8000", "mod_AbC-123"),
        ("rest.akismet.com", ""),
        ("REST.Akismet.com.", ""),
        ("localhost:8000", ""),
        ("127.0.0.1:8000", ""),
        ("[::1]:8000", ""),
        ("", ""),
    ],
)
def test_the_key_in_the_host(host: str, key: str) -> None:
    assert akismet.key_from_host(host) == key


def test_a_key_field_wins_over_the_host() -> None:
    form = akismet.parse_form(b"key=from-key&api_key=from-api-key")
    assert akismet.key_of(form, "host-label.rest.akismet.com") == "from-api-key"
    form = akismet.parse_form(b"key=from-key")
    assert akismet.key_of(form, "host-label.rest.akismet.com") == "from-key"
    assert akismet.key_of(akismet.parse_form(b""), "host-label.rest.akismet.com") == "host-label"


@pytest.mark.parametrize(
    ("month", "label", "start", "end"),
    [
        ("", "2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", "2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2024-02", "2024-02", datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_month_bounds(month: str, label: str, start: datetime, end: datetime) -> None:
    assert akismet.month_bounds(month, NOW) == (label, start, end)


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "0000-01", "9999-12", "26-11", "nov"])
def test_month_bounds_refuse_what_is_not_a_month(month: str) -> None:
    with pytest.raises(akismet.FormError):
        akismet.month_bounds(month, NOW)


@pytest.mark.parametrize(
    ("verdict", "discard", "body", "tip"),
    [
        (Verdict.APPROVE, False, "false", False),
        (Verdict.HOLD, False, "false", False),
        (Verdict.SPAM, False, "true", False),
        (Verdict.SPAM, True, "true", True),
        (Verdict.REJECT, False, "true", False),
        (Verdict.REJECT, True, "true", False),  # a reject is never discarded unseen
    ],
)
def test_the_answer_for_each_verdict(verdict: Verdict, discard: bool, body: str, tip: bool) -> None:
    answer = akismet.answer(Decision(verdict, 0.5, (), discard=discard))
    assert (answer.body, answer.discard) == (body, tip)


def test_the_charset_comes_from_the_header_then_the_blog_then_utf8() -> None:
    latin = b"comment_author=Ren%E9e&blog_charset=ISO-8859-1"
    assert akismet.parse_form(latin).text("comment_author") == "Renée"
    assert akismet.parse_form(b"comment_author=Ren%C3%A9e").text("comment_author") == "Renée"
    header = akismet.parse_form(b"comment_author=Ren%E9e", charset="latin-1")
    assert header.text("comment_author") == "Renée"
    unknown = akismet.parse_form(b"comment_author=Ren%C3%A9e&blog_charset=utf8mb4")
    assert unknown.text("comment_author") == "Renée"
    with pytest.raises(akismet.FormError) as refused:
        akismet.parse_form(b"comment_author=Ren%E9e").text("comment_author")
    assert refused.value.field == "comment_author"
    assert refused.value.status == 400


def test_the_body_overrides_the_query_and_the_last_value_wins() -> None:
    form = akismet.parse_form(b"blog=b1&blog=b2", query="blog=q&user_ip=192.0.2.1")
    assert (form.text("blog"), form.text("user_ip")) == ("b2", "192.0.2.1")
    assert akismet.content_type('application/x-www-form-urlencoded; charset="UTF-8"') == (
        "application/x-www-form-urlencoded",
        "UTF-8",
    )


def test_too_many_fields_are_refused() -> None:
    with pytest.raises(akismet.FormError):
        akismet.parse_form(b"&".join(b"f%d=1" % i for i in range(akismet.MAX_FIELDS + 1)))
