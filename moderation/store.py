"""The storage layer: every database access goes through here, on SQLite or PostgreSQL alike."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    create_engine,
    event,
    exists,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from moderation.domain import Comment, Decision, Evidence, Reason, ReasonCode, Verdict
from moderation.policy import SitePolicy
from moderation.rules import Facts
from moderation.schema import comments, site_keys, sites
from moderation.textnorm import fold

KEY_PREFIX = "mod_"
_KEY_CACHE_SIZE = 10_000


class StoreError(Exception):
    """The database refused or could not be reached."""


class NotFoundError(StoreError):
    """No such row (or not visible to the caller)."""


class ConflictError(StoreError):
    """The row would break a uniqueness rule (a site name already taken, say)."""


class CommentStatus(StrEnum):
    """Where a stored comment stands."""

    APPROVED = "approved"
    PENDING = "pending"
    SPAM = "spam"
    REJECTED = "rejected"
    TRASH = "trash"


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


def make_engine(url: str, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 10_000) -> Engine:
    """An engine for SQLite (WAL, immediate write transactions) or PostgreSQL."""
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
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A writer that starts deferred and upgrades later can fail with "database is
            # locked" despite the busy timeout; BEGIN IMMEDIATE waits for the lock instead.
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run from several instances)."""
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


_SITE = bindparam("site_id", type_=Integer())
_EMAIL = bindparam("email", type_=String())
# Every fact about a new comment in one round trip: each part walks its own index.
_FACTS = select(
    exists()
    .where(
        comments.c.site_id == _SITE,
        comments.c.content_hash == bindparam("digest"),
        comments.c.post_id == bindparam("post_id"),
        comments.c.author_email_key == _EMAIL,
        comments.c.status != CommentStatus.REJECTED.value,
    )
    .label("duplicate"),
    select(func.count())
    .where(
        comments.c.site_id == _SITE,
        comments.c.author_email_key == _EMAIL,
        comments.c.created_at >= bindparam("since"),
    )
    .scalar_subquery()
    .label("recent_by_email"),
    select(func.count())
    .where(
        comments.c.site_id == _SITE,
        comments.c.user_ip == bindparam("ip"),
        comments.c.created_at >= bindparam("since"),
    )
    .scalar_subquery()
    .label("recent_by_ip"),
    exists()
    .where(
        comments.c.site_id == _SITE,
        comments.c.author_email_key == _EMAIL,
        comments.c.status == CommentStatus.APPROVED.value,
    )
    .label("approved"),
)
_INSERT = comments.insert()
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
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


class Store:
    """Sites, keys and checked comments."""

    def __init__(self, engine: Engine, *, key_cache_seconds: float = 2.0) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.key_cache_seconds = key_cache_seconds
        self._key_cache: dict[str, tuple[float, Site | None]] = {}
        self._key_lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self._read() as conn:
                conn.execute(text("SELECT 1"))
        except StoreError:
            return False
        return True

    # Sites and keys

    def count_sites(self) -> int:
        """How many sites exist."""
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(sites)).scalar_one())

    def create_site(
        self, name: str, url: str = "", policy: SitePolicy | None = None
    ) -> tuple[Site, str]:
        """Create a site and its first API key; the key is returned once and stored hashed."""
        now = datetime.now(UTC)
        policy = policy or SitePolicy()
        key = new_key()
        try:
            with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
            result = conn.execute(
                site_keys.update()
                .where(site_keys.c.prefix == prefix[:10], site_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            return int(result.rowcount)

    def cached_site_for_key(self, key: str) -> Site | Literal[False] | None:
        """The cached answer of `site_for_key`, or False when the cache cannot tell."""
        cached = self._key_cache.get(hash_key(key))
        if cached is not None and time.monotonic() - cached[0] < self.key_cache_seconds:
            return cached[1]
        return False

    def site_for_key(self, key: str) -> Site | None:
        """The site a live API key belongs to, or None.

        Answers are kept for `key_cache_seconds`, so a key revoked or a policy changed from
        another process takes effect within that time (at once in this process).
        """
        wanted = hash_key(key)
        cached = self._key_cache.get(wanted)
        if cached is not None and time.monotonic() - cached[0] < self.key_cache_seconds:
            return cached[1]
        # One lookup at a time: when an entry expires under load, the requests that find it
        # stale wait for one query instead of each opening a connection for the same row.
        with self._key_lock:
            cached = self._key_cache.get(wanted)
            if cached is not None and time.monotonic() - cached[0] < self.key_cache_seconds:
                return cached[1]
            with self._read() as conn:
                row = conn.execute(_SITE_BY_KEY, {"key_hash": wanted}).first()
            # The lookup is by hash, so timing reveals nothing of the key; the constant-time
            # comparison guards against a collation or index that matched loosely.
            site = None
            if row is not None and hmac.compare_digest(row.key_hash, wanted):
                site = self._site(row)
            if len(self._key_cache) >= _KEY_CACHE_SIZE:
                self._key_cache.clear()
            self._key_cache[wanted] = (time.monotonic(), site)
        return site

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
        with self._read() as conn:
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
        with self._read() as conn:
            rows = conn.execute(
                select(sites, func.coalesce(live.c.n, 0).label("keys"))
                .outerjoin(live, live.c.site_id == sites.c.id)
                .order_by(sites.c.name)
            ).all()
        return [(self._site(row), int(row.keys)) for row in rows]

    def set_policy(self, name: str, policy: SitePolicy) -> None:
        """Replace a site's policy."""
        self._key_cache.clear()
        with self._write() as conn:
            result = conn.execute(
                sites.update()
                .where(sites.c.name == name)
                .values(policy=json.dumps(policy.to_dict()))
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no site named {name!r}")

    # Comments

    def _facts(
        self, conn: Connection, site: Site, comment: Comment, now: datetime, digest: str
    ) -> Facts:
        email = email_key(comment.author_email)
        policy = site.policy
        since = now - timedelta(seconds=policy.flood_interval_seconds)
        row = conn.execute(
            _FACTS,
            {
                "site_id": site.id,
                "digest": digest,
                "post_id": comment.post_id,
                "email": email,
                "ip": comment.user_ip,
                "since": since,
            },
        ).one()
        # An empty email or IP matches every anonymous comment: such a match means nothing.
        recent = max(
            int(row.recent_by_email) if email else 0,
            int(row.recent_by_ip) if comment.user_ip else 0,
        )
        return Facts(
            now=now,
            duplicate=bool(row.duplicate) and policy.check_duplicates,
            recent_from_same_author=recent if policy.check_flood else 0,
            previously_approved=bool(row.approved) and bool(email)
            and policy.trust_previously_approved,
        )  # fmt: skip

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
        comment has its own savepoint: one that cannot be stored fails alone.
        """
        try:
            with self._write() as conn:
                self._lock_authors(conn, items)
                return [self._check_one(conn, item) for item in items]
        except IntegrityError:
            if len(items) == 1:
                return [self._after_conflict(items[0])]
        # A unique constraint fired (a retried external_id raced in from another process): the
        # batch was rolled back whole; store its comments one by one so that only that one fails.
        results: list[StoredCheck | StoreError] = []
        for item in items:
            try:
                with self._write() as conn:
                    self._lock_authors(conn, [item])
                    results.append(self._check_one(conn, item))
            except IntegrityError:
                results.append(self._after_conflict(item))
        return results

    def _lock_authors(self, conn: Connection, items: Sequence[PendingCheck]) -> None:
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock per
        # author (email and IP) and external id, taken in a fixed order to avoid deadlocks.
        if self.dialect != "postgresql":
            return
        keys = set()
        for item in items:
            keys.add(_lock_key(item.site.id, "e", email_key(item.comment.author_email)))
            keys.add(_lock_key(item.site.id, "i", item.comment.user_ip))
            if item.comment.external_id:
                keys.add(_lock_key(item.site.id, "x", item.comment.external_id))
        for key in sorted(keys):
            conn.execute(_ADVISORY_LOCK, {"k": key})

    def _after_conflict(self, item: PendingCheck) -> StoredCheck | StoreError:
        if item.comment.external_id:
            with self._read() as conn:
                replay = self._replay(conn, item.site.id, item.comment.external_id)
            if replay is not None:
                return replay
        return StoreError("could not store the comment: it conflicts with a stored one")

    def _check_one(self, conn: Connection, item: PendingCheck) -> StoredCheck:
        site, comment, now = item.site, item.comment, item.now
        if comment.external_id:
            replay = self._replay(conn, site.id, comment.external_id)
            if replay is not None:
                return replay
        digest = content_hash(comment.content)
        facts = self._facts(conn, site, comment, now, digest)
        decision = item.decide(facts)
        comment_id = str(uuid.uuid4())
        status = STATUS_OF_VERDICT[decision.verdict]
        conn.execute(
            _INSERT,
            {
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
            },
        )
        return StoredCheck(
            id=comment_id, decision=decision, model_version=item.model_version, created_at=now,
            status=status,
        )  # fmt: skip

    def get_comment(self, site_id: int, comment_id: str) -> dict[str, Any]:
        """One stored comment of a site, as a dict of its columns."""
        with self._read() as conn:
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
