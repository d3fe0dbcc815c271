"""Core statements compiled once and run on the driver's cursor: the check path's hot queries.

A check runs two statements (its facts, its insert) in the writer's transaction. Through
`Connection.execute` each costs about as much Python again as the database's own work:
SQLAlchemy builds the parameters, runs the type processors and wraps the result on every call.
Compiling once per dialect and keeping the type processors turns that into a dictionary merge
and one driver call, while the SQL and the conversions stay the ones SQLAlchemy writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

_Read = TypeVar("_Read")


class Prepared:
    """One statement compiled for one dialect, with its defaults and bind processors."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding parameters are compiled per call: use Connection.execute")
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: Sequence[str] = tuple(compiled.positiontup or ()) or tuple(compiled.binds)
        # Values written into the statement itself (a status compared with, a LIMIT) are bound
        # parameters too; callers supply only the rest.
        self.defaults = {
            name: bind.value
            for name, bind in compiled.binds.items()
            if not bind.required and not callable(bind.value)
        }
        processors = []
        for name, bind in compiled.binds.items():
            # The dialect's own type (SQLite's DATETIME writes text): the generic type has none.
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((name, processor))
        self.processors: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(processors)
        # The driver's positional parameters picked in C: a check binds about 65 of them (39
        # for its facts, 26 for its insert), where a generator costs a Python step per name.
        self._in_order: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            itemgetter(*self.names) if len(self.names) > 1 else _picker(self.names)
        )
        selected = getattr(statement, "selected_columns", None)
        self.columns: tuple[str, ...] = tuple(selected.keys()) if selected is not None else ()

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for `values`: defaults added, types converted."""
        merged = {**self.defaults, **values}
        for name, processor in self.processors:
            merged[name] = processor(merged[name])
        if self.positional:
            return self._in_order(merged)
        return merged

    def run(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Execute on `conn`'s driver connection (inside its transaction); return the cursor."""
        cursor = conn.connection.cursor()
        _execute(conn, cursor, self.sql, self.parameters(values))
        return cursor

    def row_of(self, cursor: Any) -> dict[str, Any]:
        """The single row of an executed SELECT's cursor, by column name; closes the cursor."""
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            raise LookupError("the statement returned no row")
        return dict(zip(self.columns, row, strict=True))

    def rows_of(self, cursor: Any) -> list[dict[str, Any]]:
        """Every row of an executed SELECT's cursor, by column name; closes the cursor."""
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [dict(zip(self.columns, row, strict=True)) for row in rows]

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """Execute a statement that returns no row."""
        self.run(conn, values).close()

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute a statement that returns no row once per row of values, in one driver call
        (psycopg sends them all before reading any answer)."""
        if not rows:
            return
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql):
                parameters: Any = [self.parameters(values) for values in rows]
                cursor.executemany(self.sql, parameters)
        finally:
            cursor.close()

    def execute_many_and_commit(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """`execute_many`, then commit `conn`'s transaction: on psycopg in one pipeline, one
        round trip instead of two. Elsewhere the transaction commits as usual when it ends.

        Only as the transaction's last statement: the commit SQLAlchemy sends when the
        transaction ends then finds nothing to commit, which the drivers let pass.
        """
        driver = conn.connection.driver_connection
        pipeline = getattr(driver, "pipeline", None)
        if driver is None or pipeline is None:
            self.execute_many(conn, rows)
            return
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql), pipeline():
                if rows:
                    parameters: Any = [self.parameters(values) for values in rows]
                    cursor.executemany(self.sql, parameters)
                driver.commit()
        finally:
            cursor.close()


def _picker(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    # itemgetter of one name returns the bare value, not a 1-tuple.
    return lambda merged: tuple(merged[name] for name in names)


@contextmanager
def _as_sqlalchemy_errors(conn: Connection, sql: str) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError and all), as callers
    written for `Connection.execute` expect."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(sql, exc, conn) from exc


def execute_on_driver(conn: Connection, sql: str) -> None:
    """Run `sql` (no parameters, no rows: a BEGIN, say) on `conn`'s driver connection, its
    errors raised as SQLAlchemy's.

    `Connection.exec_driver_sql` builds an execution context and a result around it, a quarter
    of the cost of an empty write transaction. And where it is needed most, in a "begin" event
    hook, SQLAlchemy does not wrap what the hook raises: a locked database would escape as the
    driver's own error instead of the `DBAPIError` callers handle.
    """
    cursor = conn.connection.cursor()
    try:
        _execute(conn, cursor, sql)
    finally:
        cursor.close()


def _execute(conn: Connection, cursor: Any, sql: str, *parameters: Any) -> None:
    # Not _as_sqlalchemy_errors: a generator-based context per statement costs more than the
    # statement's own Python, and every check runs a statement or two through here.
    try:
        cursor.execute(sql, *parameters)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(sql, exc, conn) from exc


def _as_sqlalchemy_error(sql: str, error: Exception, conn: Connection) -> StatementError:
    return DBAPIError.instance(sql, None, error, conn.dialect.loaded_dbapi.Error)


def run_all(
    conn: Connection, statements: Sequence[tuple[Prepared, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The single row of each SELECT, in order. On psycopg they are sent in one pipeline: one
    round trip to the server for all of them instead of one each."""
    return _run_all(conn, statements, Prepared.row_of)


def run_all_rows(
    conn: Connection, statements: Sequence[tuple[Prepared, Mapping[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """Every row of each SELECT, in order: as `run_all`, in one round trip on psycopg."""
    return _run_all(conn, statements, Prepared.rows_of)


def _run_all(
    conn: Connection,
    statements: Sequence[tuple[Prepared, Mapping[str, Any]]],
    read: Callable[[Prepared, Any], _Read],
) -> list[_Read]:
    driver = conn.connection.driver_connection
    pipeline = getattr(driver, "pipeline", None)
    if pipeline is None or len(statements) < 2:
        return [read(prepared, prepared.run(conn, values)) for prepared, values in statements]
    cursors = []
    with _as_sqlalchemy_errors(conn, "pipeline"), pipeline():
        for prepared, values in statements:
            cursor = conn.connection.cursor()
            cursor.execute(prepared.sql, prepared.parameters(values))
            cursors.append(cursor)
    return [
        read(prepared, cursor) for (prepared, _), cursor in zip(statements, cursors, strict=True)
    ]


class PreparedCache:
    """Prepared statements of one engine, built on first use (a statement per key)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._statements: dict[object, Prepared] = {}

    def get(self, key: object, build: Callable[[], ClauseElement]) -> Prepared:
        """The statement for `key`, compiled from `build()` the first time."""
        prepared = self._statements.get(key)
        if prepared is None:
            prepared = self._statements[key] = Prepared(build(), self.dialect)
        return prepared
