"""The storage layer: every database access goes through here, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from importlib import resources
from itertools import chain, islice
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    column,
    create_engine,
    event,
    false,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.pool import NullPool

from moderation import store_facts
from moderation.domain import (
    Comment,
    CommentStatus,
    Decision,
    Evidence,
    Label,
    ModerationAction,
    Reason,
    ReasonCode,
    Verdict,
)
from moderation.erasure import address_key, email_keys, erase_address
from moderation.ids import time_ordered_id
from moderation.links import link_domains
from moderation.policy import SitePolicy
from moderation.publishing import StoredComment
from moderation.queue import domains_to_look_up
from moderation.rules import Facts
from moderation.schema import (
    comments,
    labelled_samples,
    site_keys,
    site_publishing,
    sites,
)
from moderation.settings import Settings
from moderation.store_prepared import (
    Prepared,
    PreparedCache,
    execute_on_driver,
    run_all,
    run_all_rows,
)
from moderation.store_wal import WAL_SIZE_LIMIT
from moderation.textnorm import fold
from moderation.writelock import WriteLock

KEY_PREFIX = "mod_"
_KEY_CACHE_SIZE = 10_000


class StoreError(Exception):
    """The database refused or could not be reached."""


class NotFoundError(StoreError):
    """No such row (or not visible to the caller)."""


class ConflictError(StoreError):
    """The row would break a uniqueness rule (a site name already taken, say)."""


STATUS_OF_VERDICT = {
    Verdict.APPROVE: CommentStatus.APPROVED,
    Verdict.HOLD: CommentStatus.PENDING,
    Verdict.SPAM: CommentStatus.SPAM,
    Verdict.REJECT: CommentStatus.REJECTED,
}


@dataclass(frozen=True, slots=True)
class Site:
    """A blog that posts comments, with its policy."""

    id: int
    name: str
    url: str
    policy: SitePolicy
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A comment waiting to be judged and stored; `decide` turns the facts into a verdict."""

    site: Site
    comment: Comment
    decide: Callable[[Facts], Decision]
    model_version: str
    now: datetime
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """A checked comment as stored: its id and the decision it was given."""

    id: str
    decision: Decision
    model_version: str
    created_at: datetime
    status: CommentStatus
    replayed: bool = False


def hash_key(key: str) -> str:
    """The stored form of an API key: keys are 256-bit random, so one sha256 suffices."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def email_key(email: str) -> str:
    """The form emails are compared in: folded, trimmed."""
    return fold(email.strip())


def content_hash(content: str) -> str:
    """Hash of the content as compared for duplicates: folded, whitespace collapsed."""
    folded = " ".join(fold(content).split())
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: every stored time is UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def make_engine(
    url: str,
    *,
    synchronous: str = "NORMAL",
    busy_timeout_ms: int = 10_000,
    checkpoint_in_background: bool = False,
    wal_size_limit: int = WAL_SIZE_LIMIT,
    ping_after_idle: float = 1.0,
) -> Engine:
    """An engine for SQLite (WAL, immediate write transactions) or PostgreSQL.

    PostgreSQL: a pooled connection idle for `ping_after_idle` seconds or more is pinged when
    checked out, and replaced if it does not answer.

    `checkpoint_in_background`: SQLite's commits never checkpoint the WAL themselves; a
    `store_wal.Checkpointer` must then run beside the engine (PostgreSQL: no effect).

    `wal_size_limit` (bytes): when the WAL starts over, SQLite cuts its file back to this
    size, so that a burst (or a long reader that kept it from starting over) does not leave
    it that large on disk. Below it, the file is written over rather than grown anew: the
    default (256 MiB) is well above the size at which the checkpointer makes the WAL start
    over (`store_wal`).
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            poolclass=NullPool if path in ("", ":memory:") else None,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Transactions are begun by hand below, so that writers can take the lock up front.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA journal_size_limit={int(wal_size_limit)}")
            if checkpoint_in_background:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A writer that starts deferred and upgrades later can fail with "database is
            # locked" despite the busy timeout; BEGIN IMMEDIATE waits for the lock instead.
            immediate = conn.get_execution_options().get("immediate", False)
            execute_on_driver(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, after: float) -> None:
    """Ping a pooled connection at checkout only once it has been idle `after` seconds.

    `pool_pre_ping` pings at every checkout: a round trip before each batch the writer
    commits, a sixth of its samples at half the check endpoint's peak. A connection given
    back moments ago is as alive as the server; one idle longer may have been cut (a restart,
    a proxy's idle timeout), so it is pinged and, if it does not answer, replaced before
    anyone uses it.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error

    def _idle_from_now(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    # A new connection and one given back are idle from now on.
    event.listen(engine, "connect", _idle_from_now)
    event.listen(engine, "checkin", _idle_from_now)

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < after:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except dbapi_error as exc:
            # The pool discards this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"pooled connection did not answer: {exc}") from exc


_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*[\"']([\w.-]+)[\"']\s*$", re.M)
_DOWN_REVISION = re.compile(
    r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(None|[\"'][\w.-]+[\"'])\s*$", re.M
)


def engine_for(settings: Settings, *, checkpoint_in_background: bool = False) -> Engine:
    """`make_engine` on the configured database, with the configured SQLite settings."""
    return make_engine(
        settings.database_url_value,
        synchronous=settings.sqlite_synchronous,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        checkpoint_in_background=checkpoint_in_background,
    )


def _head_revisions() -> frozenset[str] | None:
    """The revisions no migration builds on, read from the files; None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for entry in (resources.files("moderation") / "migrations" / "versions").iterdir():
        if not entry.name.endswith(".py") or entry.name == "__init__.py":
            continue
        text = entry.read_text(encoding="utf-8")
        revision, parent = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        # A merge (a tuple of parents) or any unusual layout: alembic decides.
        if len(revision) != 1 or len(parent) != 1:
            return None
        revisions.add(revision[0])
        if parent[0] != "None":
            parents.add(parent[0][1:-1])
    heads = revisions - parents
    return frozenset(heads) if heads else None


def _at_head(conn: Connection) -> bool:
    """Whether the database's recorded revisions are the newest: nothing to migrate."""
    heads = _head_revisions()
    if heads is None:
        return False
    try:
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except DBAPIError:
        current = []  # no version table yet: a new database
    conn.rollback()
    return frozenset(current) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run from several instances)."""
    with engine.connect() as conn:
        # Importing alembic and reading every migration costs more than the rest of a start
        # together; a database already at the newest revision needs neither.
        if _at_head(conn):
            return
    # Imported here: most starts (and every command but `migrate`) never need it.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("moderation") / "migrations"))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Several instances starting together: one migrates, the others wait for it.
            conn.exec_driver_sql("SELECT pg_advisory_lock(727274)")
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_unlock(727274)")
                conn.commit()


def _batch_keys(item: PendingCheck, digest: str) -> set[tuple[object, ...]]:
    """What an earlier comment of a batch must share with this one to change its facts or its
    replay: the author's email (flood, duplicate, earlier approval), the address (flood), the
    text on the post (a duplicate by an author without email), the external id."""
    site, comment = item.site.id, item.comment
    email = email_key(comment.author_email)
    keys: set[tuple[object, ...]] = {(site, "d", digest, comment.post_id, email)}
    if email:
        keys.add((site, "e", email))
    if comment.user_ip:
        keys.add((site, "i", comment.user_ip))
    if comment.external_id:
        keys.add((site, "x", comment.external_id))
    return keys


def _judged(item: PendingCheck, digest: str, facts: Facts) -> tuple[StoredCheck, dict[str, Any]]:
    """The decision on a comment given its facts: as answered, and as its row to insert."""
    site, comment, now = item.site, item.comment, item.now
    decision = item.decide(facts)
    comment_id = time_ordered_id(now)
    status = STATUS_OF_VERDICT[decision.verdict]
    row = {
        "id": comment_id,
        "site_id": site.id,
        "external_id": comment.external_id or None,
        "post_id": comment.post_id,
        "permalink": comment.permalink,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "author_email": comment.author_email,
        "author_email_key": email_key(comment.author_email),
        "author_url": comment.author_url,
        "content": comment.content,
        "content_hash": digest,
        "user_ip": comment.user_ip,
        "user_agent": comment.user_agent,
        "referrer": comment.referrer,
        "language": comment.language,
        "form_rendered_at": comment.form_rendered_at,
        "created_at": now,
        "status": status.value,
        "verdict": decision.verdict.value,
        "spam_probability": decision.spam_probability,
        "discard": decision.discard,
        "reasons": json.dumps(
            [{"code": r.code.value, "message": r.message} for r in decision.reasons]
        ),
        "evidence": json.dumps(
            [{"term": e.term, "weight": round(e.weight, 4)} for e in decision.evidence]
        ),
        "model_version": item.model_version,
        "is_test": item.is_test,
    }
    stored = StoredCheck(
        id=comment_id, decision=decision, model_version=item.model_version, created_at=now,
        status=status,
    )  # fmt: skip
    return stored, row


_INSERT_COLUMNS = (
    "id", "site_id", "external_id", "post_id", "permalink", "parent_id", "author_name",
    "author_email", "author_email_key", "author_url", "content", "content_hash", "user_ip",
    "user_agent", "referrer", "language", "form_rendered_at", "created_at", "status", "verdict",
    "spam_probability", "discard", "reasons", "evidence", "model_version", "is_test",
)  # fmt: skip
_INSERT = insert(comments).values(
    {name: bindparam(name, type_=comments.c[name].type) for name in _INSERT_COLUMNS}
)


def _insert_all() -> Any:
    """PostgreSQL: insert a batch's rows in one statement, from one JSON parameter (binds
    `rows`), as `store_facts.batch_statement` asks their facts: one statement instead of one
    per row, which psycopg's Python and the server each pay for. An over-long value is
    refused as by the row-by-row insert (a test holds it), never cut.
    """
    rows = (
        func.json_to_recordset(bindparam("rows", type_=JSON()))
        .table_valued(*(column(name, comments.c[name].type) for name in _INSERT_COLUMNS))
        .render_derived(name="checked", with_types=True)
    )
    return insert(comments).from_select(
        _INSERT_COLUMNS, select(*(rows.c[name] for name in _INSERT_COLUMNS)).select_from(rows)
    )


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row to insert as `_insert_all` reads it: times as ISO 8601, with their offset."""
    rendered = row["form_rendered_at"]
    return {
        **row,
        "created_at": row["created_at"].isoformat(),
        "form_rendered_at": None if rendered is None else rendered.isoformat(),
    }


# One round trip for every lock of a batch, taken in ascending order (the subquery's ORDER BY
# fixes the order the function runs in) so that two transactions never wait on each other.
_ADVISORY_LOCKS = (
    text(
        "SELECT count(pg_advisory_xact_lock(k)) AS locked"
        " FROM (SELECT unnest(:keys) AS k ORDER BY k) AS locks"
    )
    .bindparams(bindparam("keys", type_=ARRAY(BigInteger())))
    .columns(column("locked", BigInteger()))
)
_SITE_BY_KEY = (
    select(site_keys.c.key_hash, sites)
    .join(sites, sites.c.id == site_keys.c.site_id)
    .where(site_keys.c.key_hash == bindparam("key_hash"), site_keys.c.revoked_at.is_(None))
)


def _decision_from_row(row: Any) -> Decision:
    reasons = tuple(Reason(ReasonCode(r["code"]), r["message"]) for r in json.loads(row.reasons))
    evidence = tuple(Evidence(e["term"], e["weight"]) for e in json.loads(row.evidence))
    return Decision(
        verdict=Verdict(row.verdict),
        spam_probability=row.spam_probability,
        reasons=reasons,
        discard=row.discard,
        evidence=evidence,
    )


def _lock_key(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _SiteCache:
    """Site lookups (by key hash or token) kept for `seconds`, one database query at a time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, Site | None]] = {}
        self._lock = threading.Lock()

    def peek(self, key: str) -> Site | Literal[False] | None:
        """The fresh cached answer, or False when there is none."""
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.seconds:
            return entry[1]
        return False

    def get(self, key: str, fetch: Callable[[], Site | None]) -> Site | None:
        """The cached answer, else `fetch()`'s, which is then kept."""
        found = self.peek(key)
        if found is not False:
            return found
        # One lookup at a time: when an entry expires under load, the requests that find it
        # stale wait for one query instead of each opening a connection for the same row.
        with self._lock:
            found = self.peek(key)
            if found is not False:
                return found
            site = fetch()
            if len(self._entries) >= _KEY_CACHE_SIZE:
                self._entries.clear()  # a flood of unknown keys must not grow memory
            self._entries[key] = (time.monotonic(), site)
            return site

    def clear(self) -> None:
        """Forget every answer (after a key, token or site changed)."""
        self._entries.clear()


class Store:
    """Sites, keys and checked comments."""

    def __init__(self, engine: Engine, *, key_cache_seconds: float = 2.0) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        database = engine.url.database if self.dialect == "sqlite" else None
        # The writers' queue on this host (None: an in-memory database, one connection).
        self.write_lock = (
            WriteLock(Path(f"{database}.writelock"))
            if database and database != ":memory:"
            else None
        )
        self.key_cache_seconds = key_cache_seconds
        self._key_cache = _SiteCache(key_cache_seconds)
        self._prepared = PreparedCache(engine.dialect)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        try:
            with (
                self.write_lock.held() if self.write_lock else nullcontext(),
                self.engine.connect().execution_options(immediate=True) as conn,
                conn.begin(),
            ):
                yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self.reading() as conn:
                conn.execute(text("SELECT 1"))
        except StoreError:
            return False
        return True

    # Sites and keys

    def count_sites(self) -> int:
        """How many sites exist."""
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(sites)).scalar_one())

    def create_site(
        self, name: str, url: str = "", policy: SitePolicy | None = None
    ) -> tuple[Site, str]:
        """Create a site and its first API key; the key is returned once and stored hashed."""
        now = datetime.now(UTC)
        policy = policy or SitePolicy()
        key = new_key()
        try:
            with self.writing() as conn:
                site_id = conn.execute(
                    insert(sites)
                    .values(name=name, url=url, policy=json.dumps(policy.to_dict()), created_at=now)
                    .returning(sites.c.id)
                ).scalar_one()
                conn.execute(
                    insert(site_keys).values(
                        site_id=site_id, key_hash=hash_key(key), prefix=key[:10], created_at=now
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"a site named {name!r} already exists") from exc
        return Site(site_id, name, url, policy, now), key

    def add_key(self, site_name: str) -> str:
        """A new API key for an existing site, returned once."""
        key = new_key()
        with self.writing() as conn:
            site_id = conn.execute(select(sites.c.id).where(sites.c.name == site_name)).scalar()
            if site_id is None:
                raise NotFoundError(f"no site named {site_name!r}")
            conn.execute(
                insert(site_keys).values(
                    site_id=site_id,
                    key_hash=hash_key(key),
                    prefix=key[:10],
                    created_at=datetime.now(UTC),
                )
            )
        return key

    def revoke_key(self, prefix: str) -> int:
        """Revoke every live key starting with `prefix`; returns how many were revoked."""
        if len(prefix) < 8:
            raise StoreError("give at least the first 8 characters of the key")
        self._key_cache.clear()
        with self.writing() as conn:
            result = conn.execute(
                site_keys.update()
                .where(site_keys.c.prefix == prefix[:10], site_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            return int(result.rowcount)

    def cached_site_for_key(self, key: str) -> Site | Literal[False] | None:
        """The cached answer of `site_for_key`, or False when the cache cannot tell."""
        return self._key_cache.peek(hash_key(key))

    def site_for_key(self, key: str) -> Site | None:
        """The site a live API key belongs to, or None.

        Answers are kept for `key_cache_seconds`, so a key revoked or a policy changed from
        another process takes effect within that time (at once in this process).
        """
        wanted = hash_key(key)

        def fetch() -> Site | None:
            with self.reading() as conn:
                row = conn.execute(_SITE_BY_KEY, {"key_hash": wanted}).first()
            # The lookup is by hash, so timing reveals nothing of the key; the constant-time
            # comparison guards against a collation or index that matched loosely.
            if row is not None and hmac.compare_digest(row.key_hash, wanted):
                return self._site(row)
            return None

        return self._key_cache.get(wanted, fetch)

    def _site(self, row: Any) -> Site:
        return Site(
            id=row.id,
            name=row.name,
            url=row.url,
            policy=SitePolicy.from_dict(json.loads(row.policy)),
            created_at=_utc(row.created_at) or datetime.now(UTC),
        )

    def get_site(self, name: str) -> Site:
        """A site by name."""
        with self.reading() as conn:
            row = conn.execute(select(sites).where(sites.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no site named {name!r}")
        return self._site(row)

    def list_sites(self) -> list[tuple[Site, int]]:
        """Every site with its number of live keys."""
        live = (
            select(site_keys.c.site_id, func.count().label("n"))
            .where(site_keys.c.revoked_at.is_(None))
            .group_by(site_keys.c.site_id)
            .subquery()
        )
        with self.reading() as conn:
            rows = conn.execute(
                select(sites, func.coalesce(live.c.n, 0).label("keys"))
                .outerjoin(live, live.c.site_id == sites.c.id)
                .order_by(sites.c.name)
            ).all()
        return [(self._site(row), int(row.keys)) for row in rows]

    def set_policy(self, name: str, policy: SitePolicy) -> None:
        """Replace a site's policy."""
        self._key_cache.clear()
        with self.writing() as conn:
            result = conn.execute(
                sites.update()
                .where(sites.c.name == name)
                .values(policy=json.dumps(policy.to_dict()))
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no site named {name!r}")

    # Comments

    def _ask(self, item: PendingCheck, digest: str) -> store_facts.Ask:
        site, comment = item.site, item.comment
        # An empty email or IP is never marked, and neither is an empty domain list. The rules
        # extract the same links again: links.py caches the extraction per text.
        domains = (
            domains_to_look_up(link_domains(comment.content, comment.author_url))
            if site.policy.check_reputation
            else []
        )
        return store_facts.Ask(
            site.id, site.policy, comment, item.now, digest, email_key(comment.author_email),
            domains,
        )  # fmt: skip

    def _fact_statements(self, ask: store_facts.Ask) -> list[tuple[Prepared, dict[str, Any]]]:
        """The statements whose rows make one comment's facts (`store_facts.facts_of`): the
        facts, then the spam marks of its link domains, a chunk of them per statement."""
        statements = [
            (
                self._prepared.get("facts", store_facts.facts_statement),
                store_facts.one_parameters(ask),
            )
        ]
        for size, chunk in store_facts.domain_chunks(ask):
            statements.append(
                (
                    self._prepared.get(
                        ("domains", size), partial(store_facts.domain_marks_statement, size)
                    ),
                    chunk,
                )
            )
        return statements

    def _replay(self, conn: Connection, site_id: int, external_id: str) -> StoredCheck | None:
        row = conn.execute(
            select(comments).where(
                comments.c.site_id == site_id, comments.c.external_id == external_id
            )
        ).first()
        if row is None:
            return None
        return StoredCheck(
            id=row.id,
            decision=_decision_from_row(row),
            model_version=row.model_version,
            created_at=_utc(row.created_at) or datetime.now(UTC),
            status=CommentStatus(row.status),
            replayed=True,
        )

    def check_and_save(
        self,
        site: Site,
        comment: Comment,
        decide: Callable[[Facts], Decision],
        *,
        model_version: str,
        now: datetime | None = None,
    ) -> StoredCheck:
        """Gather the facts, let `decide(facts)` judge, and store comment and decision at once."""
        pending = PendingCheck(site, comment, decide, model_version, now or datetime.now(UTC))
        result = self.check_and_save_many([pending])[0]
        if isinstance(result, StoreError):
            raise result
        return result

    def check_and_save_many(self, items: Sequence[PendingCheck]) -> list[StoredCheck | StoreError]:
        """Check and store several comments in one write transaction, in order.

        The facts and the inserts share the transaction (and, on PostgreSQL, advisory locks on
        each author's email and IP), so two copies of a comment sent at the same moment cannot
        both pass the duplicate check, even from two instances. A known `external_id` returns
        the stored decision instead of checking again, which makes a blog's retry safe. Each
        comment that cannot be stored (a unique constraint fires) fails alone: the batch is then
        stored one comment at a time.
        """
        try:
            with self.writing() as conn:
                return self._check_batch(conn, items)
        except IntegrityError:
            if len(items) == 1:
                return [self._after_conflict(items[0])]
        # A unique constraint fired (a retried external_id raced in from another process): the
        # batch was rolled back whole; store its comments one by one so that only that one fails.
        results: list[StoredCheck | StoreError] = []
        for item in items:
            try:
                with self.writing() as conn:
                    results.extend(self._check_batch(conn, [item]))
            except IntegrityError:
                results.append(self._after_conflict(item))
        return results

    def _author_locks(self, items: Sequence[PendingCheck]) -> list[tuple[Prepared, dict[str, Any]]]:
        """The statement taking the batch's author locks, first thing in its transaction.

        SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock per author
        (email and IP) and external id, taken in a fixed order to avoid deadlocks.
        """
        if self.dialect != "postgresql":
            return []
        keys = set()
        for item in items:
            keys.add(_lock_key(item.site.id, "e", email_key(item.comment.author_email)))
            keys.add(_lock_key(item.site.id, "i", item.comment.user_ip))
            if item.comment.external_id:
                keys.add(_lock_key(item.site.id, "x", item.comment.external_id))
        return [(self._prepared.get("locks", lambda: _ADVISORY_LOCKS), {"keys": sorted(keys)})]

    def _after_conflict(self, item: PendingCheck) -> StoredCheck | StoreError:
        if item.comment.external_id:
            with self.reading() as conn:
                replay = self._replay(conn, item.site.id, item.comment.external_id)
            if replay is not None:
                return replay
        return StoreError("could not store the comment: it conflicts with a stored one")

    def _check_batch(
        self, conn: Connection, items: Sequence[PendingCheck]
    ) -> list[StoredCheck | StoreError]:
        """`_check_one` for each item in order, with every comment's facts asked at once and
        the inserts written together: one round trip each on PostgreSQL, not one per comment.

        Facts asked before the batch's inserts are right for a comment that no earlier comment
        of the batch can change: one with another author, address, text and external id (the
        keys of `_batch_keys`). A comment sharing one is checked after the earlier ones are
        written, as it would be alone.

        The last statement of the transaction: on PostgreSQL the last inserts carry its commit.
        """
        digests = [content_hash(item.comment.content) for item in items]
        # The locks go first, in the same round trip as the facts, unless the external ids
        # must be looked up before the facts are asked (under the locks, as the facts are).
        locks = self._author_locks(items)
        known: set[tuple[int, str]] = set()
        if any(item.comment.external_id for item in items):
            run_all(conn, locks)
            locks = []
            known = self._known_external_ids(conn, items)
        # Asked up front: the facts of each comment that is no replay and shares no key with an
        # earlier one of the batch. The others are checked one at a time, in their turn.
        asks: list[store_facts.Ask | None] = []
        seen: set[tuple[object, ...]] = set()
        for item, digest in zip(items, digests, strict=True):
            keys = _batch_keys(item, digest)
            ahead = seen.isdisjoint(keys) and (item.site.id, item.comment.external_id) not in known
            asks.append(self._ask(item, digest) if ahead else None)
            seen.update(keys)
        found = iter(self._facts_of_all(conn, locks, [ask for ask in asks if ask is not None]))
        results: list[StoredCheck | StoreError] = []
        unwritten: list[dict[str, Any]] = []
        for item, digest, ask in zip(items, digests, asks, strict=True):
            if ask is not None:
                stored, row = _judged(item, digest, next(found))
                unwritten.append(row)
                results.append(stored)
            else:
                self._write(conn, unwritten)
                unwritten = []
                results.append(self._check_one(conn, item, digest))
        self._write(conn, unwritten, commit=True)
        return results

    def _write(self, conn: Connection, rows: list[dict[str, Any]], *, commit: bool = False) -> None:
        """Insert checked comments' rows; with `commit`, commit the transaction too (on
        psycopg in the same round trip: then only as the transaction's last statement)."""
        if self.dialect == "postgresql" and rows:
            prepared = self._prepared.get("insert all", _insert_all)
            values = [{"rows": [_as_json(row) for row in rows]}]
        else:
            prepared, values = self._insert(), rows
        if commit:
            prepared.execute_many_and_commit(conn, values)
        else:
            prepared.execute_many(conn, values)

    def _facts_of_all(
        self,
        conn: Connection,
        locks: list[tuple[Prepared, dict[str, Any]]],
        asks: Sequence[store_facts.Ask],
    ) -> list[Facts]:
        """Each comment's facts, in order, asked after `locks` in the same round trip: on
        PostgreSQL in one statement (`store_facts.batch_statement`), elsewhere in one or more
        per comment (SQLite runs in this process: a statement costs no round trip there)."""
        if self.dialect == "postgresql" and asks:
            generic: tuple[Prepared, dict[str, Any]] = (
                self._prepared.get("generic plans", store_facts.generic_plans_statement),
                {},
            )
            batch = (
                self._prepared.get("batch facts", store_facts.batch_statement),
                store_facts.batch_parameters(asks),
            )
            rows = run_all_rows(conn, [*locks, generic, batch])[-1]
            # Each comment's row holds its link domains' marks too.
            return [
                store_facts.facts_of(ask, row, [row]) for ask, row in zip(asks, rows, strict=True)
            ]
        statements = [self._fact_statements(ask) for ask in asks]
        found = iter(run_all(conn, [*locks, *chain.from_iterable(statements)])[len(locks) :])
        facts = []
        for ask, asked in zip(asks, statements, strict=True):
            row, *marks = islice(found, len(asked))
            facts.append(store_facts.facts_of(ask, row, marks))
        return facts

    def _known_external_ids(
        self, conn: Connection, items: Sequence[PendingCheck]
    ) -> set[tuple[int, str]]:
        """The (site, external id) pairs of `items` already stored: those are replays."""
        wanted = {(item.site.id, item.comment.external_id) for item in items}
        ids = sorted({external_id for _, external_id in wanted if external_id})
        if not ids:
            return set()
        found = conn.execute(
            select(comments.c.site_id, comments.c.external_id).where(
                comments.c.external_id.in_(ids)
            )
        )
        return {(row.site_id, row.external_id) for row in found} & wanted

    def _insert(self) -> Prepared:
        return self._prepared.get("insert", lambda: _INSERT)

    def _check_one(self, conn: Connection, item: PendingCheck, digest: str) -> StoredCheck:
        site, comment = item.site, item.comment
        if comment.external_id:
            replay = self._replay(conn, site.id, comment.external_id)
            if replay is not None:
                return replay
        [facts] = self._facts_of_all(conn, [], [self._ask(item, digest)])
        stored, row = _judged(item, digest, facts)
        self._insert().execute(conn, row)
        return stored

    def get_comment(self, site_id: int, comment_id: str) -> dict[str, Any]:
        """One stored comment of a site, as a dict of its columns."""
        with self.reading() as conn:
            row = conn.execute(
                select(comments).where(comments.c.site_id == site_id, comments.c.id == comment_id)
            ).first()
        if row is None:
            raise NotFoundError("no such comment")
        data = dict(row._mapping)
        data["created_at"] = _utc(data["created_at"])
        data["form_rendered_at"] = _utc(data["form_rendered_at"])
        data["reasons"] = json.loads(data["reasons"])
        data["evidence"] = json.loads(data["evidence"])
        return data

    # Akismet-compatible API: keys in Akismet's shape, training labels, monthly usage

    def add_akismet_key(self, site_name: str) -> str:
        """A new key for a site in Akismet's shape (12 lowercase hex characters), returned once.

        The WordPress plugin accepts no other shape. Such a key works in both APIs; it carries
        48 random bits, as Akismet's own keys do, where a `mod_` key carries 256.
        """
        for _ in range(5):
            key = secrets.token_hex(6)
            try:
                with self.writing() as conn:
                    site_id = conn.execute(
                        select(sites.c.id).where(sites.c.name == site_name)
                    ).scalar()
                    if site_id is None:
                        raise NotFoundError(f"no site named {site_name!r}")
                    conn.execute(
                        insert(site_keys).values(
                            site_id=site_id,
                            key_hash=hash_key(key),
                            prefix=key[:10],
                            created_at=datetime.now(UTC),
                        )
                    )
            except IntegrityError:
                continue  # the same 48 bits drawn twice: draw again
            return key
        raise StoreError("could not draw an unused key; try again")

    def record_label(
        self,
        site: Site,
        comment: Comment,
        label: Label,
        *,
        source: str,
        now: datetime,
        guid: str = "",
    ) -> str | None:
        """Label a stored comment for training; returns its id, or None when none matched.

        The comment is the one `guid` names, else the latest with the same content, author name
        and email; a later label replaces an earlier one, and the status follows it (spam, or
        approved for ham) as a moderator's action by `site:<name>` would. A correction of a test
        comment is dropped. One that matches no stored comment is kept as a labelled sample
        instead (unless it has no content to learn from).
        """
        with self.writing() as conn:
            match = None
            if len(guid) == 36:  # a stored id is a UUID; anything else names none
                match = conn.execute(
                    select(comments.c.id, comments.c.is_test).where(
                        comments.c.site_id == site.id, comments.c.id == guid
                    )
                ).first()
            if match is None and comment.content.strip():
                match = conn.execute(
                    select(comments.c.id, comments.c.is_test)
                    .where(
                        comments.c.site_id == site.id,
                        comments.c.content_hash == content_hash(comment.content),
                        comments.c.author_email_key == email_key(comment.author_email),
                        comments.c.author_name == comment.author_name,
                    )
                    .order_by(comments.c.created_at.desc())
                    .limit(1)
                ).first()
            if match is not None:
                if match.is_test:
                    return None  # test traffic is never learned from
                # The blog's own moderator decided: the status follows the label, through the
                # queue's one code path (history, reputation marks, webhook). Imported here:
                # store_queue builds on this module.
                from moderation import store_queue

                store_queue.apply_action(
                    conn,
                    str(match.id),
                    ModerationAction.SPAM if label is Label.SPAM else ModerationAction.HAM,
                    actor=store_queue.Actor.site(site.name),
                    now=now,
                    label_source=source,
                )
                return str(match.id)
            if comment.content.strip():
                conn.execute(
                    insert(labelled_samples).values(
                        id=time_ordered_id(now),
                        site_id=site.id,
                        label=label.value,
                        label_source=source,
                        created_at=now,
                        guid=guid if len(guid) <= 200 else "",
                        content=comment.content,
                        author_name=comment.author_name,
                        author_email=comment.author_email,
                        author_url=comment.author_url,
                        permalink=comment.permalink,
                        user_ip=comment.user_ip,
                        user_agent=comment.user_agent,
                    )
                )
            return None

    def labelled_samples(self, site_id: int) -> list[dict[str, Any]]:
        """A site's labelled samples (corrections that matched no stored comment), oldest first."""
        with self.reading() as conn:
            rows = conn.execute(
                select(labelled_samples)
                .where(labelled_samples.c.site_id == site_id)
                .order_by(labelled_samples.c.created_at)
            ).all()
        out = []
        for row in rows:
            data = dict(row._mapping)
            data["created_at"] = _utc(data["created_at"])
            out.append(data)
        return out

    def monthly_usage(self, site_id: int, start: datetime, end: datetime) -> Usage:
        """A site's checks and corrections from `start` (inclusive) to `end`, test traffic left out.

        Calls, spam and ham count the checks made in the period, by the answer Akismet's protocol
        gives (spam and reject answer `true`); missed spam and false positives count the labels
        given in the period that contradict that answer.
        """
        answered_true = comments.c.verdict.in_([Verdict.SPAM.value, Verdict.REJECT.value])
        checked = select(
            func.count(),
            func.coalesce(func.sum(case((answered_true, 1), else_=0)), 0),
        ).where(
            comments.c.site_id == site_id,
            comments.c.created_at >= start,
            comments.c.created_at < end,
            comments.c.is_test == false(),
        )
        corrected = select(
            func.coalesce(
                func.sum(
                    case((and_(comments.c.label == Label.SPAM.value, ~answered_true), 1), else_=0)
                ),
                0,
            ),
            func.coalesce(
                func.sum(
                    case((and_(comments.c.label == Label.HAM.value, answered_true), 1), else_=0)
                ),
                0,
            ),
        ).where(
            comments.c.site_id == site_id,
            comments.c.labelled_at.is_not(None),
            comments.c.labelled_at >= start,
            comments.c.labelled_at < end,
            comments.c.is_test == false(),
        )
        with self.reading() as conn:
            calls, spam = conn.execute(checked).one()
            missed, false_positives = conn.execute(corrected).one()
        return Usage(
            api_calls=int(calls),
            spam=int(spam),
            ham=int(calls) - int(spam),
            missed_spam=int(missed),
            false_positives=int(false_positives),
        )

    # Publishing: the public feed's salt and read token, approved comments, forgetting authors

    @cached_property
    def _publishing(self) -> _PublishingCache:
        return _PublishingCache(self.key_cache_seconds)

    def avatar_salt(self, site_id: int) -> str:
        """The site's secret salt for avatar hashes, made on first use; it never changes."""
        cache = self._publishing
        salt = cache.salts.get(site_id)
        if salt is None:
            salt = self._publishing_row(site_id).avatar_salt
            cache.salts[site_id] = salt
        return salt

    def _publishing_row(self, site_id: int) -> Any:
        query = select(site_publishing).where(site_publishing.c.site_id == site_id)
        with self.reading() as conn:
            row = conn.execute(query).first()
        if row is not None:
            return row
        try:
            with self.writing() as conn:
                conn.execute(
                    insert(site_publishing).values(
                        site_id=site_id,
                        avatar_salt=secrets.token_hex(32),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            pass  # made at the same moment by another request: read that one
        with self.reading() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError("no such site")
        return row

    def public_token(self, site_name: str, *, rotate: bool = False) -> str:
        """The site's public read token, made if it has none (or replaced, with `rotate`).

        The token is safe to put in a page: it reads a post's approved comments and nothing
        else. A replaced token stops working at once in this process, within
        `key_cache_seconds` in others.
        """
        site = self.get_site(site_name)
        current = self._publishing_row(site.id).public_token
        if current and not rotate:
            return str(current)
        token = new_public_token()
        with self.writing() as conn:
            conn.execute(
                site_publishing.update()
                .where(site_publishing.c.site_id == site.id)
                .values(public_token=token, token_created_at=datetime.now(UTC))
            )
        self._publishing.tokens.clear()
        return token

    def revoke_public_token(self, site_name: str) -> bool:
        """Remove the site's public read token; whether it had one. The site key still reads."""
        site = self.get_site(site_name)
        with self.writing() as conn:
            result = conn.execute(
                site_publishing.update()
                .where(
                    site_publishing.c.site_id == site.id,
                    site_publishing.c.public_token.is_not(None),
                )
                .values(public_token=None, token_created_at=None)
            )
        self._publishing.tokens.clear()
        return bool(result.rowcount)

    def set_site_url(self, name: str, url: str) -> None:
        """Change a site's address (its origin is the one whose pages may read the feed)."""
        self._key_cache.clear()
        self._publishing.tokens.clear()
        with self.writing() as conn:
            result = conn.execute(sites.update().where(sites.c.name == name).values(url=url))
            if result.rowcount == 0:
                raise NotFoundError(f"no site named {name!r}")

    def site_for_public_token(self, token: str) -> Site | None:
        """The site a public read token belongs to, or None (answers kept `key_cache_seconds`)."""
        if not token.startswith(PUBLIC_TOKEN_PREFIX) or len(token) > 64:
            return None

        def fetch() -> Site | None:
            with self.reading() as conn:
                row = conn.execute(
                    select(site_publishing.c.public_token, sites)
                    .join(sites, sites.c.id == site_publishing.c.site_id)
                    .where(site_publishing.c.public_token == token)
                ).first()
            if row is not None and hmac.compare_digest(row.public_token, token):
                return self._site(row)
            return None

        return self._publishing.tokens.get(token, fetch)

    def approved_comments(self, site_id: int, post_id: str) -> list[StoredComment]:
        """The approved comments of one post of a site, oldest first: never any other status."""
        query = (
            select(
                comments.c.id,
                comments.c.external_id,
                comments.c.parent_id,
                comments.c.author_name,
                comments.c.author_email,
                comments.c.author_url,
                comments.c.content,
                comments.c.created_at,
            )
            .where(
                comments.c.site_id == site_id,
                comments.c.post_id == post_id,
                comments.c.status == CommentStatus.APPROVED.value,
            )
            .order_by(comments.c.created_at, comments.c.id)
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return [
            StoredComment(
                id=row.id,
                external_id=row.external_id or "",
                parent_id=row.parent_id,
                author_name=row.author_name,
                author_email=row.author_email,
                author_url=row.author_url,
                content=row.content,
                created_at=_utc(row.created_at) or datetime.now(UTC),
            )
            for row in rows
        ]

    def forget_author(
        self, email: str, *, site_id: int | None = None, dry_run: bool = False
    ) -> list[ForgetReport]:
        """Erase an author: their comments and samples, and their address in any other text.

        Comments and labelled samples sent with this address (compared as `email_keys` does)
        are deleted, with their IP, user agent and everything else. In every other comment and
        sample of the site(s), each appearance of the address, in any form `find_emails`
        recognises, is replaced by the redaction placeholder in the name, web address, text,
        user agent and referrer; the rest of those texts stays as it was. Every site, or the
        one given; with `dry_run` nothing changes and the counts say what would. Raises
        `AddressError` for something that is not an email address.
        """
        key = address_key(email)
        keys = sorted(email_keys(email))
        query = select(sites.c.id, sites.c.name).order_by(sites.c.name)
        if site_id is not None:
            query = query.where(sites.c.id == site_id)
        with self.reading() as conn:
            targets = conn.execute(query).all()
        return [self._forget_in_site(row.id, row.name, key, keys, dry_run) for row in targets]

    def _forget_in_site(
        self, site_id: int, site_name: str, key: str, keys: list[str], dry_run: bool
    ) -> ForgetReport:
        # The mentions are looked for outside any write transaction (a scan of every text of
        # the site, which must not hold the SQLite write lock); the deletions and the edits
        # then happen in one transaction.
        own_comment = and_(comments.c.site_id == site_id, comments.c.author_email_key.in_(keys))
        comment_edits = self._scan_mentions(
            comments,
            (comments.c.site_id == site_id, ~comments.c.author_email_key.in_(keys)),
            _FORGET_COMMENT_COLUMNS,
            key,
        )
        sample_rows = self._read_all(
            select(labelled_samples.c.id, labelled_samples.c.author_email).where(
                labelled_samples.c.site_id == site_id, labelled_samples.c.author_email != ""
            )
        )
        own_samples = sorted(r.id for r in sample_rows if email_key(r.author_email) in keys)
        sample_edits = self._scan_mentions(
            labelled_samples,
            (labelled_samples.c.site_id == site_id,),
            _FORGET_SAMPLE_COLUMNS,
            key,
            skip=set(own_samples),
        )
        if dry_run:
            deleted = int(
                self._read_all(select(func.count()).select_from(comments).where(own_comment))[0][0]
            )
            return ForgetReport(
                site_name, deleted, len(comment_edits), len(own_samples), len(sample_edits)
            )
        with self.writing() as conn:
            deleted = int(conn.execute(comments.delete().where(own_comment)).rowcount)
            for comment_id, values in comment_edits.items():
                if "content" in values:
                    values["content_hash"] = content_hash(values["content"])
                conn.execute(comments.update().where(comments.c.id == comment_id).values(values))
            samples_deleted = 0
            for start in range(0, len(own_samples), 500):
                chunk = own_samples[start : start + 500]
                samples_deleted += int(
                    conn.execute(
                        labelled_samples.delete().where(labelled_samples.c.id.in_(chunk))
                    ).rowcount
                )
            for sample_id, values in sample_edits.items():
                conn.execute(
                    labelled_samples.update()
                    .where(labelled_samples.c.id == sample_id)
                    .values(values)
                )
        return ForgetReport(
            site_name, deleted, len(comment_edits), samples_deleted, len(sample_edits)
        )

    def _read_all(self, query: Any) -> list[Any]:
        with self.reading() as conn:
            return list(conn.execute(query).all())

    def _scan_mentions(
        self,
        table: Any,
        where: tuple[Any, ...],
        columns: tuple[str, ...],
        key: str,
        *,
        skip: set[str] | None = None,
    ) -> dict[str, dict[str, str]]:
        """Rows whose texts mention the address: their id and the columns with it erased."""
        edits: dict[str, dict[str, str]] = {}
        last = ""
        while True:
            batch = self._read_all(
                select(table.c.id, *(table.c[name] for name in columns))
                .where(*where, table.c.id > last)
                .order_by(table.c.id)
                .limit(_FORGET_BATCH)
            )
            for row in batch:
                if skip and row.id in skip:
                    continue
                values = {}
                for name in columns:
                    erased = erase_address(row._mapping[name] or "", key)
                    if erased.count:
                        values[name] = erased.text
                if values:
                    edits[row.id] = values
            if len(batch) < _FORGET_BATCH:
                return edits
            last = batch[-1].id


@dataclass(frozen=True, slots=True)
class Usage:
    """A site's counts for a period, in the terms of Akismet's usage reports."""

    api_calls: int
    spam: int
    ham: int
    missed_spam: int
    false_positives: int


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What forgetting an author removed from one site."""

    site: str
    comments_deleted: int
    comments_redacted: int
    samples_deleted: int
    samples_redacted: int

    @property
    def total(self) -> int:
        """Rows deleted or edited."""
        return (
            self.comments_deleted
            + self.comments_redacted
            + self.samples_deleted
            + self.samples_redacted
        )


class _PublishingCache:
    """Per store: avatar salts (they never change) and recent public-token lookups."""

    def __init__(self, token_seconds: float) -> None:
        self.salts: dict[int, str] = {}
        self.tokens = _SiteCache(token_seconds)


PUBLIC_TOKEN_PREFIX = "pub_"  # noqa: S105 - a prefix, not a secret
_FORGET_BATCH = 500
_FORGET_COMMENT_COLUMNS = ("author_name", "author_url", "content", "user_agent", "referrer")
_FORGET_SAMPLE_COLUMNS = ("author_name", "author_url", "content", "user_agent")


def new_public_token() -> str:
    """A fresh public read token (192 random bits; public, but not guessable)."""
    return PUBLIC_TOKEN_PREFIX + secrets.token_urlsafe(24)
