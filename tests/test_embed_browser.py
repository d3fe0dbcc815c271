"""The embed script in a real browser: a static blog page on its own origin, a real server.

Debian's chromium, driven by Playwright. The blog page is served by a tiny HTTP server on
loopback (another origin than the service, as a real blog is), the comments are posted through
the API of a `moderation serve` process, and everything is checked in the page itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from moderation.redaction import DEFAULT_PLACEHOLDER
from tests.browsers import launched, require_chromium
from tests.conftest import MODELS_DIR, ROOT
from tests.publishing_cases import (
    EMAIL_FORMS,
    EMAILS_TEXT,
    PUBLISHING_POLICY,
    XSS_NAME,
    XSS_TEXT,
    XSS_URL,
    address_leaks,
)
from tests.servers import call, free_port, serving

HELD_MARKER = "HELD-COMMENT-MARKER"
PAGED_POST = "https://blog.example/2026/11/paged/?p=7"
SPAM_MARKER = "SPAM-COMMENT-MARKER"

sync_api = require_chromium()


def page_html(api: str, token: str) -> str:
    """A static blog post that embeds the comments, as the README tells a blogger to.

    Two posts' comments: the one under test, and one shown a thread at a time.
    """
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The vote</title></head>
<body>
  <article><h1>The vote was on Tuesday</h1><p>A static page, no code of its own.</p></article>
  <div id="comments" data-moderation-post="the-vote"></div>
  <div id="paged" data-moderation-post="{PAGED_POST}" data-page-size="1"></div>
  <script src="{api}/embed/comments.js" data-token="{token}" async></script>
</body></html>"""


# A Content-Security-Policy without 'unsafe-inline' anywhere: the script must not need it.
def csp(api: str) -> str:
    return (
        f"default-src 'none'; script-src {api}; connect-src {api}; style-src 'self'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )


class _Blog(BaseHTTPRequestHandler):
    page = b""
    csp = ""

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path.startswith("/strict"):
            self.send_header("Content-Security-Policy", self.csp)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Deployment:
    api: str
    key: str
    blog_port: int
    ids: dict[str, str]


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "moderation.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def check(api: str, key: str, **fields: Any) -> dict[str, Any]:
    body = {"post_id": "the-vote", "author_name": "Reader", "author_email": "r@example.net",
            "content": "A fair summary of the meeting.", **fields}  # fmt: skip
    status, answer = call(api + "/v1/comments/check", body, key)
    assert status == 201, answer
    result: dict[str, Any] = answer
    return result


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`moderation serve`, a site for the blog's origin, its comments, and the blog's page."""
    tmp = tmp_path_factory.mktemp("embed")
    models = tmp / "models"
    shutil.copytree(MODELS_DIR, models)
    port, blog_port = free_port(), free_port()
    env = {**os.environ, "MODERATION_DATA_DIR": str(tmp / "data"),
           "MODERATION_MODELS_DIR": str(models), "MODERATION_PORT": str(port),
           "MODERATION_CREATE_FIRST_SITE": "false"}  # fmt: skip
    env.pop("MODERATION_DATABASE_URL", None)
    # The operator's steps, as the README gives them.
    key = cli(env, "sites", "add", "blog", "--url", f"http://127.0.0.1:{blog_port}")
    policy = PUBLISHING_POLICY.to_dict()
    cli(env, "sites", "policy", "blog",
        *(f"--set={name}={policy[name]}" for name in
          ("ham_threshold", "spam_threshold", "discard_threshold", "max_links")),
        "--set=moderation_words=holdme")  # fmt: skip
    token = cli(env, "sites", "public-token", "blog")
    api = f"http://127.0.0.1:{port}"
    _Blog.page = page_html(api, token).encode()
    _Blog.csp = csp(api)
    blog = ThreadingHTTPServer(("127.0.0.1", blog_port), _Blog)
    blog_thread = threading.Thread(target=blog.serve_forever, daemon=True)
    blog_thread.start()
    try:
        with serving(env, tmp / "server.log"):
            emails = check(api, key, author_name="Mona", author_email="ulla.author@example.org",
                           content=EMAILS_TEXT, user_ip="203.0.113.77")  # fmt: skip
            reply = check(api, key, author_name="Bea", author_email="bea@example.net",
                          content="Mona, thank you!", parent_id=emails["id"])  # fmt: skip
            xss = check(api, key, author_name=XSS_NAME, author_email="mallory@example.net",
                        author_url=XSS_URL, content=XSS_TEXT)  # fmt: skip
            held = check(api, key, author_email="h@example.net",
                         content=f"holdme {HELD_MARKER} and ulla.held@example.org")  # fmt: skip
            spam = check(api, key, author_email="s@example.net", honeypot="bot",
                         content=f"{SPAM_MARKER} buy now")  # fmt: skip
            for n in (1, 2, 3):
                check(api, key, post_id="", permalink=PAGED_POST, author_email=f"p{n}@example.net",
                      content=f"Paged thread number {n}.")  # fmt: skip
            verdicts = [c["verdict"] for c in (emails, reply, xss, held, spam)]
            assert verdicts == ["approve", "approve", "approve", "hold", "spam"]
            yield Deployment(api, key, blog_port, {"emails": emails["id"], "reply": reply["id"],
                                                   "xss": xss["id"]})  # fmt: skip
    finally:
        blog.shutdown()
        blog.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched(sync_api) as chromium:
        yield chromium


@dataclass
class Visit:
    page: Any
    dialogs: list[str]
    errors: list[str]


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    """Open a URL in a fresh browser context; every dialog a script opens is recorded."""
    contexts = []

    def open_page(url: str, wait_for: str) -> Visit:
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        seen = Visit(page, [], [])

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.goto(url)
        page.wait_for_selector(wait_for, timeout=15_000)
        page.wait_for_timeout(300)  # let any injected handler or timer have its chance
        return seen

    yield open_page
    for context in contexts:
        context.close()


def test_a_static_page_shows_the_approved_comments_and_no_address(
    deployment: Deployment, visit: Any
) -> None:
    seen = visit(f"http://127.0.0.1:{deployment.blog_port}/post.html", "#comments article")
    page = seen.page
    page.wait_for_function("document.querySelectorAll('#comments article').length === 3")
    text = page.inner_text("#comments")
    dom = page.content()
    assert page.inner_text("#comments .moderation-count") == "3 comments"
    # The approved comments, threaded; the held and the spam one nowhere.
    assert "Mona" in text
    assert "Bea" in text
    assert HELD_MARKER not in dom
    assert SPAM_MARKER not in dom
    reply = page.locator(f"#comment-{deployment.ids['emails']} .moderation-replies article")
    assert reply.get_attribute("id") == f"comment-{deployment.ids['reply']}"
    # Not one address, in the text a reader sees nor anywhere in the document.
    assert text.count(DEFAULT_PLACEHOLDER) == len(EMAIL_FORMS) + 1
    assert address_leaks(text) == []
    assert address_leaks(dom) == []
    assert page.locator("a[href='https://agenda.example/2026/notes']").count() == 1
    assert seen.errors == []


def test_no_script_from_a_comment_runs(deployment: Deployment, visit: Any) -> None:
    seen = visit(f"http://127.0.0.1:{deployment.blog_port}/post.html", "#comments article")
    page = seen.page
    page.wait_for_function("document.querySelectorAll('#comments article').length === 3")
    comments = page.locator("#comments")
    # Move the pointer over every link in the comments: still nothing may run.
    for link in comments.locator("a").all():
        link.hover()
    assert seen.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    found = page.evaluate(
        """() => {
            const root = document.getElementById('comments');
            const bad = [];
            for (const el of root.querySelectorAll('*')) {
                const tag = el.tagName.toLowerCase();
                if (['script', 'iframe', 'img', 'svg', 'math', 'object', 'embed', 'style',
                     'form', 'input', 'textarea'].includes(tag)) bad.push('<' + tag + '>');
                for (const attr of el.attributes) {
                    if (attr.name.startsWith('on')) bad.push(tag + ' ' + attr.name);
                }
                if (tag === 'a') {
                    const url = new URL(el.href);
                    if (!['http:', 'https:'].includes(url.protocol)) bad.push('href ' + el.href);
                    if (el.rel !== 'nofollow ugc noopener') bad.push('rel ' + el.rel);
                }
            }
            return bad;
        }"""
    )
    assert found == []
    # The payloads are there, as text.
    xss = page.locator(f"#comment-{deployment.ids['xss']}")
    assert xss.locator(".moderation-author").inner_text() == XSS_NAME
    assert xss.locator(".moderation-author").evaluate("el => el.tagName") == "SPAN"
    body = xss.locator(".moderation-body").inner_text()
    assert "<script>window.__xss=4;alert(4)</script>" in body
    assert '"><svg onload="window.__xss=5;alert(5)">' in body
    assert seen.errors == []
    for link in comments.locator(".moderation-body a").all():
        assert link.get_attribute("href", timeout=1000).startswith(("http://", "https://"))


def test_a_page_of_another_origin_cannot_read_the_feed(deployment: Deployment, visit: Any) -> None:
    # "localhost" is another origin than the site's "127.0.0.1": the browser withholds the
    # answer, and the script says the comments could not be loaded.
    seen = visit(
        f"http://localhost:{deployment.blog_port}/post.html", "#comments .moderation-error"
    )
    page = seen.page
    page.wait_for_selector("#paged .moderation-error")
    assert page.locator(".moderation-comment").count() == 0
    assert page.inner_text("#comments .moderation-error") == "The comments could not be loaded."
    assert seen.dialogs == []
    assert re.search(r"ulla|mona", page.content(), re.IGNORECASE) is None


def test_more_threads_load_a_page_at_a_time(deployment: Deployment, visit: Any) -> None:
    seen = visit(f"http://127.0.0.1:{deployment.blog_port}/post.html", "#paged article")
    page = seen.page
    paged = page.locator("#paged")
    assert paged.locator(".moderation-count").inner_text() == "3 comments"
    for shown in (1, 2, 3):
        page.wait_for_function(f"document.querySelectorAll('#paged article').length === {shown}")
        bodies = paged.locator(".moderation-body").all_inner_texts()
        assert bodies == [f"Paged thread number {n}." for n in range(1, shown + 1)]
        if shown < 3:
            paged.locator("button.moderation-more").click()
    page.wait_for_timeout(200)
    assert paged.locator("button.moderation-more").count() == 0
    assert seen.errors == []


def test_the_script_works_under_a_strict_content_security_policy(
    deployment: Deployment, visit: Any
) -> None:
    url = f"http://127.0.0.1:{deployment.blog_port}/strict.html"
    seen = visit(url, "#comments article")
    page = seen.page
    page.wait_for_function("document.querySelectorAll('#comments article').length === 3")
    violations = page.evaluate(
        """() => new Promise(resolve => {
            const found = [];
            document.addEventListener('securitypolicyviolation',
                e => found.push(e.violatedDirective + ' ' + e.blockedURI));
            // Reload the comments of a container to replay everything the script does.
            const again = document.createElement('div');
            again.setAttribute('data-moderation-post', 'the-vote');
            document.body.appendChild(again);
            const script = document.createElement('script');
            script.src = document.querySelector('script[data-token]').src;
            script.setAttribute('data-token',
                document.querySelector('script[data-token]').getAttribute('data-token'));
            document.body.appendChild(script);
            again.addEventListener('moderation:loaded',
                () => setTimeout(() => resolve(found), 200));
            again.addEventListener('moderation:error', () => resolve(['load error']));
        })"""
    )
    assert violations == []
    avatar = page.locator("#comments .moderation-avatar").first
    assert avatar.evaluate("el => getComputedStyle(el).borderRadius") == "50%"
    assert seen.dialogs == []
    assert seen.errors == []
