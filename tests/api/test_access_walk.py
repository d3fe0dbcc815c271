"""Every route and page, called as every kind of wrong caller: refused, and nothing of another
site ever shows, on SQLite and PostgreSQL.

The routes come from the app itself (its OpenAPI schema, and its routes for the pages under
/moderate), so a new route fails this test until it is classified here: public (with the reason)
or walked with the credentials it takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response

from moderation.app import create_app
from moderation.domain import CommentStatus
from moderation.store import NotFoundError, Store
from moderation.store_accounts import Accounts
from tests.conftest import make_settings
from tests.publishing_cases import PUBLISHING_POLICY
from tests.web.helpers import PASSWORD, hidden


class Access(Enum):
    """What a route takes as credentials."""

    SITE = "site key"
    FEED = "site key or the site's public token"
    SITE_OR_MODERATOR = "site key or moderator token"
    MODERATOR = "moderator token"
    ADMIN = "admin's moderator token"
    PAGE = "moderator's web session"


# Every operation of the schema and every page: how it authenticates. Public ones say why.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe for load balancers: database up, model version",
    ("GET", "/embed/comments.js"): "the static script blogs include in their public pages",
    ("GET", "/openapi.json"): "the API's schema, no data",
    ("GET", "/docs"): "Swagger UI over the schema, no data",
    ("GET", "/docs/oauth2-redirect"): "Swagger UI's helper page, no data",
    ("GET", "/metrics"): "Prometheus scrape: unauthenticated unless MODERATION_METRICS_TOKEN is "
    "set (counts per route and site name, never a comment)",
    ("POST", "/1.1/verify-key"): "Akismet protocol: its key travels in the form body",
    ("POST", "/1.1/comment-check"): "Akismet protocol: its key travels in the form body",
    ("POST", "/1.1/submit-spam"): "Akismet protocol: its key travels in the form body",
    ("POST", "/1.1/submit-ham"): "Akismet protocol: its key travels in the form body",
    ("GET", "/1.2/usage-limit"): "Akismet protocol: its key travels as api_key",
    ("POST", "/1.2/usage-limit"): "Akismet protocol: its key travels as api_key",
    ("GET", "/1.2/key-sites"): "Akismet protocol: its key travels as api_key",
    ("POST", "/1.2/key-sites"): "Akismet protocol: its key travels as api_key",
    ("GET", "/moderate/login"): "the login form itself",
    ("POST", "/moderate/login"): "logging in is how a session starts",
    ("GET", "/moderate/static/{name}"): "the pages' CSS and script",
}
PROTECTED: dict[tuple[str, str], Access] = {
    ("POST", "/v1/comments/check"): Access.SITE,
    ("POST", "/v1/comments/score"): Access.SITE,
    ("POST", "/v1/authors/forget"): Access.SITE,
    ("GET", "/v1/posts/{post_id}/comments"): Access.FEED,
    ("GET", "/v1/comments/{comment_id}"): Access.SITE_OR_MODERATOR,
    ("GET", "/v1/queue"): Access.MODERATOR,
    ("GET", "/v1/queue/counts"): Access.MODERATOR,
    ("GET", "/v1/queue/dashboard"): Access.MODERATOR,
    ("POST", "/v1/queue/actions"): Access.MODERATOR,
    ("POST", "/v1/comments/{comment_id}/actions"): Access.MODERATOR,
    ("POST", "/v1/comments/{comment_id}/undo"): Access.MODERATOR,
    ("GET", "/v1/comments/{comment_id}/history"): Access.MODERATOR,
    ("POST", "/v1/admin/model/reload"): Access.ADMIN,
    ("GET", "/v1/admin/webhooks/deliveries"): Access.ADMIN,
    ("POST", "/v1/admin/webhooks/deliveries/{delivery_id}/retry"): Access.ADMIN,
    ("GET", "/v1/admin/sites/{name}/webhook"): Access.ADMIN,
    ("PUT", "/v1/admin/sites/{name}/webhook"): Access.ADMIN,
    ("DELETE", "/v1/admin/sites/{name}/webhook"): Access.ADMIN,
    ("POST", "/moderate/logout"): Access.PAGE,
    ("GET", "/moderate"): Access.PAGE,
    ("GET", "/moderate/queue"): Access.PAGE,
    ("POST", "/moderate/queue/actions"): Access.PAGE,
    ("POST", "/moderate/queue/undo"): Access.PAGE,
    ("GET", "/moderate/comments/{comment_id}"): Access.PAGE,
    ("POST", "/moderate/comments/{comment_id}/action"): Access.PAGE,
    ("POST", "/moderate/comments/{comment_id}/undo"): Access.PAGE,
    ("GET", "/moderate/tokens"): Access.PAGE,
    ("POST", "/moderate/tokens"): Access.PAGE,
}
# The security scheme each kind of API route declares in the schema (pages are not in it).
SCHEMES = {
    Access.SITE: "HTTPBearer",
    Access.FEED: "HTTPBearer",
    Access.SITE_OR_MODERATOR: "SiteKeyOrModeratorToken",
    Access.MODERATOR: "ModeratorToken",
    Access.ADMIN: "ModeratorToken",
}
ALL_STATUSES = [s.value for s in CommentStatus]
POST_ID = "shared-post"  # both sites have comments on a post of this id


@dataclass(frozen=True)
class SiteSeed:
    """One site: its key, its comments, and the strings no other site's caller may ever see."""

    name: str
    key: str
    public_token: str
    held_id: str
    approved_id: str
    markers: tuple[str, ...]
    approved_text: str
    forget_email: str


def _comment(marker: str, ip: str, kind: str) -> dict[str, str]:
    # The publishing policy holds "holdme" and approves the rest.
    return {
        "post_id": POST_ID,
        "author_name": f"{marker} {kind} writer",
        "author_email": f"{marker}.{kind}@{marker}-mail.example",
        "user_ip": ip,
        "user_agent": f"{marker}-agent/1.0",
        "content": ("holdme " if kind == "held" else "")
        + f"{marker}-{kind}-content: a fair remark on the council vote.",
    }


def _seed(client: TestClient, store: Store, name: str, key: str, ip: str) -> SiteSeed:
    marker = f"{name}mark7q"
    # One address per site (a marker): the flood rule would hold its second comment.
    store.set_policy(name, replace(PUBLISHING_POLICY, check_flood=False))
    ids: dict[str, str] = {}
    for kind in ("held", "approved", "forget"):
        answer = client.post(
            "/v1/comments/check",
            json=_comment(marker, ip, kind),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 201, answer.text
        ids[kind] = answer.json()["id"]
        expected = "hold" if kind == "held" else "approve"
        assert answer.json()["verdict"] == expected, answer.text
    return SiteSeed(
        name=name,
        key=key,
        public_token=store.public_token(name),
        held_id=ids["held"],
        approved_id=ids["approved"],
        markers=(marker, ip),
        approved_text=f"{marker}-approved-content",
        forget_email=f"{marker}.forget@{marker}-mail.example",
    )


@dataclass
class Caller:
    """One way of calling: headers, query parameters or a browser session; what it may see."""

    label: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    client: TestClient | None = None
    csrf: str = ""
    own: SiteSeed | None = None  # the site whose data it may see (None: no site's)
    sees_all: bool = False  # an admin sees every site


@dataclass
class World:
    """The app with two seeded sites, their keys, moderators, tokens and web sessions."""

    app: FastAPI
    client: TestClient
    store: Store
    accounts: Accounts
    blog: SiteSeed
    news: SiteSeed
    revoked_key: str
    revoked_token: str
    old_public_token: str
    blog_mod: str
    news_mod: str
    admin: str
    requests: int = 0
    leaks: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    walked: set[tuple[str, str]] = field(default_factory=set)

    def session(self, name: str) -> tuple[TestClient, str]:
        """A browser logged in as this moderator (its own cookie jar) and its CSRF token."""
        browser = TestClient(self.app)  # no `with`: the lifespan already runs for `client`
        page = browser.get("/moderate/login")
        answer = browser.post(
            "/moderate/login",
            data={
                "name": name,
                "password": PASSWORD,
                "csrf": hidden(page.text, "csrf"),
                "next": "",
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        token = hidden(browser.get("/moderate/tokens").text, "csrf")
        self.requests += 3
        return browser, token

    def call(
        self,
        caller: Caller,
        method: str,
        route: str,
        url: str,
        *,
        expect: set[int],
        body: dict[str, Any] | None = None,
        form: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        must_show: str = "",
        verify: Callable[[Response], str] | None = None,
    ) -> Response:
        """Make one request as `caller`; note an unexpected status or another site's data."""
        client = caller.client or self.client
        form = {**form, "csrf": caller.csrf} if form is not None else None
        answer: Response = client.request(
            method,
            url,
            headers=caller.headers,
            params={**(params or {}), **caller.params},
            json=body,
            data=form,
            follow_redirects=False,
        )
        self.requests += 1
        self.walked.add((method, route))
        where = f"{method} {url} as {caller.label}"
        if answer.status_code not in expect:
            self.unexpected.append(
                f"{where}: {answer.status_code}, expected {sorted(expect)}: {answer.text[:200]}"
            )
        if not caller.sees_all:
            seen = (answer.text + " " + " ".join(answer.headers.values())).lower()
            for site in (self.blog, self.news):
                if site is caller.own:
                    continue
                for marker in site.markers:
                    if marker.lower() in seen:
                        self.leaks.append(f"{where}: shows {site.name}'s {marker!r}")
        if must_show and must_show.lower() not in answer.text.lower():
            # The positive control: without it, a marker search that can never match passes.
            self.unexpected.append(f"{where}: does not show its own {must_show!r}")
        if verify is not None and (problem := verify(answer)):
            self.unexpected.append(f"{where}: {problem}")
        return answer


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    # No webhook is ever sent from here: the walk sets an address on the admin routes.
    settings = make_settings(tmp_path, database_url, webhooks_enabled=False)
    app = create_app(settings)
    with TestClient(app) as client:
        store: Store = app.state.store
        accounts: Accounts = app.state.accounts
        _, blog_key = store.create_site("blog", "https://blog.example")
        _, news_key = store.create_site("news", "https://news.example")
        blog = _seed(client, store, "blog", blog_key, "198.51.100.71")
        news = _seed(client, store, "news", news_key, "203.0.113.92")
        revoked_key = store.add_key("blog")
        assert store.revoke_key(revoked_key[:10]) == 1
        old_public_token = store.public_token("blog")
        blog_public = store.public_token("blog", rotate=True)
        blog = replace(blog, public_token=blog_public)
        accounts.create_moderator("bea", password=PASSWORD, sites=["blog"])
        accounts.create_moderator("nico", password=PASSWORD, sites=["news"])
        accounts.create_moderator("root", password=PASSWORD, admin=True)
        revoked_token = accounts.create_token("bea")
        assert accounts.revoke_token(revoked_token[:10]) == 1
        yield World(
            app=app,
            client=client,
            store=store,
            accounts=accounts,
            blog=blog,
            news=news,
            revoked_key=revoked_key,
            revoked_token=revoked_token,
            old_public_token=old_public_token,
            blog_mod=accounts.create_token("bea"),
            news_mod=accounts.create_token("nico"),
            admin=accounts.create_token("root"),
        )


def bearer(value: str) -> dict[str, str]:
    """The Authorization header for this credential."""
    return {"Authorization": f"Bearer {value}"}


def in_query(value: str) -> dict[str, str]:
    """A credential in every query parameter a client might try instead of the header."""
    return {"api_key": value, "key": value, "access_token": value, "token": value}


def api_callers(w: World) -> dict[str, Caller]:
    """Every way of calling the API, right and wrong, against the site 'blog'."""
    blog, news = w.blog, w.news
    return {
        "none": Caller("no credentials"),
        "wrong key": Caller("a wrong key", bearer("mod_" + "x" * 43)),
        "wrong token": Caller("a wrong moderator token", bearer("mt_" + "x" * 43)),
        "revoked key": Caller("a revoked key of blog", bearer(w.revoked_key)),
        "revoked token": Caller("a revoked token of blog's moderator", bearer(w.revoked_token)),
        "key in query": Caller("blog's key in the query string", params=in_query(blog.key)),
        "token in query": Caller(
            "blog's moderator token in the query", params=in_query(w.blog_mod)
        ),
        "basic": Caller("blog's key as Basic", {"Authorization": f"Basic {blog.key}"}),
        "public as bearer": Caller("blog's public token as Bearer", bearer(blog.public_token)),
        "public": Caller("blog's public token", params={"token": blog.public_token}, own=blog),
        "old public": Caller("blog's replaced public token", params={"token": w.old_public_token}),
        "other public": Caller(
            "news's public token", params={"token": news.public_token}, own=news
        ),
        "other key": Caller("news's key", bearer(news.key), own=news),
        "other moderator": Caller("news's moderator", bearer(w.news_mod), own=news),
        # The rightful callers last: they change and erase what the others must not reach.
        "key": Caller("blog's key", bearer(blog.key), own=blog),
        "moderator": Caller("blog's moderator", bearer(w.blog_mod), own=blog),
        "admin": Caller("an admin", bearer(w.admin), sees_all=True),
    }


REFUSED = {401}
# What each kind of route answers each caller (callers not listed: 401). Cross-site callers
# get 404 where the URL names a comment of blog (README: the product's choice), and otherwise
# an answer about their own site only, checked for blog's markers.
OK = {200, 201, 204}


def expected(access: Access, caller: str, *, names_comment: bool) -> set[int]:
    """The statuses `caller` must get on a route of this kind (its URL aimed at blog's data)."""
    cross = {404} if names_comment else OK
    table: dict[Access, dict[str, set[int]]] = {
        Access.SITE: {"key": OK, "other key": cross},
        Access.FEED: {"key": OK, "other key": OK, "public": OK, "other public": OK},
        Access.SITE_OR_MODERATOR: {
            "key": OK,
            "other key": cross,
            "moderator": OK,
            "other moderator": cross,
            "admin": OK,
        },
        Access.MODERATOR: {"moderator": OK, "other moderator": cross, "admin": OK},
        # Admin routes name sites and deliveries, not comments; a non-admin is 403 whoever.
        Access.ADMIN: {"moderator": {403}, "other moderator": {403}, "admin": OK | {404}},
    }
    return table[access].get(caller, REFUSED)


def api_request(
    w: World, method: str, path: str, caller: str
) -> tuple[str, dict[str, Any] | None, dict[str, Any], str]:
    """URL, JSON body, query and the own marker to show, for one caller of one route.

    Every URL and body aims at blog's data; the destructive bodies (delete, forget) are sent
    only by callers that must be refused or find nothing, and the walk checks afterwards that
    blog's comments are all still there.
    """
    blog = w.blog
    own = caller in ("key", "moderator", "admin", "public")
    url = (
        path.replace("{comment_id}", blog.held_id)
        .replace("{post_id}", POST_ID)
        .replace("{name}", "blog")
        .replace("{delivery_id}", "987654")
    )
    query: dict[str, Any] = {}
    show = ""
    body: dict[str, Any] | None = None
    if path == "/v1/comments/check":
        body = _comment(f"{caller.replace(' ', '')}walkq", "192.0.2.10", "probe")
    elif path == "/v1/comments/score":
        # Scored with the caller's own policy and nothing stored: it must not echo blog's data.
        body = {"comments": [_comment(f"{caller.replace(' ', '')}walkq", "192.0.2.10", "probe")]}
    elif path == "/v1/authors/forget":
        # blog's key erases for real (a comment seeded for it); any other caller must not.
        body = {"email": blog.forget_email, "dry_run": False}
    elif path == "/v1/posts/{post_id}/comments":
        show = blog.approved_text if own else ""
    elif path == "/v1/comments/{comment_id}":
        if own:
            show = blog.held_id if caller == "key" else blog.markers[0]
    elif path in ("/v1/queue", "/v1/queue/counts"):
        query = {"site": "blog", "status": ALL_STATUSES}
        show = blog.markers[0] if own and path == "/v1/queue" else ""
    elif path == "/v1/queue/actions":
        body = {"ids": [blog.held_id, blog.approved_id], "action": _action(caller)}
    elif path == "/v1/comments/{comment_id}/actions":
        body = {"action": _action(caller), "note": "walk"}
    elif path == "/v1/comments/{comment_id}/undo":
        body = {"note": "walk"}
    elif method == "PUT" and path == "/v1/admin/sites/{name}/webhook":
        body = {"url": "http://127.0.0.1:9/hook"}
    return url, body, query, show


def _action(caller: str) -> str:
    # Each rightful caller leaves an action for an undo to take back; the rest try the worst.
    return {"moderator": "trash", "admin": "approve"}.get(caller, "delete")


def _no_deletion(answer: Response) -> str:
    if answer.status_code == 200 and answer.json().get("comments_deleted") != 0:
        return f"erased blog's author from another site: {answer.text}"
    return ""


def _nothing_found(answer: Response) -> str:
    if answer.status_code == 200:
        errors = {r["error"] for r in answer.json()["results"]}
        if errors != {"not_found"}:
            return f"acted on blog's comments: {answer.text}"
    return ""


def walk_api(w: World, operations: list[tuple[str, str]]) -> None:
    """Every caller on every protected operation of the schema, then every public one."""
    callers = api_callers(w)
    for method, path in operations:
        if (method, path) in PUBLIC:
            w.call(callers["none"], method, path, path.replace("{name}", "x"), expect={200})
            continue
        access = PROTECTED[(method, path)]
        for name, caller in callers.items():
            url, body, query, show = api_request(w, method, path, name)
            verify = None
            if path == "/v1/authors/forget" and name != "key":
                verify = _no_deletion
            elif path == "/v1/queue/actions" and name == "other moderator":
                verify = _nothing_found
            expect = expected(access, name, names_comment="{comment_id}" in path)
            w.call(
                caller,
                method,
                path,
                url,
                expect=expect,
                body=body,
                params=query,
                must_show=show if expect & OK else "",
                verify=verify,
            )


def page_callers(w: World) -> dict[str, Caller]:
    """Every way of calling the pages, right and wrong."""
    blog_browser, blog_csrf = w.session("bea")
    news_browser, news_csrf = w.session("nico")
    ended_browser, ended_csrf = w.session("bea")
    session_id = ended_browser.cookies["moderation_session"]
    assert ended_browser.post("/moderate/logout", data={"csrf": ended_csrf}).status_code == 200
    w.requests += 1
    forged = TestClient(w.app, cookies={"moderation_session": "x" * 43})
    ended = TestClient(w.app, cookies={"moderation_session": session_id})
    return {
        "none": Caller("no session"),
        "forged": Caller("a made-up session cookie", client=forged),
        "ended": Caller("a logged-out session", client=ended, csrf=ended_csrf),
        "site key": Caller("blog's key as Bearer", bearer(w.blog.key)),
        "token": Caller("blog's moderator token as Bearer", bearer(w.blog_mod)),
        "in query": Caller(
            "a live session id in the query", params={"moderation_session": session_id}
        ),
        "other session": Caller(
            "news's moderator", client=news_browser, csrf=news_csrf, own=w.news
        ),
        "session": Caller("blog's moderator", client=blog_browser, csrf=blog_csrf, own=w.blog),
    }


def walk_pages(w: World, pages: list[tuple[str, str]]) -> None:
    """Every caller on every page under /moderate, aimed at blog's comments."""
    callers = page_callers(w)
    blog = w.blog
    for method, path in pages:
        url = path.replace("{comment_id}", blog.held_id).replace("{name}", "moderate.css")
        if (method, path) in PUBLIC:
            status = {200} if method == "GET" else {403}  # a login POST without its form token
            w.call(callers["none"], method, path, url, expect=status, form={})
            continue
        for name, caller in callers.items():
            names_comment = "{comment_id}" in path
            form: dict[str, Any] | None = None
            params: dict[str, Any] = {}
            show = ""
            if method == "POST":
                destructive = "delete" if name != "session" else "trash"
                form = {"ids": [blog.held_id, blog.approved_id], "action": destructive}
                if path == "/moderate/tokens":
                    form = {"op": "create", "label": "walk"}
            elif path == "/moderate/queue":
                params = {"site": "blog", "status": ALL_STATUSES}
                show = blog.markers[0] if name == "session" else ""
            elif names_comment:
                show = blog.markers[0] if name == "session" else ""
            if path == "/moderate/logout" and caller.own is not None:
                # Logging out ends the session the rest of the walk uses: a fresh one does it.
                browser, token = w.session("bea" if caller.own is blog else "nico")
                caller = replace(caller, client=browser, csrf=token)
            if name == "session":
                expect = {303} if method == "POST" and path != "/moderate/tokens" else {200}
            elif name == "other session":
                if names_comment:
                    expect = {404}
                elif method == "POST" and path != "/moderate/tokens":
                    expect = {303}
                else:
                    expect = {200}
            else:
                expect = {303}
            answer = w.call(
                caller, method, path, url, expect=expect, form=form, params=params, must_show=show
            )
            refused = name not in ("session", "other session")
            location = answer.headers.get("location", "")
            if refused and not location.startswith("/moderate/login"):
                w.unexpected.append(f"{method} {url} as {caller.label}: went to {location!r}")


def schema_operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (METHOD, path) of the app's OpenAPI schema, in its order."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (METHOD, path) the app answers, from its routes (HEAD left out: GET's twin)."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = re.sub(r":\w+\}", "}", context.path or "")
        methods = getattr(context.original_route, "methods", None) or set()
        found += [(m, path) for m in sorted(methods) if m != "HEAD"]
    return found


def test_every_route_refuses_the_wrong_caller_and_never_shows_another_site(world: World) -> None:
    w = world
    routes = app_routes(w.app)
    # The schema's operations, then the app's own routes outside it (docs), then the pages.
    operations = schema_operations(w.app)
    operations += [r for r in routes if r not in operations and not r[1].startswith("/moderate")]
    pages = [r for r in routes if r[1].startswith("/moderate")]
    everything = set(operations) | set(routes)
    unclassified = everything - PUBLIC.keys() - PROTECTED.keys()
    assert not unclassified, f"classify these routes as PUBLIC or PROTECTED: {unclassified}"
    stale = (PUBLIC.keys() | PROTECTED.keys()) - everything
    assert not stale, f"no longer routes of the app: {stale}"
    for method, path in schema_operations(w.app):
        operation = w.app.openapi()["paths"][path][method.lower()]
        declared = {name for scheme in operation.get("security", []) for name in scheme}
        access = PROTECTED.get((method, path))
        if access is not None:
            assert declared == {SCHEMES[access]}, (method, path, declared)

    walk_api(w, operations)
    walk_pages(w, pages)

    # Every protected route was called; none of blog's comments was touched by anyone else.
    not_walked = (set(operations) | set(pages)) - w.walked
    for site in (w.blog, w.news):
        for comment_id in (site.held_id, site.approved_id):
            try:
                w.store.get_comment(w.store.get_site(site.name).id, comment_id)
            except NotFoundError:
                w.unexpected.append(f"{site.name}'s comment {comment_id} was erased")
    print(
        f"access walk: {len(operations)} API operations and {len(pages)} pages walked, "
        f"{w.requests} requests, cross-site leaks found: {len(w.leaks)}, "
        f"unexpected statuses: {len(w.unexpected)}"
    )
    assert not_walked == set()
    assert w.leaks == [], "\n".join(w.leaks)
    assert w.unexpected == [], "\n".join(w.unexpected)
