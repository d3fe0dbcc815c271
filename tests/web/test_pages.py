"""The moderator pages through a test client, on SQLite and on PostgreSQL: logging in, the
session cookie, CSRF, who sees what, the security headers, and the plain-form (no script) flow."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from moderation.app import create_app
from moderation.domain import CommentStatus
from tests.conftest import Service, make_settings
from tests.publishing_cases import XSS_NAME, XSS_TEXT, XSS_URL
from tests.web.helpers import (
    HEADERS,
    PASSWORD,
    Page,
    accounts,
    add_moderator,
    csrf,
    hidden,
    hold_everything_worded,
    log_in,
    post_comment,
)


def status_of(service: Service, comment_id: str) -> str:
    site = service.store.get_site("blog")
    return str(service.store.get_comment(site.id, comment_id)["status"])


def set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    (found,) = [h for h in headers if h.startswith(f"{name}=")]
    return str(found)


# Logging in and out


def test_logging_in_sets_a_strict_session_cookie_and_logging_out_ends_the_session(
    service: Service,
) -> None:
    add_moderator(service)
    client = service.client
    answer = log_in(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/moderate"
    cookie = set_cookie(answer, "moderation_session")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/moderate" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert "Max-Age=43200" in cookie  # session_hours=12
    session_id = client.cookies["moderation_session"]

    dashboard = client.get("/moderate")
    assert dashboard.status_code == 200
    assert "Log out" in dashboard.text

    out = client.post("/moderate/logout", data={"csrf": csrf(client)}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"].startswith("/moderate/login")
    assert client.get("/moderate", follow_redirects=False).status_code == 303
    # The session is over on the server too: its cookie, replayed, opens nothing.
    replay = TestClient(client.app, cookies={"moderation_session": session_id})
    assert replay.get("/moderate", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_secure_over_https(service: Service) -> None:
    add_moderator(service)
    client = TestClient(service.client.app, base_url="https://moderation.example")
    answer = log_in(client)
    assert answer.status_code == 303
    assert "Secure" in set_cookie(answer, "moderation_session")
    assert client.get("/moderate").status_code == 200


def test_behind_a_tls_proxy_the_cookies_can_be_made_secure(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", secure_cookies=True)
    with TestClient(create_app(settings)) as client:
        service = Service(client, client.app.state.store, "", settings)  # type: ignore[attr-defined]
        add_moderator(service, sites=())
        login = client.get("/moderate/login")
        assert "Secure" in set_cookie(login, "moderation_login")
        # The test client's cookie jar holds Secure cookies back over http: pass them on.
        answer = client.post(
            "/moderate/login",
            data={"name": "mo", "password": PASSWORD, "csrf": hidden(login.text, "csrf")},
            headers={"Cookie": f"moderation_login={hidden(login.text, 'csrf')}"},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert "Secure" in set_cookie(answer, "moderation_session")


def test_a_wrong_name_or_password_gets_one_answer_and_no_session(service: Service) -> None:
    add_moderator(service)
    for name, password in [("mo", "not the password"), ("nobody", PASSWORD), ("mo", ""),
                           ("", PASSWORD), ("MO", PASSWORD)]:  # fmt: skip
        answer = log_in(service.client, name, password)
        assert answer.status_code == 401
        assert "The name or password is wrong." in Page(answer.text).text
        assert "moderation_session" not in service.client.cookies
        assert service.client.get("/moderate", follow_redirects=False).status_code == 303


def test_a_disabled_moderator_cannot_log_in_and_is_logged_out(service: Service) -> None:
    add_moderator(service)
    assert log_in(service.client).status_code == 303
    accounts(service).disable("mo")
    assert service.client.get("/moderate", follow_redirects=False).status_code == 303
    assert log_in(service.client).status_code == 401


def test_the_login_form_needs_its_own_token(service: Service) -> None:
    add_moderator(service)
    client = service.client
    client.get("/moderate/login")
    # A login posted from another site: it cannot read the form's token.
    forged = client.post(
        "/moderate/login",
        data={"name": "mo", "password": PASSWORD, "csrf": "guessed"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "moderation_session" not in client.cookies
    # Without the cookie half of the pair, the form's value alone is refused too.
    fresh = TestClient(client.app)
    token = hidden(fresh.get("/moderate/login").text, "csrf")
    fresh.cookies.clear()
    alone = fresh.post(
        "/moderate/login",
        data={"name": "mo", "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert alone.status_code == 403
    assert "moderation_session" not in fresh.cookies


def test_a_visitor_is_sent_to_log_in_and_then_back_to_the_page_asked_for(
    service: Service,
) -> None:
    add_moderator(service)
    client = service.client
    answer = client.get("/moderate/queue?status=spam", follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/moderate/login"
    (next_url,) = parse_qs(location.query)["next"]
    assert next_url == "/moderate/queue?status=spam"
    page = client.get(answer.headers["location"])
    assert hidden(page.text, "next") == next_url
    done = client.post(
        "/moderate/login",
        data={"name": "mo", "password": PASSWORD, "csrf": hidden(page.text, "csrf"),
              "next": next_url},
        follow_redirects=False,
    )  # fmt: skip
    assert done.headers["location"] == "/moderate/queue?status=spam"


OFF_SITE = [
    "https://evil.example/moderate",
    "//evil.example/moderate",
    "/\\evil.example",
    "/moderate/../v1/comments",
    "/v1/sites",
    "javascript:alert(1)",
    "/moderate\r\nSet-Cookie: x=1",
    "/moderatex",
]


def test_logging_in_never_redirects_off_the_pages(service: Service) -> None:
    add_moderator(service)
    client = service.client
    for target in OFF_SITE:
        page = client.get("/moderate/login", params={"next": target})
        assert hidden(page.text, "next") == "/moderate"
        done = client.post(
            "/moderate/login",
            data={"name": "mo", "password": PASSWORD, "csrf": hidden(page.text, "csrf"),
                  "next": target},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == "/moderate", target
        client.cookies.clear()


# CSRF and who sees what


def test_a_form_without_the_session_token_changes_nothing(service: Service) -> None:
    hold_everything_worded(service)
    add_moderator(service)
    add_moderator(service, "other")
    comment = post_comment(service)
    # Another moderator's session token is no better than none.
    other = TestClient(service.client.app)
    log_in(other, "other")
    foreign = csrf(other)
    client = service.client
    log_in(client)
    for data in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": foreign}):
        for path, form in (
            (f"/moderate/comments/{comment}/action", {"action": "approve"}),
            ("/moderate/queue/actions", {"action": "spam", "ids": comment}),
            (f"/moderate/comments/{comment}/undo", {}),
            ("/moderate/tokens", {"op": "create", "label": "x"}),
            ("/moderate/logout", {}),
        ):
            answer = client.post(path, data={**form, **data}, follow_redirects=False)
            assert answer.status_code == 403, (path, data)
            assert "nothing was changed" in Page(answer.text).text
    assert status_of(service, comment) == CommentStatus.PENDING
    assert accounts(service).tokens("mo") == []
    assert client.get("/moderate", follow_redirects=False).status_code == 200  # still logged in
    # A JSON body (no form at all) is refused the same way.
    answer = client.post(
        f"/moderate/comments/{comment}/action", json={"action": "approve"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert status_of(service, comment) == CommentStatus.PENDING


def test_a_moderator_sees_and_acts_on_their_own_sites_only(service: Service) -> None:
    hold_everything_worded(service)
    _, other_key = service.store.create_site("other", "https://other.example")
    hold_everything_worded(service, "other")
    mine = post_comment(service, content="holdme on my own blog")
    theirs = post_comment(service, key=other_key, content="holdme OTHER-SITE-MARKER")
    add_moderator(service)
    client = service.client
    log_in(client)
    token = csrf(client)

    queue = client.get("/moderate/queue")
    assert mine in queue.text
    assert theirs not in queue.text
    assert "OTHER-SITE-MARKER" not in queue.text
    assert client.get(f"/moderate/comments/{mine}").status_code == 200
    assert client.get(f"/moderate/comments/{theirs}").status_code == 404
    assert "other" not in [a.get("value") for a in Page(queue.text).find("option")]

    acted = client.post(
        f"/moderate/comments/{theirs}/action",
        data={"csrf": token, "action": "spam"},
        follow_redirects=False,
    )
    assert acted.status_code == 404
    undone = client.post(
        f"/moderate/comments/{theirs}/undo", data={"csrf": token}, follow_redirects=False
    )
    assert undone.status_code == 404
    bulk = client.post(
        "/moderate/queue/actions",
        data={"csrf": token, "action": "trash", "ids": [theirs, mine]},
    )
    assert "Moved 1 comment to the trash. 1 comment could not be changed" in Page(bulk.text).text
    other_site = service.store.get_site("other")
    assert service.store.get_comment(other_site.id, theirs)["status"] == CommentStatus.PENDING
    assert status_of(service, mine) == CommentStatus.TRASH
    dashboard = Page(client.get("/moderate").text).text
    assert "blog" in dashboard
    assert "other" not in dashboard


# Headers


def test_every_page_and_error_carries_the_security_headers(service: Service) -> None:
    hold_everything_worded(service)
    comment = post_comment(service)
    add_moderator(service)
    client = service.client
    answers = [client.get("/moderate/login"), client.get("/moderate", follow_redirects=False)]
    log_in(client)
    answers += [
        client.get(path)
        for path in (
            "/moderate",
            "/moderate/queue",
            "/moderate/queue?since=yesterday",
            f"/moderate/comments/{comment}",
            "/moderate/comments/no-such-comment",
            "/moderate/tokens",
            "/moderate/no-such-page",
        )
    ]
    answers.append(client.post(f"/moderate/comments/{comment}/action", data={"action": "spam"}))
    assert sorted({a.status_code for a in answers}) == [200, 303, 400, 403, 404]
    for answer in answers:
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name)
        assert answer.headers["cache-control"] == "no-store"
    # The API elsewhere gets its own, stricter policy (tests/api/test_security_headers.py).
    assert client.get("/healthz").headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )


def test_the_pages_need_no_inline_script_or_style() -> None:
    from importlib import resources

    folder = resources.files("moderation") / "web" / "templates"
    templates = [p for p in folder.iterdir() if p.name.endswith(".html")]
    assert len(templates) >= 7
    for template in templates:
        source = template.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)", source) is None, template.name
        assert re.search(r"\sstyle=", source) is None, template.name
        assert re.search(r"\son[a-z]+=", source) is None, template.name
        assert "|safe" not in source.replace(" ", ""), template.name
        assert "autoescape false" not in source, template.name


def test_the_static_files_are_served_with_their_types(service: Service) -> None:
    add_moderator(service)
    log_in(service.client)
    page = Page(service.client.get("/moderate").text)
    (script,) = page.find("script")
    (sheet,) = page.find("link", rel="stylesheet")
    assert script["defer"] is not None or "defer" in script
    js = service.client.get(str(script["src"]))
    css = service.client.get(str(sheet["href"]))
    assert js.headers["content-type"].startswith("text/javascript")
    assert css.headers["content-type"].startswith("text/css")
    assert "keydown" in js.text
    assert "white-space: pre-wrap" in css.text
    assert service.client.get("/moderate/static/comments.js").status_code == 404


# The flow with plain forms (no script)


def test_a_moderator_approves_from_the_queue_and_undoes_it_with_plain_forms(
    service: Service,
) -> None:
    hold_everything_worded(service)
    first = post_comment(service, content="holdme first of two")
    second = post_comment(service, content="holdme second of two")
    add_moderator(service)
    client = service.client
    log_in(client)
    url = "/moderate/queue?status=pending&sort=oldest"
    queue = client.get(url)
    page = Page(queue.text)
    rows = [a["data-id"] for a in page.find("li", class_="item", tabindex="-1")]
    assert rows == [first, second]
    # Each row has its own form; the first one's points the page back at the next row.
    form = next(
        a for a in page.find("form", class_="row-actions")
        if a["action"] == f"/moderate/comments/{first}/action"
    )  # fmt: skip
    assert form["method"] == "post"
    answer = client.post(
        f"/moderate/comments/{first}/action",
        data={"csrf": hidden(queue.text, "csrf"), "back": url, "focus": second,
              "action": "approve"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{url}#c-{second}"
    after = client.get(answer.headers["location"])
    text = Page(after.text).text
    assert "Approved 1 comment." in text
    assert first not in [a["data-id"] for a in Page(after.text).find("li", class_="item")]
    assert status_of(service, first) == CommentStatus.APPROVED
    # The message shows once.
    assert "Approved 1 comment." not in Page(client.get(url).text).text

    # Its Undo button puts the comment back, and the history says so.
    undo_form = re.search(r"<form[^>]*data-undo>.*?</form>", after.text, re.S)
    assert undo_form is not None
    assert hidden(undo_form.group(0), "ids") == first
    undone = client.post(
        "/moderate/queue/undo",
        data={"csrf": hidden(after.text, "csrf"), "back": url, "ids": first},
    )
    assert "Undid the last action on 1 comment." in Page(undone.text).text
    assert status_of(service, first) == CommentStatus.PENDING
    history = Page(client.get(f"/moderate/comments/{first}").text).text
    assert re.search(r"approve mo pending → approved none → ham", history)
    assert re.search(r"undo mo approved → pending ham → none", history)


def test_bulk_actions_mark_the_selection_as_spam(service: Service) -> None:
    hold_everything_worded(service)
    ids = [post_comment(service, content=f"holdme bulk {n}") for n in range(3)]
    add_moderator(service)
    client = service.client
    log_in(client)
    queue = client.get("/moderate/queue")
    boxes = [a["value"] for a in Page(queue.text).find("input", name="ids", form="bulk")]
    assert sorted(str(b) for b in boxes) == sorted(ids)
    answer = client.post(
        "/moderate/queue/actions",
        data={"csrf": hidden(queue.text, "csrf"), "back": "/moderate/queue", "action": "spam",
              "ids": ids[:2]},
    )  # fmt: skip
    assert answer.status_code == 200
    assert "Marked 2 comments as spam." in Page(answer.text).text
    assert [status_of(service, i) for i in ids] == ["spam", "spam", "pending"]
    nothing = client.post(
        "/moderate/queue/actions",
        data={"csrf": hidden(queue.text, "csrf"), "action": "spam"},
    )
    assert "Select at least one comment first." in Page(nothing.text).text
    unknown = client.post(
        "/moderate/queue/actions",
        data={"csrf": hidden(queue.text, "csrf"), "action": "undo", "ids": ids[2]},
    )
    assert unknown.status_code == 400
    assert status_of(service, ids[2]) == CommentStatus.PENDING


def test_delete_forever_from_the_comment_page_goes_back_to_the_queue(service: Service) -> None:
    hold_everything_worded(service)
    comment = post_comment(service)
    add_moderator(service)
    client = service.client
    log_in(client)
    here = f"/moderate/comments/{comment}"
    page = client.get(here)
    answer = client.post(
        f"{here}/action",
        data={"csrf": hidden(page.text, "csrf"), "back": here, "action": "delete"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/moderate/queue"
    shown = Page(client.get("/moderate/queue").text)
    assert "Deleted 1 comment forever." in shown.text
    assert shown.find("form", action="/moderate/queue/undo") == []  # no undo for that
    assert client.get(here).status_code == 404


# What the pages show


def test_the_comment_page_shows_everything_to_judge_and_runs_nothing(service: Service) -> None:
    hold_everything_worded(service)
    earlier = post_comment(
        service, author_email="mallory@example.net", user_ip="203.0.113.9",
        content="holdme An earlier, ordinary remark.",
    )  # fmt: skip
    comment = post_comment(
        service, author_name=XSS_NAME, author_email="mallory@example.net",
        author_url=XSS_URL, user_ip="203.0.113.9", user_agent="Agent/1.0",
        content="holdme\n" + XSS_TEXT, post_id="the-vote",
        permalink="https://blog.example/the-vote",
    )  # fmt: skip
    add_moderator(service)
    client = service.client
    log_in(client)
    html = client.get(f"/moderate/comments/{comment}").text
    page = Page(html)
    text = page.text
    # The payloads are there as text: escaped in the markup, never markup themselves.
    assert "<script>window.__xss=4;alert(4)</script>" in " ".join(page.text_parts)
    assert XSS_NAME in " ".join(page.text_parts)
    assert "<script>window" not in html
    assert "<svg onload" not in html
    assert "<img src=x" not in html
    assert [t for t, _ in page.tags if t in ("iframe", "img", "math", "textarea")] == []
    assert [t for t, a in page.tags if t == "svg"] == []
    assert all(not k.startswith("on") for _, attrs in page.tags for k in attrs)
    scripts = page.find("script")
    assert [s["src"] for s in scripts] == [s["src"] for s in scripts if s["src"]]
    # A javascript: URL is shown, not linked; an http(s) permalink is linked, with rel.
    assert XSS_URL in text
    links = [a["href"] for a in page.find("a") if a.get("href")]
    assert all(str(h).startswith(("/", "#", "https://", "http://")) for h in links), links
    (permalink,) = page.find("a", href="https://blog.example/the-vote")
    assert permalink["rel"] == "noopener noreferrer nofollow ugc"
    # Everything a moderator needs.
    for shown in ("mallory@example.net", "203.0.113.9", "Agent/1.0", "the-vote", "hold",
                  "moderation_word", "An earlier, ordinary remark."):  # fmt: skip
        assert shown in text, shown
    assert re.search(r"Spam probability \d+%", text)
    assert page.find("a", href=f"/moderate/comments/{earlier}")
    assert "No moderator has acted on this comment yet." in text
    # Line breaks kept: the content block holds the text as written.
    content = re.search(r'<div class="content">(.*?)</div>', html, re.S)
    assert content is not None
    assert content.group(1).startswith("holdme\n&lt;script&gt;")


def test_the_author_url_is_linked_only_when_it_is_a_web_address(service: Service) -> None:
    hold_everything_worded(service)
    good = post_comment(service, author_url="https://mallory.example/about")
    bad = post_comment(service, author_url="data:text/html,<script>alert(1)</script>")
    add_moderator(service)
    client = service.client
    log_in(client)
    page = Page(client.get(f"/moderate/comments/{good}").text)
    (link,) = page.find("a", href="https://mallory.example/about")
    assert link["rel"] == "noopener noreferrer nofollow ugc"
    page = Page(client.get(f"/moderate/comments/{bad}").text)
    assert "data:text/html,<script>alert(1)</script>" in page.text
    assert not [a for a in page.find("a") if str(a.get("href", "")).startswith("data:")]


def test_the_queue_filters_and_counts(service: Service) -> None:
    hold_everything_worded(service)
    held = post_comment(service, content="holdme about gardening", author_email="g@example.net")
    other = post_comment(service, content="holdme about cooking")
    spam = post_comment(service, content="SPAMMY buy now", honeypot="bot")
    add_moderator(service)
    client = service.client
    log_in(client)

    def listed(query: str) -> list[str]:
        answer = client.get(f"/moderate/queue?{query}")
        assert answer.status_code == 200, answer.text
        return [str(a["data-id"]) for a in Page(answer.text).find("li", class_="item")]

    assert sorted(listed("")) == sorted([held, other, spam])
    assert listed("status=spam") == [spam]
    assert listed("q=gardening") == [held]
    assert listed("email=g@example.net") == [held]
    assert listed("reason=honeypot") == [spam]
    assert listed("status=approved") == []
    assert listed("site=blog&status=pending&sort=newest") == [other, held]
    page = client.get("/moderate/queue").text
    assert re.search(r"pending\s*</span>\s*<span class=\"n\">2</span>", page)
    assert re.search(r"spam\s*</span>\s*<span class=\"n\">1</span>", page)
    # The filter form keeps what was asked for.
    form = Page(client.get("/moderate/queue?q=gardening&status=spam").text)
    assert form.find("input", name="q", value="gardening")
    checked = [a["value"] for a in form.find("input", name="status") if "checked" in a]
    assert checked == ["spam"]


def test_a_bad_filter_is_explained_not_a_failure(service: Service) -> None:
    add_moderator(service)
    log_in(service.client)
    for query in ("since=yesterday", "status=lost", "reason=nope", "sort=random",
                  "cursor=garbage", "since=2026-02-02&until=2026-01-01",
                  "since=2026-13-01"):  # fmt: skip
        answer = service.client.get(f"/moderate/queue?{query}")
        assert answer.status_code == 400, query
        assert Page(answer.text).find("ul", class_="notice notice-error", role="alert"), query


def test_the_queue_pages_on_with_a_cursor(service: Service) -> None:
    hold_everything_worded(service)
    ids = [post_comment(service, content=f"holdme page {n}") for n in range(53)]
    add_moderator(service)
    client = service.client
    log_in(client)
    first = Page(client.get("/moderate/queue?sort=oldest").text)
    shown = [a["data-id"] for a in first.find("li", class_="item")]
    (more,) = first.find("a", rel="next")
    second = Page(client.get(str(more["href"])).text)
    shown += [a["data-id"] for a in second.find("li", class_="item")]
    assert shown == ids
    assert second.find("a", rel="next") == []


def test_the_dashboard_shows_the_waiting_work_the_chart_and_the_model(service: Service) -> None:
    hold_everything_worded(service)
    post_comment(service)
    post_comment(service)
    spam = post_comment(service, content="buy now", honeypot="bot")
    add_moderator(service)
    client = service.client
    log_in(client)
    html = client.get("/moderate").text
    page = Page(html)
    assert re.search(r"blog\s*</a></td>\s*<td class=\"num pending-count\">2</td>", html)
    assert "v1" in page.text
    assert re.search(r"Precision 0\.\d{3}", page.text)
    assert page.find("svg", class_="chart")
    assert len(page.find("rect")) == 60  # two series, thirty days
    assert re.search(r"1 spam caught", page.text)
    # Approving the spam is a false positive, today.
    client.post(
        f"/moderate/comments/{spam}/action", data={"csrf": csrf(client), "action": "approve"}
    )
    assert re.search(r"1 false positives", Page(client.get("/moderate").text).text)


def test_a_moderator_makes_and_revokes_their_own_api_tokens(service: Service) -> None:
    add_moderator(service)
    add_moderator(service, "other")
    theirs = accounts(service).create_token("other", label="theirs")
    client = service.client
    log_in(client)
    made = client.post(
        "/moderate/tokens", data={"csrf": csrf(client), "op": "create", "label": "my script"}
    )
    assert made.status_code == 200
    token = re.search(r'value="(mt_[^"]+)"', made.text)
    assert token is not None
    me = accounts(service).moderator_for_token(token.group(1))
    assert me is not None
    assert me.name == "mo"
    listing = client.get("/moderate/tokens").text
    assert token.group(1) not in listing  # shown once only
    assert "my script" in listing
    (info,) = accounts(service).tokens("mo")
    # Another moderator's token cannot be revoked from here.
    (their_info,) = accounts(service).tokens("other")
    client.post(
        "/moderate/tokens", data={"csrf": csrf(client), "op": "revoke", "token": their_info.id}
    )
    assert accounts(service).moderator_for_token(theirs) is not None
    revoked = client.post(
        "/moderate/tokens", data={"csrf": csrf(client), "op": "revoke", "token": info.id}
    )
    assert "Revoked the token" in Page(revoked.text).text
    assert accounts(service).moderator_for_token(token.group(1)) is None
