"""The public feed, its token and caching, and forgetting an author, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from moderation import publishing
from moderation.api.public import PUBLIC_MAX_AGE, FeedOut
from moderation.domain import Comment, CommentStatus, Label
from moderation.redaction import DEFAULT_PLACEHOLDER
from moderation.schema import comments, labelled_samples
from tests.conftest import Service
from tests.publishing_cases import (
    EMAILS_TEXT,
    PUBLISHING_POLICY,
    XSS_NAME,
    XSS_TEXT,
    XSS_URL,
    address_leaks,
    elements,
    unsafe_markup,
    visible_text,
)

FEED = "/v1/posts/{}/comments"
SECRET_IP = "203.0.113.77"
SECRET_UA = "Mozilla/5.0 (SecretBrowser 99.1)"
SECRET_REFERRER = "https://referrer.example/secret-page"


@pytest.fixture
def blog(service: Service) -> Service:
    """The service, with the test site's policy set so the rules alone choose the status."""
    service.store.set_policy("blog", PUBLISHING_POLICY)
    return service


def check(service: Service, key: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "post_id": "p1",
        "author_name": "Reader",
        "author_email": "reader@example.net",
        "content": "A thoughtful remark about the article, thanks for writing it.",
        **fields,
    }
    headers = {"Authorization": f"Bearer {key or service.key}"}
    response = service.client.post("/v1/comments/check", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def approved(service: Service, key: str | None = None, **fields: Any) -> str:
    data = check(service, key, **fields)
    assert data["verdict"] == "approve", data
    return str(data["id"])


def feed(service: Service, post: str = "p1", **params: Any) -> Response:
    url = FEED.format(quote(post, safe=""))
    response: Response = service.client.get(url, params=params, headers=service.auth)
    return response


def ids(body: dict[str, Any]) -> list[str]:
    """Every comment id in a feed page, replies included, in document order."""
    out: list[str] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            out.append(item["id"])
            walk(item["replies"])

    walk(body["comments"])
    return out


def set_status(service: Service, comment_id: str, status: CommentStatus) -> None:
    with service.store.engine.begin() as conn:
        conn.execute(comments.update().where(comments.c.id == comment_id).values(status=status))


# --- What is listed ------------------------------------------------------------------------


def test_only_approved_comments_are_listed_whatever_the_parameters(blog: Service) -> None:
    shown = approved(blog, author_email="a@example.net", content="I liked the second part.")
    held = check(blog, author_email="b@example.net", content="holdme: please look at this")
    spam = check(blog, author_email="c@example.net", honeypot="filled by a bot")
    rejected = check(blog, author_email="", content="No email given here at all.")
    trashed = approved(blog, author_email="d@example.net", content="Later moved to the trash.")
    pending_later = approved(blog, author_email="e@example.net", content="Unapproved later.")
    set_status(blog, trashed, CommentStatus.TRASH)
    set_status(blog, pending_later, CommentStatus.PENDING)
    assert [held["verdict"], spam["verdict"], rejected["verdict"]] == ["hold", "spam", "reject"]
    hidden = {held["id"], spam["id"], rejected["id"], trashed, pending_later}
    for params in (
        {},
        {"status": "spam"},
        {"status": "pending", "include": "all", "all": "1"},
        {"order": "newest", "limit": 200},
        {"verdict": "hold", "show_hidden": "true"},
    ):
        response = feed(blog, **params)
        assert response.status_code == 200, response.text
        assert ids(response.json()) == [shown]
        assert not hidden & set(response.text.split('"'))


def test_a_post_with_no_comments_is_an_empty_page(blog: Service) -> None:
    body = feed(blog, "no-such-post").json()
    assert body == {"comments": [], "total": 0, "threads": 0, "next": None}


def test_comments_are_threaded_by_parent_id_or_by_the_blogs_own_id(blog: Service) -> None:
    root = approved(blog, author_email="r@example.net", external_id="wp-10")
    by_our_id = approved(blog, author_email="s@example.net", parent_id=root, content="Yes!")
    by_blog_id = approved(
        blog, author_email="t@example.net", parent_id="wp-10", content="Agreed, me too."
    )
    nested = approved(blog, author_email="u@example.net", parent_id=by_our_id, content="Nested.")
    held_parent = check(
        blog, author_email="v@example.net", content="holdme first", external_id="wp-11"
    )
    orphan = approved(blog, author_email="w@example.net", parent_id="wp-11", content="An orphan.")
    body = feed(blog).json()
    assert [c["id"] for c in body["comments"]] == [root, orphan]
    top = body["comments"][0]
    assert [r["id"] for r in top["replies"]] == [by_our_id, by_blog_id]
    assert top["replies"][0]["parent_id"] == root
    assert [r["id"] for r in top["replies"][0]["replies"]] == [nested]
    assert body["comments"][1]["parent_id"] is None
    assert held_parent["id"] not in json.dumps(body)
    assert (body["total"], body["threads"]) == (5, 2)


def test_a_permalink_post_id_with_slashes_and_a_query_is_found(blog: Service) -> None:
    permalink = "https://blog.example/2026/11/the-vote/?p=42&lang=fr"
    shown = approved(blog, post_id="", permalink=permalink)
    assert ids(feed(blog, permalink).json()) == [shown]
    assert ids(feed(blog, "https://blog.example/2026/11/the-vote/").json()) == []
    long_permalink = "https://blog.example/" + "a-very-long-slug-" * 100
    long = approved(blog, post_id="", permalink=long_permalink, content="On the long one.")
    assert ids(feed(blog, long_permalink).json()) == [long]


def test_pages_follow_the_cursor_without_repeating_or_skipping(blog: Service) -> None:
    made = [
        approved(blog, author_email=f"p{i}@example.net", content=f"Point {i}.") for i in range(7)
    ]
    first = feed(blog, limit=3).json()
    assert ids(first) == made[:3]
    assert (first["total"], first["threads"]) == (7, 7)
    # A comment added meanwhile goes at the end: the next pages neither repeat nor skip one.
    late = approved(blog, author_email="late@example.net", content="A late point.")
    second = feed(blog, limit=3, after=first["next"]).json()
    assert ids(second) == made[3:6]
    third = feed(blog, limit=3, after=second["next"]).json()
    assert ids(third) == [made[6], late]
    assert third["next"] is None
    newest = feed(blog, limit=2, order="newest").json()
    assert ids(newest) == [late, made[6]]
    assert ids(feed(blog, limit=2, order="newest", after=newest["next"]).json()) == made[5:3:-1]


@pytest.mark.parametrize(
    "params", [{"after": "not-a-cursor"}, {"limit": 0}, {"limit": 201}, {"order": "random"}]
)
def test_bad_parameters_are_refused_with_422(blog: Service, params: dict[str, Any]) -> None:
    assert feed(blog, **params).status_code == 422


# --- What a comment shows ------------------------------------------------------------------


def test_no_raw_address_appears_in_any_public_response(blog: Service) -> None:
    author_email = "Ulla.Author@Example.org"
    shown = approved(
        blog,
        author_name="Mona <ulla.name@example.org>",
        author_email=author_email,
        author_url="https://ulla.example/?contact=ulla.url@example.org",
        content=EMAILS_TEXT,
        user_ip=SECRET_IP,
        user_agent=SECRET_UA,
        referrer=SECRET_REFERRER,
    )
    reply = approved(
        blog,
        author_name="Bea",
        author_email="bea@example.net",
        author_url="https://bea.example/",
        content="Mona, your address ulla.author@example.org is public now!",
        parent_id=shown,
    )
    token = blog.store.public_token("blog")
    responses = [
        feed(blog),
        feed(blog, order="newest", limit=1),
        blog.client.get(FEED.format("p1"), params={"token": token}),
    ]
    etag = responses[0].headers["etag"]
    responses.append(
        blog.client.get(FEED.format("p1"), headers={**blog.auth, "If-None-Match": etag})
    )
    for response in responses:
        assert response.status_code in (200, 304)
        raw = response.text
        for secret in (SECRET_IP, SECRET_UA, SECRET_REFERRER, "referrer.example", "ulla.example/?"):
            assert secret not in raw
        assert address_leaks(raw) == []
        if response.status_code == 200:
            for item in _walk(response.json()["comments"]):
                assert address_leaks(visible_text(item["html"])) == []
                assert address_leaks(item["author_name"]) == []
    body = responses[0].json()
    assert ids(body) == [shown, reply]
    mona = body["comments"][0]
    assert mona["author_name"] == f"Mona <{DEFAULT_PLACEHOLDER}>"
    assert mona["author_url"] is None  # an address in it: not linked
    assert visible_text(mona["html"]).count(DEFAULT_PLACEHOLDER) == 24
    assert (
        '<a href="https://agenda.example/2026/notes" rel="nofollow ugc noopener">' in mona["html"]
    )
    assert mona["replies"][0]["author_url"] == "https://bea.example/"


def _walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out.extend(_walk(item["replies"]))
    return out


def test_each_comment_carries_exactly_the_allow_listed_fields(blog: Service) -> None:
    approved(blog, user_ip=SECRET_IP, user_agent=SECRET_UA, referrer=SECRET_REFERRER,
             external_id="wp-77", language="en")  # fmt: skip
    body = feed(blog).json()
    FeedOut.model_validate(body)  # the documented schema describes the real answer
    assert set(body) == {"comments", "total", "threads", "next"}
    [item] = body["comments"]
    assert set(item) == {
        "id", "parent_id", "author_name", "author_html", "author_url", "avatar", "html",
        "created_at", "replies",
    }  # fmt: skip
    assert "wp-77" not in json.dumps(body)
    assert len(item["avatar"]) == 64
    assert item["created_at"].endswith("Z")


def test_hostile_markup_is_shown_as_text(blog: Service) -> None:
    approved(blog, author_name=XSS_NAME, author_url=XSS_URL, content=XSS_TEXT)
    [item] = feed(blog).json()["comments"]
    assert unsafe_markup(item["html"]) == []
    assert unsafe_markup(item["author_html"]) == []
    assert item["author_url"] is None
    # What was markup in the comment is text on the page, character for character.
    shown = visible_text(item["html"])
    assert "<script>window.__xss=4;alert(4)</script>" in shown
    assert '"><svg onload="window.__xss=5;alert(5)">' in shown
    assert "&lt;b&gt;escaped&lt;/b&gt;" in shown
    assert item["author_name"] == XSS_NAME
    assert visible_text(item["author_html"]) == XSS_NAME
    # The one real URL is linked, cut before the quote that would break out of href="…".
    [link] = [attrs for tag, attrs in elements(item["html"]) if tag == "a"]
    assert link["href"] == "https://ok.example/"


def test_the_avatar_is_the_same_for_one_author_and_differs_between_sites(blog: Service) -> None:
    approved(blog, author_email="same@example.net", content="First remark of mine.")
    approved(blog, author_email=" SAME@Example.NET ", content="Second remark of mine.")
    approved(blog, author_email="other@example.net", content="Someone else entirely.")
    avatars = [c["avatar"] for c in feed(blog).json()["comments"]]
    assert avatars[0] == avatars[1] != avatars[2]
    _, other_key = blog.store.create_site("other", "https://other.example")
    blog.store.set_policy("other", PUBLISHING_POLICY)
    approved(blog, other_key, author_email="same@example.net", content="On the other blog.")
    response = blog.client.get(FEED.format("p1"), headers={"Authorization": f"Bearer {other_key}"})
    assert response.json()["comments"][0]["avatar"] != avatars[0]


# --- Access --------------------------------------------------------------------------------


def test_the_feed_needs_the_site_key_or_the_public_token(blog: Service) -> None:
    approved(blog)
    token = blog.store.public_token("blog")
    assert token.startswith("pub_")
    assert blog.store.public_token("blog") == token  # shown again, not replaced
    client: TestClient = blog.client
    assert client.get(FEED.format("p1")).status_code == 401
    assert client.get(FEED.format("p1"), params={"token": "pub_wrong"}).status_code == 401
    # The site key never travels in a URL, and the token opens nothing but the feed.
    assert client.get(FEED.format("p1"), params={"token": blog.key}).status_code == 401
    bearer_token = {"Authorization": f"Bearer {token}"}
    assert client.get(FEED.format("p1"), headers=bearer_token).status_code == 401
    comment = {"post_id": "p1", "content": "x", "author_email": "x@example.net"}
    assert client.post("/v1/comments/check", json=comment, headers=bearer_token).status_code == 401
    assert client.post("/v1/authors/forget", json={"email": "a@b.example"},
                       params={"token": token}).status_code == 401  # fmt: skip
    # A site key that is sent must be valid, even with a good token beside it.
    bad = {"Authorization": "Bearer mod_wrong"}
    assert client.get(FEED.format("p1"), params={"token": token}, headers=bad).status_code == 401
    assert client.get(FEED.format("p1"), params={"token": token}).status_code == 200


def test_a_rotated_or_revoked_token_stops_working(blog: Service) -> None:
    old = blog.store.public_token("blog")
    new = blog.store.public_token("blog", rotate=True)
    assert new != old
    assert blog.client.get(FEED.format("p1"), params={"token": old}).status_code == 401
    assert blog.client.get(FEED.format("p1"), params={"token": new}).status_code == 200
    assert blog.store.revoke_public_token("blog") is True
    assert blog.store.revoke_public_token("blog") is False
    assert blog.client.get(FEED.format("p1"), params={"token": new}).status_code == 401
    assert feed(blog).status_code == 200  # the site key still reads


def test_each_site_reads_only_its_own_comments(blog: Service) -> None:
    mine = approved(blog, content="On the first blog.")
    _, other_key = blog.store.create_site("other", "https://other.example")
    blog.store.set_policy("other", PUBLISHING_POLICY)
    theirs = approved(blog, other_key, content="On the other blog, same post id.")
    other_token = blog.store.public_token("other")
    assert ids(feed(blog).json()) == [mine]
    other = blog.client.get(FEED.format("p1"), params={"token": other_token}).json()
    assert ids(other) == [theirs]
    response = blog.client.get(FEED.format("p1"), headers={"Authorization": f"Bearer {other_key}"})
    assert ids(response.json()) == [theirs]


def test_only_the_sites_own_origin_may_read_the_feed_from_a_browser(blog: Service) -> None:
    token = blog.store.public_token("blog")
    public = blog.client.get(FEED.format("p1"), params={"token": token},
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert public.headers["access-control-allow-origin"] == "https://blog.example"
    assert "access-control-allow-credentials" not in public.headers
    assert "access-control-allow-origin" not in feed(blog).headers  # key: server to server
    # No CORS anywhere else.
    preflight = blog.client.options(
        "/v1/comments/check",
        headers={"Origin": "https://blog.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    health = blog.client.get("/healthz", headers={"Origin": "https://blog.example"})
    assert "access-control-allow-origin" not in health.headers


# --- Caching -------------------------------------------------------------------------------


def test_etag_gives_a_bodiless_304_until_the_feed_changes(blog: Service) -> None:
    approved(blog, author_email="one@example.net", content="The first comment.")
    first = feed(blog)
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong: no W/
    assert first.headers["cache-control"] == "private, no-cache"
    token = blog.store.public_token("blog")
    public = blog.client.get(FEED.format("p1"), params={"token": token})
    assert public.headers["etag"] == etag  # one body, one tag, whoever reads it
    assert public.headers["cache-control"] == f"public, max-age={PUBLIC_MAX_AGE}"
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = blog.client.get(FEED.format("p1"), headers={**blog.auth, "If-None-Match": header})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
    stale = blog.client.get(FEED.format("p1"), headers={**blog.auth, "If-None-Match": '"other"'})
    assert stale.status_code == 200
    approved(blog, author_email="two@example.net", content="A second comment arrives.")
    changed = blog.client.get(FEED.format("p1"), headers={**blog.auth, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()["comments"]) == 2


def test_the_embed_script_is_served_with_its_own_etag(blog: Service) -> None:
    script = blog.client.get("/embed/comments.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "data-moderation-post" in script.text
    assert "innerHTML" in script.text  # only on an inert <template>, see the browser test
    again = blog.client.get("/embed/comments.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304


# --- Forgetting an author ------------------------------------------------------------------


def test_forgetting_an_author_erases_their_comments_and_their_address_elsewhere(
    blog: Service,
) -> None:
    own = approved(blog, author_email="Ulla@Example.org", user_ip=SECRET_IP, content="Mine.")
    own_held = check(blog, author_email="ulla@example.org", content="holdme, also mine")["id"]
    quoting = approved(
        blog,
        author_email="bea@example.net",
        content="Write to ulla at example dot org, or to bea@example.net.",
        referrer="https://referrer.example/?from=ulla@example.org",
    )
    untouched = approved(blog, author_email="cy@example.net", content="Nothing to do with her.")
    answer = approved(blog, author_email="dee@example.net", parent_id=own, content="Agreed!")
    _, other_key = blog.store.create_site("other", "https://other.example")
    elsewhere = check(blog, other_key, author_email="ulla@example.org", content="Other blog.")
    site = blog.store.get_site("blog")
    blog.store.record_label(
        site, Comment(content="A sample she sent", author_email="ULLA@example.org"),
        Label.SPAM, source="test", now=blog.store.get_comment(site.id, own)["created_at"],
    )  # fmt: skip
    blog.store.record_label(
        site, Comment(content="Someone quoting ulla@example.org", author_email="x@example.net"),
        Label.HAM, source="test", now=blog.store.get_comment(site.id, own)["created_at"],
    )  # fmt: skip

    dry = blog.client.post(
        "/v1/authors/forget", json={"email": "ULLA@example.org", "dry_run": True}, headers=blog.auth
    )
    expected = {"site": "blog", "comments_deleted": 2, "comments_redacted": 1,
                "samples_deleted": 1, "samples_redacted": 1}  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json() == {**expected, "dry_run": True}
    assert blog.store.get_comment(site.id, own)["author_email"] == "Ulla@Example.org"

    done = blog.client.post("/v1/authors/forget", json={"email": "ULLA@example.org"},
                            headers=blog.auth)  # fmt: skip
    assert done.json() == {**expected, "dry_run": False}
    with blog.store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(comments)).all()}
        samples = conn.execute(select(labelled_samples)).all()
    assert own not in rows
    assert own_held not in rows
    assert rows[quoting].content == f"Write to {DEFAULT_PLACEHOLDER}, or to bea@example.net."
    assert rows[quoting].referrer == f"https://referrer.example/?from={DEFAULT_PLACEHOLDER}"
    assert rows[untouched].content == "Nothing to do with her."
    assert rows[elsewhere["id"]].author_email == "ulla@example.org"  # another site: untouched
    assert [s.content for s in samples] == [f"Someone quoting {DEFAULT_PLACEHOLDER}"]
    assert SECRET_IP not in {r.user_ip for r in rows.values()}
    assert ids(feed(blog).json()) == [quoting, untouched, answer]  # the reply: now on top
    again = blog.client.post("/v1/authors/forget", json={"email": "ulla@example.org"},
                             headers=blog.auth).json()  # fmt: skip
    assert again["comments_deleted"] == again["comments_redacted"] == 0


def test_forgetting_needs_the_site_key_and_an_address(blog: Service) -> None:
    assert blog.client.post("/v1/authors/forget", json={"email": "a@b.example"}).status_code == 401
    for email in ("not an address", "", "@example.org", "ulla@"):
        response = blog.client.post("/v1/authors/forget", json={"email": email}, headers=blog.auth)
        assert response.status_code == 422, email
        assert response.json()["detail"][0]["field"] == "email"


def test_text_becomes_paragraphs_line_breaks_and_links(blog: Service) -> None:
    shown = approved(blog, content="Line one\nline two\n\nA new paragraph: www.example.org.")
    [item] = feed(blog).json()["comments"]
    assert item["id"] == shown
    assert item["html"] == (
        "<p>Line one<br>line two</p><p>A new paragraph: "
        f'<a href="http://www.example.org" rel="{publishing.LINK_REL}">www.example.org</a>.</p>'
    )
