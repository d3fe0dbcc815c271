"""The check path's compiled statements store what SQLAlchemy itself would store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from moderation import checking
from moderation.domain import Comment, Decision, Score
from moderation.rules import Facts
from moderation.schema import comments
from moderation.store import Store, StoreError
from moderation.store_prepared import Prepared, execute_on_driver

T0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


def stored(store: Store, comment: Comment, at: datetime) -> str:
    site = store.get_site("blog")

    def decide(facts: Facts) -> Decision:
        return checking.judge(comment, site.policy, facts, Score(0.1))

    return store.check_and_save(site, comment, decide, model_version="t", now=at).id


def test_times_compare_and_order_with_what_sqlalchemy_binds(store: Store) -> None:
    store.create_site("blog")
    ids = [
        stored(store, Comment(content=f"Comment {i}", author_email=f"a{i}@example.org",
                              author_name="A", post_id="p"), T0 + timedelta(seconds=i))
        for i in range(3)
    ]  # fmt: skip
    with store.reading() as conn:
        later = conn.execute(
            select(comments.c.id, comments.c.created_at)
            .where(comments.c.created_at >= T0 + timedelta(seconds=1))
            .order_by(comments.c.created_at)
        ).all()
    assert [r.id for r in later] == ids[1:]
    # The queue's keyset cursor looks times up by equality.
    with store.reading() as conn:
        same = conn.execute(select(comments.c.id).where(comments.c.created_at == T0)).all()
    assert [r.id for r in same] == ids[:1]
    # Read back through SQLAlchemy, to the microsecond.
    assert [r.created_at.replace(tzinfo=UTC) for r in later] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]


def test_flags_and_numbers_read_back_as_stored(store: Store) -> None:
    store.create_site("blog")
    comment_id = stored(
        store,
        Comment(content="Ünïcödé 🙂 'quotes' \"and\" %s %(x)s ?", author_name="Zoë",
                author_email="zoe@example.org", post_id="p", external_id="ext-1"),
        T0,
    )  # fmt: skip
    with store.reading() as conn:
        row = conn.execute(select(comments).where(comments.c.id == comment_id)).one()
    assert row.content == "Ünïcödé 🙂 'quotes' \"and\" %s %(x)s ?"
    assert row.author_name == "Zoë"
    assert row.is_test is False
    assert row.discard is False
    assert row.spam_probability == pytest.approx(0.1)
    assert row.external_id == "ext-1"


def test_a_statement_with_an_expanding_list_is_refused(store: Store) -> None:
    statement = select(comments.c.id).where(comments.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        Prepared(statement, store.engine.dialect)


def test_inserts_that_end_a_transaction_commit_it_or_roll_it_back_whole(store: Store) -> None:
    table = Table("prepared_probe", MetaData(), Column("id", Integer, primary_key=True))
    table.create(store.engine)
    statement = Prepared(insert(table), store.engine.dialect)
    with store.writing() as conn:
        statement.execute(conn, {"id": 1})
        statement.execute_many_and_commit(conn, [{"id": 2}, {"id": 3}])

    def taken() -> None:
        with store.writing() as conn:
            statement.execute(conn, {"id": 4})
            statement.execute_many_and_commit(conn, [{"id": 5}, {"id": 1}])  # 1 is taken

    with pytest.raises(IntegrityError):
        taken()
    with store.writing() as conn:  # the pool's connections go on after the failure
        statement.execute_many_and_commit(conn, [{"id": 6}])
    with store.reading() as conn:
        ids = conn.execute(select(table.c.id).order_by(table.c.id)).scalars().all()
    assert ids == [1, 2, 3, 6]


def test_a_single_statement_binds_its_one_value_and_raises_driver_errors_as_sqlalchemy(
    store: Store,
) -> None:
    table = Table("prepared_single", MetaData(), Column("id", Integer, primary_key=True))
    table.create(store.engine)
    statement = Prepared(insert(table), store.engine.dialect)
    with store.writing() as conn:
        statement.execute(conn, {"id": 7})
    with pytest.raises(IntegrityError), store.writing() as conn:
        statement.execute(conn, {"id": 7})
    with store.reading() as conn:
        assert conn.execute(select(table.c.id)).scalars().all() == [7]


def test_a_statement_run_on_the_driver_raises_its_errors_as_sqlalchemy(store: Store) -> None:
    with pytest.raises(StoreError, match="database error") as raised, store.writing() as conn:
        execute_on_driver(conn, "SELEC 1")
    cause = raised.value.__cause__
    assert isinstance(cause, DBAPIError)
    assert isinstance(cause.orig, store.engine.dialect.loaded_dbapi.Error)
    with store.writing() as conn:  # the connection goes on after the failure
        execute_on_driver(conn, "SELECT 1")
