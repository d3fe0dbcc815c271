"""Failed web logins, kept in the database so that every instance counts the same failures."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, func, insert, or_, select

from moderation.login_guard import FailureTally
from moderation.schema import login_failures
from moderation.store import Store


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: every stored time is UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LoginFailures:
    """Record, count and clear failed logins by name key and client address key."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _tally(self, condition: ColumnElement[bool], since: datetime) -> FailureTally:
        query = select(func.count(), func.max(login_failures.c.created_at)).where(
            condition, login_failures.c.created_at >= since
        )
        with self.store.reading() as conn:
            count, latest = conn.execute(query).one()
        return FailureTally(int(count), _utc(latest))

    def tally(
        self, name_key: str, ip: str, *, since: datetime
    ) -> tuple[FailureTally, FailureTally]:
        """The failures since `since` for this name key and for this address key."""
        return (
            self._tally(login_failures.c.name_key == name_key, since),
            self._tally(login_failures.c.ip == ip, since),
        )

    def record(self, name_key: str, ip: str, *, now: datetime, forget_before: datetime) -> None:
        """Record a failure at `now`; this name's and address's rows before `forget_before` go."""
        with self.store.writing() as conn:
            conn.execute(
                delete(login_failures).where(
                    or_(login_failures.c.name_key == name_key, login_failures.c.ip == ip),
                    login_failures.c.created_at < forget_before,
                )
            )
            conn.execute(insert(login_failures).values(name_key=name_key, ip=ip, created_at=now))

    def clear(self, name_key: str) -> None:
        """Forget every failure of this name key (after a successful login)."""
        with self.store.writing() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.name_key == name_key))
