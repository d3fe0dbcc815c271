"""Webhooks: signatures a blog can check, backoff, addresses, and the deliveries' storage."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moderation import webhooks
from moderation.app import open_store
from moderation.store import ConflictError, NotFoundError, Store
from moderation.store_webhooks import WebhookStore, enqueue
from moderation.webhooks import DeliveryState, WebhookUrlError
from tests.conftest import make_settings

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# Signing


def test_signature_matches_a_published_hmac_sha256_vector() -> None:
    # GitHub's documented example of the same scheme (secret, payload, expected header).
    signature = webhooks.sign("It's a Secret to Everybody", b"Hello, World!")
    assert signature == ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")


def test_a_blog_verifies_with_nothing_but_the_standard_library() -> None:
    body = b'{"comment_id":"c1","status":"approved"}'
    header = webhooks.sign("s3cret", body)
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(header, expected)
    assert webhooks.verify("s3cret", body, header)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        ("other", b"{}", webhooks.sign("s3cret", b"{}")),
        ("s3cret", b"{ }", webhooks.sign("s3cret", b"{}")),
        ("s3cret", b"{}", webhooks.sign("s3cret", b"{}").removeprefix("sha256=")),
        ("s3cret", b"{}", ""),
        ("s3cret", b"{}", "sha256=é"),
    ],
)
def test_verify_refuses_a_wrong_secret_body_or_signature(
    secret: str, body: bytes, signature: str
) -> None:
    assert not webhooks.verify(secret, body, signature)


# Backoff


def test_retry_delay_doubles_from_ten_seconds_up_to_an_hour() -> None:
    ceilings = [webhooks.retry_delay(n, rand=lambda: 1.0) for n in range(1, 13)]
    assert ceilings[:4] == [10.0, 20.0, 40.0, 80.0]
    assert ceilings[-1] == 3600.0
    assert max(ceilings) == 3600.0
    assert webhooks.retry_delay(10_000, rand=lambda: 1.0) == 3600.0


def test_retry_delay_is_full_jitter_and_repeatable_from_a_seed() -> None:
    first = [webhooks.retry_delay(3, rand=random.Random(7).random) for _ in range(3)]
    again = [webhooks.retry_delay(3, rand=random.Random(7).random) for _ in range(3)]
    assert first == again
    draws = random.Random(1)
    spread = [webhooks.retry_delay(3, rand=draws.random) for _ in range(500)]
    assert all(0.0 <= d < 40.0 for d in spread)
    assert min(spread) < 4.0
    assert max(spread) > 36.0


# Addresses


@pytest.mark.parametrize(
    "url",
    [
        "https://blog.example/hooks/moderation",
        "http://127.0.0.1:8080/hook",
        "https://[::1]:8443/x?token=abc",
    ],
)
def test_webhook_addresses_accepted(url: str) -> None:
    assert webhooks.webhook_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty"),
        ("ftp://blog.example/hook", "http"),
        ("javascript:alert(1)", "http"),
        ("https://", "no host"),
        ("https://user:pw@blog.example/hook", "user name or password"),
        ("https://token@blog.example/hook", "user name or password"),
        ("https://blog.example/a b", "spaces"),
        ("https://blog.example:99999/", "cannot be read"),
        ("https://blog.example/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_webhook_addresses_refused_with_the_reason(url: str, problem: str) -> None:
    found = webhooks.webhook_url_problem(url)
    assert found is not None
    assert problem in found


def test_compact_json_is_what_gets_signed() -> None:
    assert webhooks.compact_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


# Storage


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[Store]:
    store = open_store(make_settings(tmp_path, database_url))
    store.create_site("blog", "https://blog.example")
    store.create_site("other", "https://other.example")
    yield store
    store.engine.dispose()


def owe(store: Store, site: str = "blog", *, event_id: int = 1, now: datetime = NOW) -> int | None:
    """A delivery as the queue writes it when a status changes."""
    site_id = store.get_site(site).id
    body = webhooks.compact_json({"event_id": event_id, "comment_id": f"c{event_id}"})
    with store.writing() as conn:
        return enqueue(
            conn, site_id=site_id, comment_id=f"c{event_id}", event_id=event_id, body=body, now=now
        )


def test_the_secret_is_returned_once_kept_and_replaced_on_rotation(store: Store) -> None:
    hooks = WebhookStore(store)
    secret = hooks.set_webhook("blog", " https://blog.example/hook ")
    assert secret is not None
    assert len(secret) == 64
    assert hooks.set_webhook("blog", "https://blog.example/new-hook") is None
    assert hooks.webhook_of("blog").url == "https://blog.example/new-hook"
    rotated = hooks.set_webhook("blog", "https://blog.example/new-hook", rotate_secret=True)
    assert rotated is not None
    assert rotated != secret
    assert hooks.webhook_of("blog").has_secret
    assert secret not in repr(hooks.webhook_of("blog"))


def test_a_bad_address_or_unknown_site_changes_nothing(store: Store) -> None:
    hooks = WebhookStore(store)
    with pytest.raises(WebhookUrlError, match="http"):
        hooks.set_webhook("blog", "ftp://blog.example")
    with pytest.raises(NotFoundError):
        hooks.set_webhook("nosuch", "https://blog.example/hook")
    assert hooks.webhook_of("blog").url == ""
    assert not hooks.webhook_of("blog").has_secret


def test_nothing_is_owed_to_a_site_without_a_webhook(store: Store) -> None:
    assert owe(store) is None
    assert WebhookStore(store).deliveries() == []


def test_a_claimed_delivery_is_nobody_elses_until_its_lease_runs_out(store: Store) -> None:
    hooks = WebhookStore(store)
    secret = hooks.set_webhook("blog", "https://blog.example/hook")
    first, second = owe(store, event_id=1), owe(store, event_id=2)
    lease = timedelta(seconds=60)
    claimed = hooks.claim_due(NOW, limit=1, lease=lease)
    assert [d.id for d in claimed] == [first]
    assert claimed[0].secret == secret
    assert claimed[0].url == "https://blog.example/hook"
    assert [d.id for d in hooks.claim_due(NOW, limit=10, lease=lease)] == [second]
    assert hooks.claim_due(NOW + timedelta(seconds=59), limit=10, lease=lease) == []
    assert not hooks.has_due(NOW + timedelta(seconds=59))
    # The sender that took them died: after the lease they are due again.
    again = hooks.claim_due(NOW + timedelta(seconds=61), limit=10, lease=lease)
    assert [d.id for d in again] == [first, second]


def test_attempts_are_recorded_and_listed_newest_first(store: Store) -> None:
    hooks = WebhookStore(store)
    hooks.set_webhook("blog", "https://blog.example/hook")
    hooks.set_webhook("other", "https://other.example/hook")
    ok_id, failing_id, other_id = (
        owe(store, event_id=1),
        owe(store, event_id=2),
        owe(store, "other"),
    )
    assert ok_id
    assert failing_id
    assert other_id
    later = NOW + timedelta(seconds=1)
    assert hooks.record_attempt(
        ok_id, ok=True, status_code=204, error="", now=later, next_attempt_at=None
    )
    assert hooks.record_attempt(
        failing_id, ok=False, status_code=500, error="HTTP 500 Internal Server Error", now=later,
        next_attempt_at=None,
    )  # fmt: skip
    # A delivered or failed row is no longer anyone's to record.
    assert not hooks.record_attempt(
        ok_id, ok=False, status_code=500, error="late", now=later, next_attempt_at=None
    )
    everything = hooks.deliveries()
    assert [d.id for d in everything] == [other_id, failing_id, ok_id]
    delivered = hooks.deliveries(site="blog", state=DeliveryState.DELIVERED)
    assert [(d.id, d.attempts, d.last_status_code) for d in delivered] == [(ok_id, 1, 204)]
    assert delivered[0].delivered_at == later
    failed = hooks.deliveries(state=DeliveryState.FAILED)
    assert [(d.site, d.last_error) for d in failed] == [("blog", "HTTP 500 Internal Server Error")]
    assert [d.site for d in hooks.deliveries(site="other")] == ["other"]
    assert json.loads(everything[0].body)["event_id"] == 1
    with pytest.raises(NotFoundError):
        hooks.deliveries(site="nosuch")


def test_a_failed_delivery_is_retried_to_the_current_address(store: Store) -> None:
    hooks = WebhookStore(store)
    hooks.set_webhook("blog", "https://old.example/hook")
    delivery_id = owe(store)
    assert delivery_id is not None
    with pytest.raises(ConflictError, match="pending"):
        hooks.retry(delivery_id)
    for _ in range(2):
        hooks.record_attempt(
            delivery_id, ok=False, status_code=None, error="ConnectError", now=NOW,
            next_attempt_at=NOW,
        )  # fmt: skip
    hooks.record_attempt(
        delivery_id, ok=False, status_code=None, error="ConnectError", now=NOW, next_attempt_at=None
    )
    assert hooks.delivery(delivery_id).attempts == 3
    hooks.set_webhook("blog", "https://new.example/hook")
    retried = hooks.retry(delivery_id, now=NOW + timedelta(hours=1))
    assert retried.state is DeliveryState.PENDING
    assert retried.attempts == 0
    assert retried.url == "https://new.example/hook"
    claimed = hooks.claim_due(NOW + timedelta(hours=1), limit=5, lease=timedelta(seconds=60))
    assert [d.id for d in claimed] == [delivery_id]
    with pytest.raises(NotFoundError):
        hooks.retry(delivery_id + 1000)


def test_clearing_the_webhook_gives_up_what_was_owed(store: Store) -> None:
    hooks = WebhookStore(store)
    hooks.set_webhook("blog", "https://blog.example/hook")
    delivery_id = owe(store)
    assert delivery_id is not None
    assert hooks.clear_webhook("blog") == 1
    assert hooks.webhook_of("blog").url == ""
    assert not hooks.webhook_of("blog").has_secret
    gone = hooks.delivery(delivery_id)
    assert gone.state is DeliveryState.FAILED
    assert "removed" in gone.last_error
    assert not hooks.has_due(NOW + timedelta(days=1))
    with pytest.raises(ConflictError, match="no webhook"):
        hooks.retry(delivery_id)
    # Set again: a new secret is made, and what was given up may be sent.
    assert hooks.set_webhook("blog", "https://blog.example/hook") is not None
    assert hooks.retry(delivery_id).state is DeliveryState.PENDING
