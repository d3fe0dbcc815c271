"""The pages' pure helpers: safe redirects, signed flash messages, links and the chart."""

from __future__ import annotations

import pytest

from moderation.web.security import Flash, open_flash, safe_fragment, safe_next, seal_flash
from moderation.web.templating import environment, render
from moderation.web.views import Series, bar_chart, excerpt, http_url, percent


@pytest.mark.parametrize(
    "value",
    [
        "/moderate",
        "/moderate/queue?status=spam&q=a%20b",
        "/moderate/comments/4a9b-11",
    ],
)
def test_paths_of_the_pages_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://evil.example/moderate",
        "//evil.example/moderate",
        "///evil.example/moderate",
        "/\\evil.example/moderate",
        "\\\\evil.example",
        "/moderate/../v1/sites",
        "/moderate/..",
        "/moderatex",
        "/v1/sites",
        "moderate",
        "javascript:alert(1)",
        "/moderate\nLocation: https://evil.example",
        "/moderate\t",
        "http:/moderate",
    ],
)
def test_anything_else_falls_back_to_the_dashboard(value: str | None) -> None:
    assert safe_next(value) == "/moderate"


def test_a_focus_target_is_only_ever_a_comment_id() -> None:
    assert safe_fragment("0b6f7a52-2d4e-4b8e-9f51-6e1f0c1d2e3f") == (
        "#c-0b6f7a52-2d4e-4b8e-9f51-6e1f0c1d2e3f"
    )
    for value in (None, "", 'x" onmouseover="alert(1)', "a/b", "#c-1", "x" * 65):
        assert safe_fragment(value) == ""


def test_a_flash_opens_only_with_the_key_that_sealed_it() -> None:
    flash = Flash("Approved 2 comments.", ("a-1", "b-2"))
    sealed = seal_flash(flash, "session secret")
    assert open_flash(sealed, "session secret") == flash
    assert open_flash(sealed, "another session") is None
    payload, mac = sealed.split(".")
    forged = seal_flash(Flash("You won!"), "guess").split(".")[0] + "." + mac
    assert open_flash(forged, "session secret") is None
    assert open_flash("garbage", "session secret") is None
    assert open_flash("", "session secret") is None
    assert open_flash(payload + ".", "session secret") is None


def test_a_large_selection_is_sealed_without_its_undo() -> None:
    many = tuple(f"id-{n}" for n in range(500))
    sealed = seal_flash(Flash("Marked 500 comments as spam.", many), "k")
    assert len(sealed) < 4000  # a cookie's size
    opened = open_flash(sealed, "k")
    assert opened is not None
    assert opened.undo_ids == ()


@pytest.mark.parametrize(
    ("value", "linked"),
    [
        ("https://blog.example/a?b=c", True),
        ("http://blog.example", True),
        ("HTTPS://blog.example", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox(1)", False),
        ("//blog.example", False),
        ("https://", False),
        ("https://blog.example/\u202e", False),
        ("", False),
    ],
)
def test_only_web_addresses_are_linked(value: str, linked: bool) -> None:
    assert (http_url(value) == value) is linked
    if not linked:
        assert http_url(value) is None


def test_numbers_and_excerpts_read_well() -> None:
    assert percent(0.974) == "97%"
    assert percent(None) == "–"
    assert excerpt("a  b\n\nc") == "a b c"
    cut = excerpt("word " * 100, 20)
    assert cut.endswith("…")
    assert len(cut) <= 21


def test_the_chart_scales_its_bars_to_the_busiest_day() -> None:
    chart = bar_chart(
        ["2026-11-01", "2026-11-02", "2026-11-03"],
        [
            Series("spam caught", "bar-spam", (0, 7, 3)),
            Series("false positives", "bar-fp", (1, 0, 0)),
        ],
    )
    heights = {bar.title: bar.height for bar in chart.bars}
    assert heights["2026-11-01: 0 spam caught"] == 0
    tallest = heights["2026-11-02: 7 spam caught"]
    assert tallest == max(heights.values())
    assert chart.ticks[-1].label == "10"  # a round top: 7 → 10
    assert all(bar.y + bar.height <= chart.bottom + 0.01 for bar in chart.bars)
    assert sorted(bar.x for bar in chart.bars) == [bar.x for bar in chart.bars]


def test_every_template_escapes_what_it_is_given() -> None:
    assert environment().autoescape is True
    html = render(
        "error.html",
        {"me": None, "csrf": "", "flash": None, "here": "/moderate", "page": "error",
         "title": "<script>alert(1)</script>", "message": '"><svg onload=alert(1)>',
         "link": "/moderate", "link_text": "back"},
    )  # fmt: skip
    assert "<script>alert" not in html
    assert "<svg" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
