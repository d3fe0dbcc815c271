"""Helpers for the web page tests: moderators, comments, logging in, reading forms."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from moderation.store_accounts import Accounts, Moderator
from tests.conftest import Service
from tests.publishing_cases import PUBLISHING_POLICY

PASSWORD = "a long enough passphrase"
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def accounts(service: Service) -> Accounts:
    """The app's moderator accounts."""
    found: Accounts = service.client.app.state.accounts  # type: ignore[attr-defined]
    return found


def add_moderator(
    service: Service, name: str = "mo", *, sites: tuple[str, ...] = ("blog",), admin: bool = False
) -> Moderator:
    """A moderator with the test password, granted these sites."""
    return accounts(service).create_moderator(name, password=PASSWORD, admin=admin, sites=sites)


def hold_everything_worded(service: Service, site: str = "blog") -> None:
    """The publishing policy: 'holdme' holds, a honeypot makes spam, the rest is approved."""
    service.store.set_policy(site, PUBLISHING_POLICY)


_numbers = itertools.count(1)


def post_comment(service: Service, key: str | None = None, **fields: Any) -> str:
    """Check a comment through the API with a site key; its id."""
    n = next(_numbers)
    body = {
        "post_id": "the-post",
        "author_name": f"Reader {n}",
        "author_email": f"reader{n}@example.net",
        "user_ip": f"198.51.100.{n % 250 + 1}",
        "content": f"holdme comment number {n}",
        **fields,
    }
    headers = {"Authorization": f"Bearer {key or service.key}"}
    response = service.client.post("/v1/comments/check", json=body, headers=headers)
    assert response.status_code == 201, response.text
    comment_id: str = response.json()["id"]
    return comment_id


def hidden(html: str, name: str) -> str:
    """The value of the first hidden input with this name."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name!r}"
    return found.group(1)


def log_in(client: TestClient, name: str = "mo", password: str = PASSWORD) -> Response:
    """Log in through the form, as a browser does; the answer to the POST."""
    page = client.get("/moderate/login")
    assert page.status_code == 200
    answer: Response = client.post(
        "/moderate/login",
        data={"name": name, "password": password, "csrf": hidden(page.text, "csrf"), "next": ""},
        follow_redirects=False,
    )
    return answer


def csrf(client: TestClient) -> str:
    """The CSRF token of the client's session, read from a page as a form would carry it."""
    return hidden(client.get("/moderate/tokens").text, "csrf")


class Page(HTMLParser):
    """The parts of a page the tests look at: its text, tags with attributes, forms."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text_parts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        """The page's text, whitespace collapsed."""
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """The attributes of every `tag` whose attributes include these."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())
        ]
