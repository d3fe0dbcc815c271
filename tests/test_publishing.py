"""Display form of comments: pure functions, no app, no database."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from moderation.erasure import AddressError, address_key, email_keys, erase_address
from moderation.publishing import (
    LINK_REL,
    CursorError,
    PublicComment,
    StoredComment,
    avatar_hash,
    display_name,
    feed_page,
    public_url,
    render_text,
    site_origin,
    thread,
)
from moderation.redaction import DEFAULT_PLACEHOLDER
from tests.publishing_cases import (
    EMAIL_FORMS,
    EMAILS_TEXT,
    XSS_NAME,
    XSS_TEXT,
    address_leaks,
    elements,
    unsafe_markup,
    visible_text,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SALT = "0" * 64


def stored(n: int, parent: str = "", **fields: object) -> StoredComment:
    values: dict[str, object] = {
        "id": f"c{n}",
        "parent_id": parent,
        "author_name": f"Author {n}",
        "author_email": f"author{n}@example.net",
        "author_url": "",
        "content": f"Comment number {n}.",
        "created_at": T0 + timedelta(minutes=n),
    }
    values.update(fields)
    return StoredComment(**values)  # type: ignore[arg-type]


def shape(items: list[PublicComment] | tuple[PublicComment, ...]) -> list[object]:
    """Ids and nesting: [id, [replies…]] for each comment."""
    return [[c.id, shape(c.replies)] if c.replies else c.id for c in items]


# --- The text ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "form"), EMAIL_FORMS, ids=[n for n, _ in EMAIL_FORMS])
def test_no_address_survives_in_any_form(name: str, form: str) -> None:
    markup = render_text(f"Reach me: {form} (thanks)")
    assert address_leaks(markup) == []
    assert address_leaks(visible_text(markup)) == []
    assert DEFAULT_PLACEHOLDER in visible_text(markup)
    assert visible_text(markup).startswith("Reach me: ")


def test_everything_else_of_the_text_stays_as_written() -> None:
    markup = render_text(EMAILS_TEXT)
    assert visible_text(markup).count(DEFAULT_PLACEHOLDER) == 24
    assert visible_text(markup).startswith("Thanks for the meeting notes. You can reach me")
    assert "plain: write to [email hidden]." in visible_text(markup)


def test_markup_in_a_comment_is_text_never_markup() -> None:
    markup = render_text(XSS_TEXT)
    assert unsafe_markup(markup) == []
    shown = visible_text(markup)
    assert "<script>window.__xss=4;alert(4)</script>" in shown
    assert '<a href="javascript:window.__xss=6;alert(6)">click</a>' in shown
    assert "&lt;b&gt;escaped&lt;/b&gt;" in shown  # entities stay as typed, not decoded


@pytest.mark.parametrize(
    ("text", "href", "shown"),
    [
        ("see https://example.org/a?b=1&c=2.", "https://example.org/a?b=1&c=2", None),
        ("(https://example.org/x)", "https://example.org/x", None),
        (
            "https://en.wikipedia.org/wiki/Mole_(unit)!",
            "https://en.wikipedia.org/wiki/Mole_(unit)",
            None,
        ),
        ("HTTP://EXAMPLE.ORG/Path", "HTTP://EXAMPLE.ORG/Path", None),
        ("go to www.example.org/page, now", "http://www.example.org/page", "www.example.org/page"),
        ('https://example.org/"onclick="x', "https://example.org/", None),
        ("https://example.org/<b>", "https://example.org/", None),
        ("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x", None),
    ],
)
def test_web_addresses_become_links(text: str, href: str, shown: str | None) -> None:
    markup = render_text(text)
    links = [attrs for tag, attrs in elements(markup) if tag == "a"]
    assert links == [{"href": href, "rel": LINK_REL}]
    assert (shown or href) in visible_text(markup)
    assert visible_text(markup) == text


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "ftp://files.example.org/x",
        "mailto:someone",
        "https://bank.example@evil.example/login",
        "https://example.org:99999/",
        "xhttps://example.org",
        "file.www.example.org",
        "hxxp://example[.]org",
        "https://",
        "https://intranet/",
    ],
)
def test_nothing_else_becomes_a_link(text: str) -> None:
    markup = render_text(text)
    assert [tag for tag, _ in elements(markup)] == ["p"]
    assert visible_text(markup) == text


def test_paragraphs_and_line_breaks() -> None:
    assert render_text("one\r\ntwo\rthree\n\n\n  \nfour\u2028five\n") == (
        "<p>one<br>two<br>three</p><p>four<br>five</p>"
    )
    assert render_text("   \n\n  ") == ""


def test_invisible_and_control_characters_never_reach_the_page() -> None:
    text = "a\u202eb\u200bc\u2066d\u200fe\x00f\x07g\x1bh\x7fi\x85j"
    markup = render_text(text)
    for char in "\u202e\u200b\u2066\u200f\x00\x07\x1b\x7f":
        assert char not in markup
    assert visible_text(markup) == "abcdefghij"


@pytest.mark.parametrize(
    "text",
    [
        "http://" + "a" * 65_000,
        "www." * 16_000,
        "https://x.org/" + ")" * 65_000,
        "https://x.org/" + "." * 65_000,
        "https://x.org " * 4_600,
        "a\n\n" * 21_000,
        "<" * 65_000,
        "&#64;" * 13_000,
        "(" * 65_000,
        "a@" * 32_000,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_rendering_stays_fast_on_hostile_input(text: str) -> None:
    # 65,536 characters is the longest comment the API takes; anything quadratic would take
    # tens of seconds here.
    started = time.perf_counter()
    render_text(text + "!")  # a text never seen before: not from the cache
    assert time.perf_counter() - started < 2.0


# --- The author ----------------------------------------------------------------------------


def test_display_name_hides_addresses_and_invisible_characters() -> None:
    assert display_name("  Ann\u202e \u200bLee  <ann.lee@example.org>\n\tx ") == (
        f"Ann Lee <{DEFAULT_PLACEHOLDER}> x"
    )
    assert display_name(XSS_NAME) == XSS_NAME  # text, escaped by whoever shows it
    assert display_name("\u200b\u202e") == ""
    assert display_name("Ann\nLee\r\nJr\u2028III\x00") == "Ann Lee Jr III"
    assert display_name("ann.lee@exam-\nple.org") == DEFAULT_PLACEHOLDER


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://ann.example/blog", "https://ann.example/blog"),
        ("  http://ann.example  ", "http://ann.example"),
        ("ann.example", "http://ann.example"),
        ("javascript:alert(1)", None),
        ("JAVASCRIPT:alert(1)//https://x.org", None),
        ("data:text/html,x", None),
        ("mailto:ann@example.org", None),
        ("https://ann.example/?c=ann@example.org", None),
        ("https://ann:pw@ann.example/", None),
        ("https://ann.example/\u202e", None),
        ("https://ann", None),
        ("", None),
        ("ftp://ann.example", None),
    ],
)
def test_author_url_is_linked_only_when_safe(given: str, expected: str | None) -> None:
    assert public_url(given) == expected


def test_avatar_hash_stands_for_the_author_without_revealing_the_address() -> None:
    one = avatar_hash(SALT, "Ann@Example.org ")
    assert one == avatar_hash(SALT, "ann@example.org")
    assert len(one) == 64
    assert int(one, 16) >= 0
    assert avatar_hash("1" * 64, "ann@example.org") != one  # another site, another hash
    assert avatar_hash(SALT, "bob@example.org") != one
    assert avatar_hash(SALT, "", "Ann") == avatar_hash(SALT, "", " ann ")
    assert avatar_hash(SALT, "", "Ann") != avatar_hash(SALT, "", "Bob")


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://blog.example/posts/", "https://blog.example"),
        ("HTTP://Blog.Example:80", "http://blog.example"),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("", None),
        ("ftp://blog.example", None),
        ("blog.example", None),
    ],
)
def test_site_origin(url: str, origin: str | None) -> None:
    assert site_origin(url) == origin


def test_only_allow_listed_fields_go_out() -> None:
    comment = stored(1, author_email="secret@example.org", author_url="https://a.example")
    [item] = thread([comment], salt=SALT)
    data = item.to_dict()
    assert list(data) == [
        "id", "parent_id", "author_name", "author_html", "author_url", "avatar", "html",
        "created_at", "replies",
    ]  # fmt: skip
    assert "secret" not in repr(data)
    assert data["author_html"] == f'<a href="https://a.example" rel="{LINK_REL}">Author 1</a>'
    assert data["created_at"] == "2026-11-25T12:01:00Z"


# --- Threads and pages ---------------------------------------------------------------------


def test_replies_sit_under_their_parent_oldest_first() -> None:
    comments = [
        stored(1),
        stored(2, "c1"),
        stored(3, "wp-1", external_id="wp-3"),  # the blog's own id of c1
        stored(4, "wp-3"),
        stored(5),
    ]
    comments[0] = replace(comments[0], external_id="wp-1")
    out = thread(reversed(comments), salt=SALT)
    assert shape(out) == [["c1", ["c2", ["c3", ["c4"]]]], "c5"]
    assert out[0].replies[1].replies[0].parent_id == "c3"
    assert out[0].parent_id is None


def test_orphans_and_cycles_are_shown_at_the_top() -> None:
    comments = [
        stored(1, "held-comment"),
        stored(2, "c3"),
        stored(3, "c2"),
        stored(4, "c4"),  # its own parent
        stored(5, "c2"),
    ]
    out = thread(comments, salt=SALT)
    assert shape(out) == ["c1", ["c2", ["c3", "c5"]], "c4"]
    assert sum(c.count() for c in out) == 5


def test_deep_replies_are_flattened_at_the_depth_limit() -> None:
    chain = [stored(0)] + [stored(n, f"c{n - 1}") for n in range(1, 2000)]
    out = thread(chain, salt=SALT, max_depth=3)
    level = out[0].replies[0]
    assert level.id == "c1"
    assert [r.id for r in level.replies] == [f"c{n}" for n in range(2, 2000)]
    assert [r.parent_id for r in level.replies[:3]] == ["c1", "c2", "c3"]
    assert all(not r.replies for r in level.replies)
    assert sum(c.count() for c in out) == 2000


def test_pages_of_threads_with_a_cursor() -> None:
    comments = [stored(n) for n in range(5)] + [stored(9, "c0")]
    first = feed_page(comments, salt=SALT, limit=2)
    assert shape(first.threads) == [["c0", ["c9"]], "c1"]
    assert (first.total_comments, first.total_threads) == (6, 5)
    assert first.next_cursor
    # A thread added meanwhile does not shift the pages.
    comments.append(stored(10))
    second = feed_page(comments, salt=SALT, limit=2, after=first.next_cursor)
    assert [t.id for t in second.threads] == ["c2", "c3"]
    assert second.next_cursor
    last = feed_page(comments, salt=SALT, limit=2, after=second.next_cursor)
    assert [t.id for t in last.threads] == ["c4", "c10"]
    assert last.next_cursor is None
    newest = feed_page(comments, salt=SALT, limit=4, newest_first=True)
    assert [t.id for t in newest.threads] == ["c10", "c4", "c3", "c2"]
    assert newest.next_cursor
    rest = feed_page(comments, salt=SALT, limit=4, newest_first=True, after=newest.next_cursor)
    assert shape(rest.threads) == ["c1", ["c0", ["c9"]]]
    assert rest.next_cursor is None
    assert feed_page([], salt=SALT, limit=5).to_dict() == {
        "comments": [], "total": 0, "threads": 0, "next": None
    }  # fmt: skip


def test_only_the_page_is_rendered() -> None:
    hostile = [stored(n, content=f"<b>{n}</b> " + "x" * 50_000) for n in range(200)]
    started = time.perf_counter()
    page = feed_page(hostile, salt=SALT, limit=1)
    assert time.perf_counter() - started < 1.0  # 200 texts of 50 kB would take seconds
    assert [t.id for t in page.threads] == ["c0"]


@pytest.mark.parametrize(
    "cursor",
    ["x", "!!!", "bm90IGEgY3Vyc29y", "MjAyNi0xMS0yNVQxMjowMDowMHxjMQ"],  # the last: no zone
)
def test_a_cursor_not_handed_out_is_refused(cursor: str) -> None:
    with pytest.raises(CursorError):
        feed_page([stored(1)], salt=SALT, limit=1, after=cursor)


# --- Forgetting ----------------------------------------------------------------------------


def test_address_key_compares_spellings_of_one_address() -> None:
    assert address_key(" Ann.Lee@Example.ORG ") == "ann.lee@example.org"
    assert address_key("José@Exämple.fr") == address_key("josé@xn--exmple-cua.fr")
    assert email_keys("José@Exämple.fr") == {"josé@exämple.fr", "josé@xn--exmple-cua.fr"}
    for bad in ("", "ann", "@example.org", "ann@"):
        with pytest.raises(AddressError):
            address_key(bad)


def test_erasing_an_address_leaves_other_addresses_and_text_alone() -> None:
    key = address_key("ann.lee@example.org")
    text = (
        "Ann is ann.lee at example dot org, ANN.LEE&#64;EXAMPLE.ORG and ann.lee＠example．org; "
        "Bob is bob@example.org; ann.lee@example.com is someone else."
    )
    erased = erase_address(text, key)
    assert erased.count == 3
    assert erased.text == (
        f"Ann is {DEFAULT_PLACEHOLDER}, {DEFAULT_PLACEHOLDER} and {DEFAULT_PLACEHOLDER}; "
        "Bob is bob@example.org; ann.lee@example.com is someone else."
    )
    assert erase_address("nothing here", key).text == "nothing here"
