"""The admin's webhook endpoints: a site's address and secret, and every delivery's outcome."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from moderation import webhooks
from moderation.domain import ModerationAction
from moderation.store_accounts import Accounts
from moderation.store_queue import QueueStore
from moderation.store_webhooks import WebhookStore, enqueue
from tests.conftest import Service

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(service: Service) -> dict[str, str]:
    """Headers of an admin's API token."""
    accounts: Accounts = service.client.app.state.accounts  # type: ignore[attr-defined]
    accounts.create_moderator("ada", password=PASSWORD, admin=True)
    return {"Authorization": f"Bearer {accounts.create_token('ada')}"}


@pytest.fixture
def moderator(service: Service) -> dict[str, str]:
    """Headers of a moderator who is not an admin (granted the site all the same)."""
    accounts: Accounts = service.client.app.state.accounts  # type: ignore[attr-defined]
    accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    return {"Authorization": f"Bearer {accounts.create_token('camille')}"}


@pytest.fixture
def blog_endpoint() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A blog's webhook receiver on loopback answering 204: its address and what it got."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/moderation-hook", got
    server.shutdown()
    server.server_close()


def owe(service: Service, *, event_id: int = 1) -> int:
    """A delivery as the queue writes it when a comment's status changes."""
    site_id = service.store.get_site("blog").id
    body = webhooks.compact_json({"event_id": event_id, "to_status": "approved"})
    with service.store.writing() as conn:
        delivery_id = enqueue(
            conn, site_id=site_id, comment_id="c1", event_id=event_id, body=body,
            now=datetime.now(UTC),
        )  # fmt: skip
    assert delivery_id is not None
    return delivery_id


ROUTES = [
    ("GET", "/v1/admin/webhooks/deliveries", None),
    ("POST", "/v1/admin/webhooks/deliveries/1/retry", None),
    ("GET", "/v1/admin/sites/blog/webhook", None),
    ("PUT", "/v1/admin/sites/blog/webhook", {"url": "https://blog.example/hook"}),
    ("DELETE", "/v1/admin/sites/blog/webhook", None),
]


def test_only_an_admin_may_call(service: Service, moderator: dict[str, str]) -> None:
    client = service.client
    for method, path, body in ROUTES:
        assert client.request(method, path, json=body).status_code == 401, path
        # The blog's own key is no moderator token.
        with_key = client.request(method, path, json=body, headers=service.auth)
        assert with_key.status_code == 401, path
        forbidden = client.request(method, path, json=body, headers=moderator)
        assert forbidden.status_code == 403, path
    assert WebhookStore(service.store).webhook_of("blog").url == ""


def test_the_secret_is_shown_when_made_and_never_again(
    service: Service, admin: dict[str, str]
) -> None:
    client = service.client
    made = client.put(
        "/v1/admin/sites/blog/webhook", json={"url": "https://blog.example/hook"}, headers=admin
    )
    assert made.status_code == 200, made.text
    secret = made.json()["secret"]
    assert len(secret) == 64
    assert made.json()["url"] == "https://blog.example/hook"
    moved = client.put(
        "/v1/admin/sites/blog/webhook", json={"url": "https://blog.example/v2"}, headers=admin
    )
    assert moved.json() == {"site": "blog", "url": "https://blog.example/v2"}
    shown = client.get("/v1/admin/sites/blog/webhook", headers=admin)
    assert shown.json()["url"] == "https://blog.example/v2"
    assert shown.json()["secret"] is None
    rotated = client.put(
        "/v1/admin/sites/blog/webhook",
        json={"url": "https://blog.example/v2", "rotate_secret": True},
        headers=admin,
    )
    assert rotated.json()["secret"] not in ("", None, secret)


REFUSED = [
    ("/v1/admin/sites/blog/webhook", {"url": "ftp://blog.example/x"}, 422, "http"),
    ("/v1/admin/sites/blog/webhook", {"url": "https://u:p@blog.example/"}, 422, "password"),
    ("/v1/admin/sites/blog/webhook", {"url": ""}, 422, "url"),
    ("/v1/admin/sites/blog/webhook", {}, 422, "url"),
    ("/v1/admin/sites/nosuch/webhook", {"url": "https://blog.example/x"}, 404, "nosuch"),
]


def test_a_webhook_that_cannot_be_set_is_refused_clearly(
    service: Service, admin: dict[str, str]
) -> None:
    for path, body, code, says in REFUSED:
        response = service.client.put(path, json=body, headers=admin)
        assert response.status_code == code, body
        assert says in response.text
    assert WebhookStore(service.store).webhook_of("blog").url == ""


def test_the_running_service_delivers_and_the_admin_sees_it(
    service: Service,
    admin: dict[str, str],
    blog_endpoint: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, got = blog_endpoint
    client = service.client
    secret = client.put("/v1/admin/sites/blog/webhook", json={"url": url}, headers=admin).json()[
        "secret"
    ]
    delivery_id = owe(service)
    deadline = time.monotonic() + 15
    while not got:
        assert time.monotonic() < deadline, "the service's sender never called the blog"
        time.sleep(0.05)
    headers, body = got[0]
    assert webhooks.verify(secret, body, headers[webhooks.SIGNATURE_HEADER])
    delivered: list[dict[str, Any]] = []
    while not delivered:
        assert time.monotonic() < deadline
        listing = client.get(
            "/v1/admin/webhooks/deliveries", params={"state": "delivered"}, headers=admin
        )
        assert listing.status_code == 200
        delivered = listing.json()["deliveries"]
    [row] = delivered
    assert row["id"] == delivery_id
    assert (row["site"], row["attempts"], row["last_status_code"]) == ("blog", 1, 204)
    assert row["url"] == url
    assert row["delivered_at"] is not None
    assert secret not in listing.text
    pending = client.get("/v1/admin/webhooks/deliveries?state=pending", headers=admin)
    assert pending.json() == {"deliveries": []}
    by_site = client.get("/v1/admin/webhooks/deliveries?site=blog&limit=1", headers=admin)
    assert [d["id"] for d in by_site.json()["deliveries"]] == [delivery_id]


def test_a_bad_listing_query_gets_a_clear_4xx(service: Service, admin: dict[str, str]) -> None:
    for query, code in [("site=nosuch", 404), ("state=lost", 422), ("limit=0", 422),
                        ("limit=1001", 422)]:  # fmt: skip
        response = service.client.get(f"/v1/admin/webhooks/deliveries?{query}", headers=admin)
        assert response.status_code == code, query


def test_removing_the_webhook_then_retrying_what_it_dropped(
    service: Service, admin: dict[str, str]
) -> None:
    client = service.client
    client.put("/v1/admin/sites/blog/webhook", json={"url": "https://blog.invalid/"}, headers=admin)
    # Stop the service's sender so the delivery stays where the test puts it.
    service.client.app.state.webhook_sender.close()  # type: ignore[attr-defined]
    delivery_id = owe(service)
    assert client.delete("/v1/admin/sites/blog/webhook", headers=admin).status_code == 204
    assert client.get("/v1/admin/sites/blog/webhook", headers=admin).json()["url"] == ""
    failed = client.get("/v1/admin/webhooks/deliveries?state=failed", headers=admin).json()
    assert [d["id"] for d in failed["deliveries"]] == [delivery_id]
    assert "removed" in failed["deliveries"][0]["last_error"]
    retry = f"/v1/admin/webhooks/deliveries/{delivery_id}/retry"
    no_hook = client.post(retry, headers=admin)
    assert no_hook.status_code == 409
    assert "no webhook" in no_hook.json()["detail"]
    client.put("/v1/admin/sites/blog/webhook", json={"url": "https://blog.example/new"},
               headers=admin)  # fmt: skip
    again = client.post(retry, headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending"
    assert again.json()["attempts"] == 0
    assert again.json()["url"] == "https://blog.example/new"
    assert client.post(retry, headers=admin).status_code == 409  # pending already
    assert (
        client.post("/v1/admin/webhooks/deliveries/999999/retry", headers=admin).status_code == 404
    )
    assert client.delete("/v1/admin/sites/nosuch/webhook", headers=admin).status_code == 404


def test_a_moderators_decision_reaches_the_blog_signed(
    service: Service,
    admin: dict[str, str],
    blog_endpoint: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, got = blog_endpoint
    client = service.client
    made = client.put("/v1/admin/sites/blog/webhook", json={"url": url}, headers=admin)
    secret = made.json()["secret"]
    checked = client.post(
        "/v1/comments/check",
        json={"post_id": "p1", "content": "Thanks, this helped.", "author_name": "Lee",
              "author_email": "lee@example.org", "external_id": "wp-17"},
        headers=service.auth,
    )  # fmt: skip
    assert checked.status_code == 201, checked.text
    comment_id = checked.json()["id"]
    accounts: Accounts = client.app.state.accounts  # type: ignore[attr-defined]
    [result] = QueueStore(service.store).act(
        accounts.get("ada"), [comment_id], ModerationAction.TRASH
    )
    assert result.ok
    deadline = time.monotonic() + 15
    while not got:
        assert time.monotonic() < deadline, "the blog was never called"
        time.sleep(0.05)
    headers, body = got[0]
    assert webhooks.verify(secret, body, headers[webhooks.SIGNATURE_HEADER])
    event = json.loads(body)
    assert (event["comment_id"], event["external_id"], event["to_status"]) == (
        comment_id, "wp-17", "trash",
    )  # fmt: skip
    assert headers[webhooks.EVENT_HEADER] == str(event["delivery_event_id"])
