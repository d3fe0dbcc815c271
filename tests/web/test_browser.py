"""The moderator pages in a real browser: Debian's chromium driven by Playwright, against a
`moderation serve` process set up as the README tells an operator to.

A moderator logs in, filters the queue, approves with the keyboard and undoes it, marks a
selection as spam, reads the history; comments whose every field is an XSS payload show as
text with no script run; the pages fit a phone's screen; the Content-Security-Policy is never
violated.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from moderation.app import open_store
from moderation.settings import Settings
from moderation.store_accounts import Accounts
from tests.browsers import launched, require_chromium
from tests.conftest import MODELS_DIR
from tests.publishing_cases import PUBLISHING_POLICY, XSS_NAME, XSS_TEXT, XSS_URL
from tests.servers import call, free_port, serving
from tests.web.helpers import PASSWORD

sync_api = require_chromium()

# Beyond the shared payloads: SVG onload, attribute breakouts with either quote, a closing
# textarea, and javascript: links, in every field a moderator sees.
XSS_MORE = (
    "<svg/onload=window.__xss=11;alert(11)>\n"
    '" autofocus onfocus="window.__xss=12;alert(12)" x="\n'
    "' autofocus onfocus='window.__xss=13;alert(13)' x='\n"
    "</textarea><script>window.__xss=14;alert(14)</script>\n"
    "<a href='javascript:window.__xss=15;alert(15)'>link</a>"
)
XSS_NAME_MORE = XSS_NAME + "' onmouseover='window.__xss=16;alert(16)"
XSS_POST = '"><img src=x onerror="window.__xss=17;alert(17)">'
XSS_AGENT = "</title><script>window.__xss=18;alert(18)</script>"
XSS_EMAIL = "x@example.net"


@dataclass
class Deployment:
    base: str
    key: str
    ids: dict[str, list[str]] = field(default_factory=dict)


def prepare(data_dir: Path) -> str:
    """The site, its policy and a moderator, in the server's database; the site's key.

    Done in-process (the CLI does the same through these calls, tested in its own tests):
    three more interpreter starts would cost more than the whole browser run.
    """
    store = open_store(Settings(data_dir=data_dir, create_first_site=False))
    try:
        _, key = store.create_site("blog", "https://blog.example")
        store.set_policy("blog", PUBLISHING_POLICY)
        Accounts(store).create_moderator("mo", password=PASSWORD, sites=["blog"])
    finally:
        store.engine.dispose()
    return key


def check(base: str, key: str, n: int, **fields: Any) -> str:
    body = {"post_id": "the-post", "author_name": f"Reader {n}",
            "author_email": f"reader{n}@example.net", "user_ip": f"192.0.2.{n}",
            **fields}  # fmt: skip
    status, answer = call(base + "/v1/comments/check", body, key)
    assert status == 201, answer
    comment_id: str = answer["id"]
    return comment_id


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`moderation serve` with a site, a moderator of it, and comments waiting for review."""
    tmp = tmp_path_factory.mktemp("pages")
    models = tmp / "models"
    shutil.copytree(MODELS_DIR, models)
    port = free_port()
    env = {**os.environ, "MODERATION_DATA_DIR": str(tmp / "data"),
           "MODERATION_MODELS_DIR": str(models), "MODERATION_PORT": str(port),
           "MODERATION_CREATE_FIRST_SITE": "false"}  # fmt: skip
    env.pop("MODERATION_DATABASE_URL", None)
    key = prepare(tmp / "data")
    with serving(env, tmp / "server.log") as running:
        base = running.base
        deployment = Deployment(base, key)
        deployment.ids["keyboard"] = [
            check(base, key, n, content=f"holdme KEYBOARD-MARKER number {n}") for n in (1, 2)
        ]
        deployment.ids["bulk"] = [
            check(base, key, n, content=f"holdme BULK-MARKER number {n}") for n in (3, 4, 5)
        ]
        deployment.ids["xss"] = [
            check(base, key, 6, author_name=XSS_NAME_MORE, author_email=XSS_EMAIL,
                  author_url=XSS_URL, user_agent=XSS_AGENT, post_id=XSS_POST,
                  content=f"holdme XSS-MARKER\n{XSS_TEXT}\n{XSS_MORE}"),
            check(base, key, 7, author_name='" onfocus="window.__xss=19" autofocus="',
                  author_email="y@example.net", author_url="javascript:alert(20)",
                  content="holdme XSS-MARKER <svg onload=alert(21)>", honeypot="bot"),
        ]  # fmt: skip
        for n in range(8, 12):
            check(base, key, n, content=f"holdme filler comment {n} " + "words " * 40)
        yield deployment


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched(sync_api) as chromium:
        yield chromium


@dataclass
class Session:
    page: Any
    base: str
    dialogs: list[str]
    errors: list[str]

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def assert_clean(self) -> None:
        """No dialog opened, no script error, no Content-Security-Policy violation."""
        assert self.dialogs == []
        assert self.errors == []
        assert self.page.evaluate("typeof window.__xss") == "undefined"


@pytest.fixture
def session(browser: Any, deployment: Deployment) -> Iterator[Any]:
    """Log in through the form in a fresh browser context; every dialog fails the test."""
    contexts = []

    def start(viewport: dict[str, int] | None = None) -> Session:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        seen = Session(page, deployment.base, [], [])

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_console(message: Any) -> None:
            if message.type == "error":
                seen.errors.append(message.text)

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.on("console", on_console)
        seen.go("/moderate/queue")
        assert page.url.startswith(deployment.base + "/moderate/login")
        page.fill("#name", "mo")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == deployment.base + "/moderate/queue"
        return seen

    yield start
    for context in contexts:
        context.close()


def row_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(".items .item", "els => els.map(e => e.dataset.id)")
    return ids


def test_filter_then_approve_and_undo_with_the_keyboard(
    session: Any, deployment: Deployment
) -> None:
    seen = session()
    page = seen.page
    first, second = deployment.ids["keyboard"]
    page.click("#filters summary")
    page.fill("input[name=q]", "KEYBOARD-MARKER")
    page.select_option("select[name=sort]", "oldest")
    with page.expect_navigation():
        page.click(".filter-form button[type=submit]")
    assert row_ids(page) == [first, second]
    # The first comment is the current one; j and k move, and the page shows which.
    assert page.get_attribute(".item.is-current", "data-id") == first
    page.keyboard.press("j")
    assert page.get_attribute(".item.is-current", "data-id") == second
    page.keyboard.press("k")
    assert page.get_attribute(".item.is-current", "data-id") == first
    # Typing in a field is typing, not a shortcut.
    page.locator("input[name=q]").press("End")  # the form stays open once filtered
    page.keyboard.press("a")
    assert page.input_value("input[name=q]") == "KEYBOARD-MARKERa"
    page.fill("input[name=q]", "KEYBOARD-MARKER")
    page.focus(".item.is-current")

    with page.expect_navigation():
        page.keyboard.press("a")
    assert page.inner_text(".flash-message") == "Approved 1 comment."
    assert row_ids(page) == [second]
    assert page.get_attribute(".item.is-current", "data-id") == second  # on to the next one

    with page.expect_navigation():
        page.keyboard.press("u")
    assert page.inner_text(".flash-message") == "Undid the last action on 1 comment."
    assert row_ids(page) == [first, second]

    page.keyboard.press("?")
    assert page.is_visible("#shortcuts .keys")
    page.keyboard.press("?")
    assert not page.is_visible("#shortcuts .keys")

    seen.go(f"/moderate/comments/{first}")
    history = page.inner_text("table.history")
    assert "approve\tmo\tpending → approved" in history
    assert "undo\tmo\tapproved → pending" in history
    # On the comment's own page the same keys act on it.
    with page.expect_navigation():
        page.keyboard.press("t")
    assert page.inner_text(".flash-message") == "Moved 1 comment to the trash."
    assert "trash\tmo\tpending → trash" in page.inner_text("table.history")
    seen.assert_clean()


def test_select_all_and_mark_the_selection_as_spam(session: Any, deployment: Deployment) -> None:
    seen = session()
    page = seen.page
    seen.go("/moderate/queue?q=BULK-MARKER")
    bulk = deployment.ids["bulk"]
    assert sorted(row_ids(page)) == sorted(bulk)
    page.check("#select-all")
    assert page.inner_text(".selected-count") == "3 selected"
    page.keyboard.press("x")  # unselect the current one, with the keyboard
    assert page.inner_text(".selected-count") == "2 selected"
    page.keyboard.press("x")
    assert page.inner_text(".selected-count") == "3 selected"
    with page.expect_navigation():
        page.click("#bulk button[value=spam]")
    assert page.inner_text(".flash-message") == "Marked 3 comments as spam."
    assert row_ids(page) != []  # the default statuses include spam: still listed, as spam
    seen.go("/moderate/queue?q=BULK-MARKER&status=pending")
    assert row_ids(page) == []
    seen.go("/moderate/queue?q=BULK-MARKER&status=spam")
    assert sorted(row_ids(page)) == sorted(bulk)
    assert page.locator(".items .badge.status-spam").count() == 3
    seen.go(f"/moderate/comments/{bulk[0]}")
    assert "spam\tmo\tpending → spam\tnone → spam" in page.inner_text("table.history")
    seen.assert_clean()


def test_hostile_comments_show_as_text_and_run_nothing(
    session: Any, deployment: Deployment
) -> None:
    seen = session()
    page = seen.page
    xss, other = deployment.ids["xss"]
    for path in ("/moderate/queue?q=XSS-MARKER", f"/moderate/comments/{xss}",
                 f"/moderate/comments/{other}", "/moderate"):  # fmt: skip
        seen.go(path)
        page.wait_for_load_state("load")
        for link in page.locator("main a").all():
            if link.is_visible():
                link.hover()
        for field_ in page.locator("main input:visible").all()[:5]:
            field_.focus()
        page.wait_for_timeout(150)
        found = page.evaluate(
            """() => {
                const bad = [];
                for (const el of document.querySelectorAll('main *')) {
                    const tag = el.tagName.toLowerCase();
                    if (['script', 'iframe', 'img', 'math', 'object', 'embed', 'textarea']
                        .includes(tag)) bad.push('<' + tag + '>');
                    if (tag === 'svg' && !el.classList.contains('chart')) bad.push('<svg>');
                    for (const attr of el.attributes) {
                        if (attr.name.startsWith('on') || attr.name === 'autofocus')
                            bad.push(tag + ' ' + attr.name);
                    }
                    if (tag === 'a') {
                        const url = new URL(el.href);
                        if (!['http:', 'https:'].includes(url.protocol)) bad.push(el.href);
                    }
                }
                return bad;
            }"""
        )
        assert found == [], path
        seen.assert_clean()

    seen.go(f"/moderate/comments/{xss}")
    assert page.inner_text(".author-name") == XSS_NAME_MORE
    assert page.inner_text(".author-url .unlinked") == XSS_URL
    assert page.inner_text(".post") == XSS_POST
    assert page.inner_text(".user-agent") == XSS_AGENT
    content = page.inner_text(".content")
    for payload in ("<script>window.__xss=4;alert(4)</script>", "<svg/onload=window.__xss=11",
                    '" autofocus onfocus="window.__xss=12', "' autofocus onfocus='window.__xss=13",
                    "</textarea><script>window.__xss=14"):  # fmt: skip
        assert payload in content
    assert content.count("\n") >= XSS_TEXT.count("\n")  # line breaks kept
    assert page.locator(".author-url a").count() == 0
    seen.assert_clean()


def test_the_pages_fit_a_phone_screen(session: Any, deployment: Deployment) -> None:
    seen = session({"width": 390, "height": 844})
    page = seen.page
    for path in ("/moderate/queue", f"/moderate/comments/{deployment.ids['xss'][0]}",
                 "/moderate", "/moderate/tokens"):  # fmt: skip
        seen.go(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    seen.go("/moderate/queue")
    # Buttons stay big enough to tap.
    box = page.locator(".items .item button[value=approve]").first.bounding_box()
    assert box is not None
    assert box["height"] >= 40
    seen.assert_clean()
