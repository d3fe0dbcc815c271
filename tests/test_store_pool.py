"""PostgreSQL's pooled connections: pinged only after sitting idle, replaced when cut."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from moderation.store import make_engine
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _cut(pid: int) -> None:
    """What a server restart or a proxy's idle timeout does to a pooled connection."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()


def _counting_pings(engine: Engine) -> list[Any]:
    pings: list[Any] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return ping(dbapi_conn)

    engine.dialect.do_ping = counted  # type: ignore[method-assign,assignment]
    return pings


def test_a_connection_in_steady_use_is_not_pinged(pg_url: str) -> None:
    engine = make_engine(pg_url, ping_after_idle=60.0)
    pings = _counting_pings(engine)
    first = _backend(engine)
    assert [_backend(engine) for _ in range(20)] == [first] * 20
    assert pings == []  # a round trip saved on every checkout
    engine.dispose()


def test_a_connection_cut_while_idle_is_replaced_before_anyone_uses_it(pg_url: str) -> None:
    engine = make_engine(pg_url, ping_after_idle=0.05)
    pings = _counting_pings(engine)
    cut = _backend(engine)
    _cut(cut)
    time.sleep(0.2)
    assert _backend(engine) != cut  # no error: the dead connection was pinged and replaced
    assert len(pings) == 1
    engine.dispose()


def test_a_connection_cut_while_in_steady_use_fails_once_then_the_pool_recovers(
    pg_url: str,
) -> None:
    engine = make_engine(pg_url, ping_after_idle=60.0)
    cut = _backend(engine)
    _cut(cut)
    with pytest.raises(DBAPIError) as failed:
        _backend(engine)
    assert failed.value.connection_invalidated
    assert _backend(engine) != cut
    engine.dispose()
