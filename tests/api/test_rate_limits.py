"""Rate limits over HTTP: the check endpoints per site and per address, the login per address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from moderation.app import create_app
from moderation.ratelimit import MemoryLimiter
from moderation.store import Store
from moderation.store_accounts import Accounts
from tests.conftest import make_settings
from tests.test_ratelimit import FakeClock
from tests.test_ratelimit_redis import DEAD_URL, REDIS_URL, needs_redis
from tests.web.helpers import PASSWORD, log_in

WRONG = "not the password"
BLOG_ADDRESS = ("198.51.100.20", 50000)
# Only the limit a test is about is on; the others are off (0).
ALL_OFF: dict[str, object] = {
    "ratelimit_check_key_per_second": 0,
    "ratelimit_check_ip_per_second": 0,
    "ratelimit_login_ip_per_minute": 0,
}


class Deployment:
    """An app with two sites, a fake clock for its limits, and clients at chosen addresses."""

    def __init__(self, app: FastAPI, clock: FakeClock) -> None:
        self.app = app
        self.clock = clock
        store: Store = app.state.store
        self.store = store
        _, self.key = store.create_site("blog", "https://blog.example")
        _, self.other_key = store.create_site("other", "https://other.example")
        self._clients: list[TestClient] = []

    def client(self, address: tuple[str, int] = BLOG_ADDRESS) -> TestClient:
        """A client of the app whose requests come from `address`."""
        client = TestClient(self.app, client=address)
        self._clients.append(client)
        return client


@contextmanager
def deployed(tmp_path: Path, database_url: str, **limits: object) -> Iterator[Deployment]:
    settings = make_settings(tmp_path, database_url, **{**ALL_OFF, **limits})
    app = create_app(settings)
    with TestClient(app):
        clock = FakeClock()
        # The lifespan made a limiter on the real clock; this one is the same but for the clock.
        app.state.rate_limiter = MemoryLimiter(clock=clock)
        yield Deployment(app, clock)


_comments = iter(range(10**9))


def comment() -> dict[str, str]:
    n = next(_comments)
    return {
        "post_id": "vote",
        "author_name": "Camille",
        "author_email": f"camille{n}@example.org",
        "content": f"The vote was on Tuesday, not Monday. Note {n}.",
        "user_ip": "203.0.113.7",
    }


def check(client: TestClient, key: str, **kwargs: Any) -> Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    answer: Response = client.post("/v1/comments/check", json=comment(), headers=headers, **kwargs)
    return answer


def akismet_check(client: TestClient, key: str) -> Response:
    fields = {
        "api_key": key,
        "blog": "https://blog.example",
        "user_ip": "203.0.113.7",
        "comment_type": "comment",
        **{f"comment_{k}": v for k, v in (("author", "Camille"), ("content", "A fair summary."))},
    }
    answer: Response = client.post("/1.1/comment-check", data=fields)
    return answer


def assert_limited(answer: Response, words: str) -> int:
    """A 429 with a Retry-After in whole seconds and a detail saying what was over its limit."""
    assert answer.status_code == 429, answer.text
    retry_after = int(answer.headers["retry-after"])
    assert retry_after >= 1
    detail = answer.json()["detail"]
    assert words in detail
    assert f"retry in {retry_after} s" in detail
    return retry_after


@pytest.fixture
def per_key(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    """Checks limited per site: 1 a second, bursts of 3."""
    with deployed(
        tmp_path, database_url, ratelimit_check_key_per_second=1, ratelimit_check_key_burst=3
    ) as deployment:
        yield deployment


def test_a_site_over_its_check_limit_gets_429_and_refills(per_key: Deployment) -> None:
    client = per_key.client()
    for _ in range(3):
        assert check(client, per_key.key).status_code == 201
    retry_after = assert_limited(check(client, per_key.key), "for this site key")
    assert retry_after == 1
    # Another site, from the same address, is not affected.
    assert check(client, per_key.other_key).status_code == 201
    per_key.clock.advance(retry_after)
    assert check(client, per_key.key).status_code == 201
    assert check(client, per_key.key).status_code == 429


def test_the_site_limit_holds_from_every_address(per_key: Deployment) -> None:
    for n in range(3):
        assert check(per_key.client((f"198.51.100.{n + 1}", 1)), per_key.key).status_code == 201
    assert_limited(check(per_key.client(("192.0.2.1", 1)), per_key.key), "for this site key")


def test_a_refused_check_stores_nothing(per_key: Deployment) -> None:
    client = per_key.client()
    ids = [check(client, per_key.key).json()["id"] for _ in range(3)]
    assert check(client, per_key.key).status_code == 429
    site = per_key.store.get_site("blog")
    now = datetime.now(UTC)
    usage = per_key.store.monthly_usage(site.id, now - timedelta(days=1), now + timedelta(days=1))
    assert usage.api_calls == len(ids)


def test_akismet_comment_check_shares_the_site_limit(per_key: Deployment) -> None:
    client = per_key.client()
    for _ in range(2):
        assert check(client, per_key.key).status_code == 201
    assert akismet_check(client, per_key.key).status_code == 200
    refused = akismet_check(client, per_key.key)
    assert_limited(refused, "for this site key")
    assert "for this site key" in refused.headers["x-akismet-debug-help"]
    assert check(client, per_key.key).status_code == 429
    assert akismet_check(client, per_key.other_key).text in ("true", "false")


@pytest.fixture
def per_ip(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    """Check requests limited per address: 1 a second, bursts of 3; no proxy trusted."""
    with deployed(
        tmp_path, database_url, ratelimit_check_ip_per_second=1, ratelimit_check_ip_burst=3
    ) as deployment:
        yield deployment


def test_an_address_is_limited_before_its_key_is_looked_at(
    per_ip: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []
    real = Store.site_for_key

    def counting(self: Store, key: str) -> object:
        looked_up.append(key)
        return real(self, key)

    monkeypatch.setattr(Store, "site_for_key", counting)
    flooder = per_ip.client(("203.0.113.66", 1))
    for n in range(3):
        assert check(flooder, f"mk_wrong{n}").status_code == 401
    assert_limited(check(flooder, "mk_wrong"), "from this address")
    assert looked_up == ["mk_wrong0", "mk_wrong1", "mk_wrong2"]  # the database was spared
    # A good key does not help from there; another address is not affected.
    assert_limited(check(flooder, per_ip.key), "from this address")
    assert_limited(akismet_check(flooder, per_ip.key), "from this address")
    assert check(per_ip.client(("203.0.113.67", 1)), per_ip.key).status_code == 201
    per_ip.clock.advance(1)
    assert check(flooder, per_ip.key).status_code == 201


def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(
    per_ip: Deployment,
) -> None:
    client = per_ip.client(("203.0.113.66", 1))
    for n in range(3):
        headers = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
        assert check(client, per_ip.key, headers=headers).status_code == 201
    headers = {"X-Forwarded-For": "192.0.2.200"}
    assert_limited(check(client, per_ip.key, headers=headers), "from this address")


def test_forwarded_for_from_a_trusted_proxy_counts_each_client(
    tmp_path: Path, database_url: str
) -> None:
    with deployed(
        tmp_path,
        database_url,
        trusted_proxies="10.0.0.0/8",
        ratelimit_check_ip_per_second=1,
        ratelimit_check_ip_burst=3,
    ) as deployment:
        proxy = deployment.client(("10.0.0.1", 1))
        for _ in range(3):
            answer = check(proxy, deployment.key, headers={"X-Forwarded-For": "192.0.2.1"})
            assert answer.status_code == 201
        over = check(proxy, deployment.key, headers={"X-Forwarded-For": "192.0.2.1"})
        assert_limited(over, "from this address")
        other = check(proxy, deployment.key, headers={"X-Forwarded-For": "192.0.2.2"})
        assert other.status_code == 201


def test_a_zero_turns_a_limit_off(tmp_path: Path, database_url: str) -> None:
    with deployed(
        tmp_path,
        database_url,
        ratelimit_check_key_per_second=0,
        ratelimit_check_key_burst=1,
        ratelimit_check_ip_per_second=1,
        ratelimit_check_ip_burst=0,
    ) as deployment:
        client = deployment.client()
        assert [check(client, deployment.key).status_code for _ in range(6)] == [201] * 6


def test_the_default_limits_let_a_busy_blog_through(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url)
    with TestClient(create_app(settings), client=BLOG_ADDRESS) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        _, key = store.create_site("blog", "https://blog.example")
        assert all(check(client, key).status_code == 201 for _ in range(60))


@pytest.fixture
def login(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    """Logins limited per address: 10 a minute, bursts of 10."""
    with deployed(
        tmp_path, database_url, ratelimit_login_ip_per_minute=10, ratelimit_login_ip_burst=10
    ) as deployment:
        Accounts(deployment.store).create_moderator("mo", password=PASSWORD)
        yield deployment


def test_logins_are_limited_per_address(login: Deployment) -> None:
    guesser = login.client(("203.0.113.66", 1))
    for n in range(10):  # ten names, so that no name's own lockout starts
        assert log_in(guesser, f"guess{n}", WRONG).status_code == 401
    refused = log_in(guesser, "mo", PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 6
    assert "Too many login attempts from your address" in refused.text
    assert "moderation_session" not in refused.headers.get("set-cookie", "")
    # The moderator, from elsewhere, logs in.
    assert log_in(login.client(("198.51.100.30", 1)), "mo", PASSWORD).status_code == 303
    login.clock.advance(6)
    assert log_in(guesser, "mo", PASSWORD).status_code == 303


def test_the_login_limit_ignores_forwarded_for_from_an_untrusted_peer(login: Deployment) -> None:
    guesser = login.client(("203.0.113.66", 1))
    for n in range(10):
        guesser.headers["X-Forwarded-For"] = f"192.0.2.{n + 1}"
        assert log_in(guesser, f"guess{n}", WRONG).status_code == 401
    guesser.headers["X-Forwarded-For"] = "192.0.2.99"
    assert log_in(guesser, "mo", PASSWORD).status_code == 429


def test_the_failed_login_lockout_still_answers_first(login: Deployment) -> None:
    guesser = login.client(("203.0.113.66", 1))
    for _ in range(5):
        assert log_in(guesser, "mo", WRONG).status_code == 401
    for _ in range(10):  # refused by the lockout: these cost no attempt of the rate limit
        locked = log_in(guesser, "mo", PASSWORD)
        assert locked.status_code == 429
        assert "Too many failed logins" in locked.text
    assert log_in(guesser, "ann", WRONG).status_code == 401


def test_redis_down_lets_requests_through(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(
        tmp_path,
        database_url,
        redis_url=DEAD_URL,
        ratelimit_check_key_burst=1,
        ratelimit_check_ip_burst=1,
    )
    with TestClient(create_app(settings), client=BLOG_ADDRESS) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        _, key = store.create_site("blog", "https://blog.example")
        assert [check(client, key).status_code for _ in range(4)] == [201] * 4


@needs_redis
def test_two_instances_on_one_redis_share_an_address_limit(
    tmp_path: Path, database_url: str
) -> None:
    # An address of this run's own: tests run in parallel on one Redis.
    address = (f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1", 1)
    limits: dict[str, object] = {
        "redis_url": REDIS_URL,
        "ratelimit_check_ip_per_second": 0.1,
        "ratelimit_check_ip_burst": 4,
    }
    first = create_app(make_settings(tmp_path, database_url, **{**ALL_OFF, **limits}))
    second_settings = make_settings(
        tmp_path, database_url, migrate_on_start=False, **{**ALL_OFF, **limits}
    )
    with (
        TestClient(first, client=address) as one,
        TestClient(create_app(second_settings), client=address) as two,
    ):
        store: Store = first.state.store
        _, key = store.create_site("blog", "https://blog.example")
        answers = [check(client, key).status_code for _ in range(3) for client in (one, two)]
    assert answers == [201] * 4 + [429] * 2
