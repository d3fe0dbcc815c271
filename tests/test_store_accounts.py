"""Moderator accounts in the store, on SQLite and PostgreSQL: logins, grants, tokens, sessions."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from moderation.passwords import verify_password
from moderation.schema import moderator_sessions, moderator_tokens, moderators
from moderation.store import (
    ConflictError,
    NotFoundError,
    Store,
    StoreError,
    make_engine,
    migrate,
)
from moderation.store_accounts import AccountInputError, Accounts

PASSWORD = "correct horse battery"
HOUR = timedelta(hours=1)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    migrate(engine)
    store = Store(engine)
    store.create_site("blog", "https://blog.example")
    store.create_site("news", "https://news.example")
    yield store
    engine.dispose()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store)


@pytest.fixture
def other_instance(database_url: str, store: Store) -> Iterator[Accounts]:
    """The same database seen from a second service instance (its own engine)."""
    engine = make_engine(database_url)
    yield Accounts(Store(engine))
    engine.dispose()


def site_id(store: Store, name: str) -> int:
    return store.get_site(name).id


# Creating and logging in


def test_a_moderator_logs_in_with_their_password_and_sees_only_their_sites(
    accounts: Accounts, store: Store
) -> None:
    created = accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    moderator = accounts.authenticate("camille", PASSWORD)
    assert moderator == created
    assert moderator is not None
    assert moderator.name == "camille"
    assert not moderator.is_admin
    assert moderator.can_see(site_id(store, "blog"))
    assert not moderator.can_see(site_id(store, "news"))


def test_the_password_is_stored_as_a_slow_salted_hash(accounts: Accounts, store: Store) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    with store.reading() as conn:
        stored = conn.execute(select(moderators.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_wrong_password_unknown_name_and_disabled_account_do_not_log_in(
    accounts: Accounts,
) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    assert accounts.authenticate("camille", PASSWORD + "!") is None
    assert accounts.authenticate("camille", "") is None
    assert accounts.authenticate("Camille", PASSWORD) is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    assert accounts.authenticate("camille", "x" * 100_000) is None
    for odd in ("a\x00b", "\ud800", "", "x" * 300):
        assert accounts.authenticate(odd, PASSWORD) is None
        with pytest.raises(NotFoundError):
            accounts.get(odd)
    accounts.disable("camille")
    assert accounts.authenticate("camille", PASSWORD) is None
    accounts.enable("camille")
    assert accounts.authenticate("camille", PASSWORD) is not None


@pytest.mark.real_password_hash
def test_an_unknown_name_takes_as_long_as_a_wrong_password(accounts: Accounts) -> None:
    # A guesser must not learn which names exist from how fast a login fails.
    accounts.create_moderator("camille", password=PASSWORD)
    accounts.authenticate("nobody", PASSWORD)  # the dummy hash is made once, on first use

    def median_seconds(name: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            assert accounts.authenticate(name, "wrong password") is None
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    known, unknown = median_seconds("camille"), median_seconds("nobody")
    assert unknown > 0.5 * known
    assert known > 0.005  # a slow hash, not a fast one


@pytest.mark.real_password_hash
def test_a_hash_with_old_parameters_is_upgraded_on_login(accounts: Accounts, store: Store) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with store.writing() as conn:
        conn.execute(moderators.update().values(password_hash=weak))
    assert accounts.authenticate("camille", PASSWORD) is not None
    with store.reading() as conn:
        stored = conn.execute(select(moderators.c.password_hash)).scalar_one()
    assert stored != weak
    assert "m=65536" in stored
    assert verify_password(stored, PASSWORD)
    assert accounts.authenticate("camille", PASSWORD) is not None


def test_a_taken_name_is_a_conflict(accounts: Accounts) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    with pytest.raises(ConflictError, match="already exists"):
        accounts.create_moderator("camille", password="another password")
    assert accounts.authenticate("camille", PASSWORD) is not None


def test_an_unknown_site_creates_nothing(accounts: Accounts) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        accounts.create_moderator("camille", password=PASSWORD, sites=["blog", "nope"])
    assert accounts.list_moderators() == []
    with pytest.raises(NotFoundError):
        accounts.get("camille")


@pytest.mark.parametrize("name", ["", " camille", "camille ", "tab\there", "x" * 201, "a\x00b"])
def test_unacceptable_names_are_refused(accounts: Accounts, name: str) -> None:
    with pytest.raises(AccountInputError, match="name"):
        accounts.create_moderator(name, password=PASSWORD)


def test_unacceptable_passwords_are_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountInputError, match="at least 10"):
        accounts.create_moderator("camille", password="short")
    accounts.create_moderator("camille", password=PASSWORD)
    with pytest.raises(AccountInputError, match="NUL"):
        accounts.set_password("camille", "with a \x00 in it")
    assert accounts.authenticate("camille", PASSWORD) is not None


def test_a_new_password_replaces_the_old_and_ends_the_sessions(accounts: Accounts) -> None:
    moderator = accounts.create_moderator("camille", password=PASSWORD)
    session_id, _ = accounts.create_session(moderator.id, ttl=HOUR)
    token = accounts.create_token("camille")
    accounts.set_password("camille", "a brand new password")
    assert accounts.authenticate("camille", PASSWORD) is None
    assert accounts.authenticate("camille", "a brand new password") is not None
    assert accounts.session(session_id) is None
    assert accounts.moderator_for_token(token) is not None
    with pytest.raises(NotFoundError):
        accounts.set_password("nobody", "a brand new password")


# Grants and roles


def test_grants_take_effect_at_once_on_every_instance(
    accounts: Accounts, other_instance: Accounts, store: Store
) -> None:
    blog, news = site_id(store, "blog"), site_id(store, "news")
    moderator = accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    token = accounts.create_token("camille")
    session_id, _ = accounts.create_session(moderator.id, ttl=HOUR)
    assert other_instance.moderator_for_token(token) is not None  # a lookup before the change

    assert accounts.grant("camille", ["news", "blog"]) == 1
    by_token = other_instance.moderator_for_token(token)
    assert by_token is not None
    assert by_token.can_see(news)
    found = other_instance.session(session_id)
    assert found is not None
    assert found[0].can_see(news)

    assert accounts.revoke_grant("camille", ["blog"]) == 1
    by_token = other_instance.moderator_for_token(token)
    assert by_token is not None
    assert not by_token.can_see(blog)
    assert by_token.can_see(news)
    found = other_instance.session(session_id)
    assert found is not None
    assert not found[0].can_see(blog)
    assert accounts.revoke_grant("camille", ["blog"]) == 0


def test_granting_an_unknown_site_or_moderator_changes_nothing(accounts: Accounts) -> None:
    accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    with pytest.raises(NotFoundError, match="nope"):
        accounts.grant("camille", ["news", "nope"])
    with pytest.raises(NotFoundError, match="nobody"):
        accounts.grant("nobody", ["news"])
    assert accounts.list_moderators()[0][1] == ["blog"]


def test_an_admin_sees_every_site_including_new_ones(accounts: Accounts, store: Store) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    accounts.set_admin("camille", True)
    site, _ = store.create_site("later")
    moderator = accounts.get("camille")
    assert moderator.is_admin
    assert moderator.can_see(site.id)
    accounts.set_admin("camille", False)
    assert not accounts.get("camille").can_see(site.id)


def test_the_listing_names_each_moderators_sites(accounts: Accounts) -> None:
    accounts.create_moderator("sam", password=PASSWORD, sites=["news", "blog"])
    accounts.create_moderator("ada", password=PASSWORD, admin=True)
    accounts.disable("ada")
    listing = accounts.list_moderators()
    assert [(m.name, m.is_admin, sites) for m, sites in listing] == [
        ("ada", True, []),
        ("sam", False, ["blog", "news"]),
    ]
    assert [s.disabled for s in accounts.summaries()] == [True, False]
    assert accounts.get_by_id(listing[1][0].id) == listing[1][0]
    with pytest.raises(NotFoundError):
        accounts.get_by_id(9999)


# API tokens


def test_a_token_names_its_moderator_until_revoked(accounts: Accounts, store: Store) -> None:
    accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    token = accounts.create_token("camille", label="laptop")
    assert token.startswith("mt_")
    assert len(token) > 40
    moderator = accounts.moderator_for_token(token)
    assert moderator is not None
    assert moderator.name == "camille"
    with store.reading() as conn:
        row = conn.execute(select(moderator_tokens)).one()
    assert token not in (row.token_hash, row.prefix)
    [info] = accounts.tokens("camille")
    assert (info.prefix, info.label, info.revoked_at) == (token[:10], "laptop", None)
    assert info.last_used_at is not None

    assert accounts.revoke_token(info.prefix) == 1
    assert accounts.moderator_for_token(token) is None
    assert accounts.tokens("camille")[0].revoked_at is not None
    assert accounts.revoke_token(info.prefix) == 0


def test_a_token_is_revoked_by_id_or_by_value(accounts: Accounts) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    first, second = accounts.create_token("camille"), accounts.create_token("camille")
    ids = [info.id for info in accounts.tokens("camille")]
    assert accounts.revoke_token(str(ids[0])) == 1
    assert accounts.moderator_for_token(first) is None
    assert accounts.moderator_for_token(second) is not None
    assert accounts.revoke_token(second) == 1
    assert accounts.moderator_for_token(second) is None
    assert accounts.revoke_token(str(2**40)) == 0
    assert accounts.revoke_token(0) == 0
    with pytest.raises(AccountInputError, match="prefix"):
        accounts.revoke_token("mt_ab")
    with pytest.raises(AccountInputError, match="prefix"):
        accounts.revoke_token("²")


def test_a_moderator_revokes_only_their_own_tokens(accounts: Accounts) -> None:
    camille = accounts.create_moderator("camille", password=PASSWORD)
    sam = accounts.create_moderator("sam", password=PASSWORD)
    token = accounts.create_token("camille")
    prefix = accounts.tokens("camille")[0].prefix
    assert accounts.revoke_token(prefix, moderator_id=sam.id) == 0
    assert accounts.moderator_for_token(token) is not None
    assert accounts.revoke_token(prefix, moderator_id=camille.id) == 1
    assert accounts.moderator_for_token(token) is None


def test_disabling_revokes_tokens_for_good(accounts: Accounts) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    token = accounts.create_token("camille")
    accounts.disable("camille")
    assert accounts.moderator_for_token(token) is None
    with pytest.raises(AccountInputError, match="disabled"):
        accounts.create_token("camille")
    accounts.enable("camille")
    assert accounts.moderator_for_token(token) is None
    assert accounts.moderator_for_token(accounts.create_token("camille")) is not None


@pytest.mark.parametrize(
    "value", ["", "mt_", "mt_" + "A" * 43, "mod_" + "A" * 43, "0123456789ab", "x" * 5000]
)
def test_anything_but_a_live_token_names_no_one(accounts: Accounts, value: str) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    accounts.create_token("camille")
    assert accounts.moderator_for_token(value) is None


def test_last_use_is_written_at_most_once_a_minute(accounts: Accounts, store: Store) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    token = accounts.create_token("camille")
    assert accounts.tokens("camille")[0].last_used_at is None
    accounts.moderator_for_token(token)
    first = accounts.tokens("camille")[0].last_used_at
    assert first is not None
    accounts.moderator_for_token(token)
    assert accounts.tokens("camille")[0].last_used_at == first
    earlier = datetime.now(UTC) - timedelta(minutes=2)
    with store.writing() as conn:
        conn.execute(moderator_tokens.update().values(last_used_at=earlier))
    accounts.moderator_for_token(token)
    latest = accounts.tokens("camille")[0].last_used_at
    assert latest is not None
    assert latest > earlier + timedelta(minutes=1)


# Web sessions


def test_a_session_lasts_its_time_to_live(accounts: Accounts, store: Store) -> None:
    moderator = accounts.create_moderator("camille", password=PASSWORD, sites=["blog"])
    now = datetime.now(UTC)
    session_id, csrf = accounts.create_session(moderator.id, ttl=HOUR, now=now)
    assert session_id != csrf
    assert accounts.session(session_id) == (moderator, csrf)
    assert accounts.session(session_id, now=now + HOUR - timedelta(seconds=1)) is not None
    assert accounts.session(session_id, now=now + HOUR + timedelta(seconds=1)) is None
    assert accounts.session(session_id + "x") is None
    assert accounts.session("") is None
    with store.reading() as conn:
        row = conn.execute(select(moderator_sessions)).one()
    assert row.id_hash != session_id
    assert session_id not in row.id_hash


def test_logging_out_ends_only_that_session(accounts: Accounts) -> None:
    moderator = accounts.create_moderator("camille", password=PASSWORD)
    laptop, _ = accounts.create_session(moderator.id, ttl=HOUR)
    phone, _ = accounts.create_session(moderator.id, ttl=HOUR)
    accounts.end_session(laptop)
    accounts.end_session(laptop)  # twice is harmless
    assert accounts.session(laptop) is None
    assert accounts.session(phone) is not None
    assert accounts.end_sessions(moderator.id) == 1
    assert accounts.session(phone) is None


def test_disabling_ends_sessions_and_refuses_new_ones(accounts: Accounts) -> None:
    moderator = accounts.create_moderator("camille", password=PASSWORD)
    session_id, _ = accounts.create_session(moderator.id, ttl=HOUR)
    accounts.disable("camille")
    assert accounts.session(session_id) is None
    with pytest.raises(AccountInputError, match="disabled"):
        accounts.create_session(moderator.id, ttl=HOUR)
    with pytest.raises(NotFoundError):
        accounts.create_session(9999, ttl=HOUR)


def test_expired_sessions_are_purged(accounts: Accounts) -> None:
    moderator = accounts.create_moderator("camille", password=PASSWORD)
    now = datetime.now(UTC)
    old, _ = accounts.create_session(moderator.id, ttl=timedelta(minutes=5), now=now)
    fresh, _ = accounts.create_session(moderator.id, ttl=HOUR, now=now)
    assert accounts.purge_expired_sessions(now + timedelta(minutes=10)) == 1
    assert accounts.purge_expired_sessions(now + timedelta(minutes=10)) == 0
    assert accounts.session(old, now=now) is None
    assert accounts.session(fresh, now=now) is not None


def test_a_failed_last_use_write_does_not_refuse_the_token(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.create_moderator("camille", password=PASSWORD)
    token = accounts.create_token("camille")

    def fail(token_id: int, now: datetime) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(accounts, "_mark_used", fail)
    moderator = accounts.moderator_for_token(token)
    assert moderator is not None
    assert moderator.name == "camille"
