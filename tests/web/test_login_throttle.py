"""Login throttling on the web page: lockouts per name and per address, kept in the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from moderation.app import create_app
from moderation.schema import login_failures
from moderation.store import Store
from moderation.store_accounts import Accounts
from moderation.store_login import LoginFailures
from moderation.store_retention import purge
from tests.conftest import Service, make_settings
from tests.web.helpers import PASSWORD, add_moderator, log_in

WRONG = "not the password"


def assert_locked(answer: Response) -> int:
    """The answer is the lockout: 429, a Retry-After in seconds, the generic message, no session."""
    assert answer.status_code == 429
    retry_after = int(answer.headers["retry-after"])
    assert 1 <= retry_after <= 15 * 60
    assert "Too many failed logins" in answer.text
    assert "moderation_session" not in answer.headers.get("set-cookie", "")
    return retry_after


@pytest.fixture
def checked(service: Service, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names whose password the login checked, in order."""
    calls: list[str] = []
    real = Accounts.authenticate

    def counting(self: Accounts, name: str, password: str) -> object:
        calls.append(name)
        return real(self, name, password)

    monkeypatch.setattr(Accounts, "authenticate", counting)
    return calls


def test_five_wrong_passwords_lock_the_name_even_against_the_right_one(
    service: Service, checked: list[str]
) -> None:
    add_moderator(service)
    for _ in range(5):
        assert log_in(service.client, "mo", WRONG).status_code == 401
    assert len(checked) == 5
    assert assert_locked(log_in(service.client, "mo", PASSWORD)) <= 60
    # The name is folded: another spelling is the same account and the same lockout.
    assert_locked(log_in(service.client, " MO ", PASSWORD))
    assert len(checked) == 5  # no password was checked while locked out


def test_the_lockout_ends_and_grows_with_further_failures(service: Service) -> None:
    add_moderator(service)
    for _ in range(5):
        log_in(service.client, "mo", WRONG)
    assert assert_locked(log_in(service.client, "mo", PASSWORD)) <= 60
    age_failures(service.store, seconds=61)
    assert log_in(service.client, "mo", WRONG).status_code == 401  # allowed again: one more try
    assert 60 < assert_locked(log_in(service.client, "mo", PASSWORD)) <= 120
    age_failures(service.store, seconds=121)
    assert log_in(service.client, "mo", PASSWORD).status_code == 303


def test_another_name_from_the_same_address_works_until_the_address_limit(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, login_ip_failures=8)
    with TestClient(create_app(settings)) as client:
        store: Store = client.app.state.store  # type: ignore[attr-defined]
        Accounts(store).create_moderator("mo", password=PASSWORD)
        Accounts(store).create_moderator("ann", password=PASSWORD)
        for _ in range(5):
            log_in(client, "mo", WRONG)
        assert_locked(log_in(client, "mo", PASSWORD))
        assert log_in(client, "ann", PASSWORD).status_code == 303
        client.cookies.clear()  # logged out again
        for n in range(3):
            assert log_in(client, f"guess{n}", WRONG).status_code == 401
        # Eight failures from this address, over several names: everyone here waits.
        assert_locked(log_in(client, "ann", PASSWORD))
        assert_locked(log_in(client, "someone-new", WRONG))


def test_a_successful_login_clears_the_names_failures(service: Service) -> None:
    add_moderator(service)
    for _ in range(4):
        assert log_in(service.client, "mo", WRONG).status_code == 401
    assert log_in(service.client, "mo", PASSWORD).status_code == 303
    service.client.cookies.clear()  # logged out again
    for _ in range(4):
        assert log_in(service.client, "mo", WRONG).status_code == 401
    assert log_in(service.client, "mo", PASSWORD).status_code == 303


def test_every_instance_sees_the_same_failures(
    service: Service, tmp_path: Path, database_url: str
) -> None:
    add_moderator(service)
    for _ in range(5):
        log_in(service.client, "mo", WRONG)
    settings = make_settings(tmp_path, database_url, migrate_on_start=False)
    with TestClient(create_app(settings)) as other:
        assert_locked(log_in(other, "mo", PASSWORD))


@pytest.fixture
def proxied(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two clients of one app trusting 10.0.0.0/8: one behind a proxy there, one direct."""
    settings = make_settings(
        tmp_path, database_url, trusted_proxies="10.0.0.0/8", login_ip_failures=3
    )
    app = create_app(settings)
    with (
        TestClient(app, client=("10.0.0.1", 40000)) as behind_proxy,
        TestClient(app, client=("203.0.113.5", 40000)) as direct,
    ):
        Accounts(app.state.store).create_moderator("mo", password=PASSWORD)
        yield behind_proxy, direct


def test_forwarded_for_is_honoured_from_a_trusted_proxy(
    proxied: tuple[TestClient, TestClient],
) -> None:
    client, _ = proxied
    for n in range(3):
        client.headers["X-Forwarded-For"] = "198.51.100.1"
        assert log_in(client, f"guess{n}", WRONG).status_code == 401
    assert_locked(log_in(client, "mo", PASSWORD))
    client.headers["X-Forwarded-For"] = "198.51.100.2"  # another reader behind the same proxy
    assert log_in(client, "mo", PASSWORD).status_code == 303


def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    proxied: tuple[TestClient, TestClient],
) -> None:
    _, client = proxied
    for n in range(3):
        client.headers["X-Forwarded-For"] = f"198.51.100.{n + 1}"
        assert log_in(client, f"guess{n}", WRONG).status_code == 401
    client.headers["X-Forwarded-For"] = "198.51.100.99"
    assert_locked(log_in(client, "mo", PASSWORD))


def test_a_purge_removes_old_failures_only(service: Service) -> None:
    failures = LoginFailures(service.store)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=2)
    failures.record("old", "198.51.100.1", now=long_ago, forget_before=long_ago)
    failures.record("new", "198.51.100.1", now=now, forget_before=long_ago)
    assert purge(service.store, now=now, dry_run=True).login_failures == 1
    report = purge(service.store, now=now)
    assert report.login_failures == 1
    with service.store.reading() as conn:
        left = conn.execute(select(login_failures.c.name_key)).scalars().all()
    assert left == ["new"]


def age_failures(store: Store, *, seconds: int) -> None:
    """Move every recorded failure `seconds` into the past, as if that time had gone by."""
    # Row by row in Python: SQLite has no arithmetic on its stored datetimes.
    with store.writing() as conn:
        rows = conn.execute(select(login_failures.c.id, login_failures.c.created_at)).all()
        for row in rows:
            conn.execute(
                update(login_failures)
                .where(login_failures.c.id == row.id)
                .values(created_at=row.created_at - timedelta(seconds=seconds))
            )
