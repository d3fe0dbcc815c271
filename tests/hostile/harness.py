"""The service the hostile tests attack, and the checks they share."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from annotated_types import MaxLen
from fastapi.testclient import TestClient
from httpx import Response

from moderation.api.schemas import CommentIn
from moderation.app import create_app
from moderation.domain import post_key
from moderation.settings import Settings
from moderation.store import Store
from tests.conftest import make_settings
from tests.hostile import sinks
from tests.publishing_cases import PUBLISHING_POLICY
from tests.web.helpers import PASSWORD, log_in

# Room for a 65,536-character comment of 4-byte characters, sent as JSON escapes (12 bytes
# each): the content limit is what these tests reach, not the body limit.
BODY_LIMIT = 1024 * 1024


def limit_of(name: str) -> int | None:
    """The longest value CommentIn accepts in a field, in characters (None: no length limit)."""
    for meta in CommentIn.model_fields[name].metadata:
        if isinstance(meta, MaxLen):
            return int(meta.max_length)
    return None


@dataclass
class Target:
    """The app on a fresh database: a site, a logged-in moderator and their token."""

    client: TestClient
    store: Store
    key: str
    token: str
    public_token: str
    statuses: list[int] = field(default_factory=list)

    @property
    def site_auth(self) -> dict[str, str]:
        """The headers that authenticate as the site."""
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def moderator_auth(self) -> dict[str, str]:
        """The headers that authenticate as the moderator."""
        return {"Authorization": f"Bearer {self.token}"}

    def seen(self, response: Response) -> Response:
        """Note the status of an answer (for the server-error count) and return it."""
        self.statuses.append(response.status_code)
        return response

    @property
    def server_errors(self) -> int:
        """How many answers so far were 5xx."""
        return sum(1 for s in self.statuses if s >= 500)

    def check(self, body: dict[str, Any]) -> Response:
        """POST a comment as JSON with the site's key."""
        # ensure_ascii: a lone surrogate goes out as the JSON escape \\ud800, as a client sends it.
        return self.seen(
            self.client.post(
                "/v1/comments/check",
                content=json.dumps(body).encode(),
                headers={**self.site_auth, "Content-Type": "application/json"},
            )
        )

    def stored(self, comment_id: str) -> dict[str, Any]:
        """The comment in full, as a moderator's token reads it (GET /v1/comments/{id})."""
        answer = self.seen(
            self.client.get(f"/v1/comments/{comment_id}", headers=self.moderator_auth)
        )
        assert answer.status_code == 200, answer.text
        item: dict[str, Any] = answer.json()["item"]
        row = self.store.get_comment(self.store.site_for_key(self.key).id, comment_id)  # type: ignore[union-attr]
        # referrer, language and parent_id are stored but not part of the moderator's answer.
        item.update({k: row[k] for k in ("referrer", "language", "parent_id")})
        return item

    def approve(self, ids: list[str]) -> None:
        """Approve these comments, so that the public feed shows them."""
        for start in range(0, len(ids), 500):
            answer = self.seen(
                self.client.post(
                    "/v1/queue/actions",
                    json={"ids": ids[start : start + 500], "action": "approve"},
                    headers=self.moderator_auth,
                )
            )
            assert answer.status_code == 200, answer.text

    def page_sinks(self, url: str, *, refusable: bool = False) -> list[sinks.Sink]:
        """The script sinks of a moderator page (which must answer 200, or a 4xx page when
        `refusable`)."""
        answer = self.seen(self.client.get(url))
        ok = answer.status_code == 200 or (refusable and 400 <= answer.status_code < 500)
        assert ok, (url, answer.status_code)
        assert "text/html" in answer.headers["content-type"]
        return sinks.in_page(answer.text)

    def feed(self, post: str, **params: Any) -> Response:
        """The public feed of a post, read with the public token."""
        return self.seen(
            self.client.get(
                # Encoded twice: the TestClient decodes the path once more than a server does.
                f"/v1/posts/{quote(quote(post, safe=''), safe='')}/comments",
                params={"token": self.public_token, "limit": 200, **params},
            )
        )


@contextmanager
def target(tmp_path: Path, database_url: str, **settings: object) -> Iterator[Target]:
    """The app with a site 'blog' (rules alone decide), a moderator 'mo' logged in."""
    # The corpus is thousands of requests from one address: rate limits off (0), where known.
    unlimited = {name: 0 for name in Settings.model_fields if name.startswith("ratelimit_check")}
    values: dict[str, object] = {"max_body_bytes": BODY_LIMIT, **unlimited, **settings}
    app = create_app(make_settings(tmp_path, database_url, **values))
    with TestClient(app) as client:
        store: Store = app.state.store
        _, key = store.create_site("blog", "https://blog.example")
        store.set_policy("blog", PUBLISHING_POLICY)
        accounts = app.state.accounts
        accounts.create_moderator("mo", password=PASSWORD, admin=False, sites=("blog",))
        token = accounts.create_token("mo")
        assert log_in(client).status_code == 303
        yield Target(client, store, key, token, store.public_token("blog"))


def differences(sent: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The fields of an accepted check that were stored other than as sent."""
    expected: dict[str, Any] = {
        name: sent.get(name, "")
        for name in (
            "content",
            "author_name",
            "author_email",
            "author_url",
            "permalink",
            "user_agent",
            "referrer",
            "language",
            "parent_id",
        )
    }
    expected["post_id"] = post_key(sent.get("post_id", ""), sent.get("permalink", ""))
    expected["external_id"] = sent.get("external_id") or None
    ip = sent.get("user_ip", "").strip()
    expected["user_ip"] = str(ipaddress.ip_address(ip)) if ip else ""
    return [
        f"{name}: sent {value!r}, stored {stored.get(name)!r}"
        for name, value in expected.items()
        if stored.get(name) != value
    ]


def refused_fields(answer: Response) -> set[str | None]:
    """The fields a 422 names (None for an error about the comment as a whole)."""
    assert answer.status_code == 422, answer.text
    return {error.get("field") for error in answer.json()["detail"]}
