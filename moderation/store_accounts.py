"""Moderator accounts: passwords, site grants, API tokens and web sessions, in the database."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from moderation.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_nothing,
    verify_password,
)
from moderation.schema import (
    moderator_sessions,
    moderator_sites,
    moderator_tokens,
    moderators,
)
from moderation.schema import sites as sites_table
from moderation.store import ConflictError, NotFoundError, Store, StoreError, hash_key

TOKEN_PREFIX = "mt_"  # noqa: S105 - a prefix, not a secret
TOKEN_PREFIX_LENGTH = 10
NAME_MAX_LENGTH = 200
LABEL_MAX_LENGTH = 200
# A busy client uses its token many times a second: last_used_at is written at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_ID = 2**31 - 1
log = logging.getLogger(__name__)


class AccountInputError(ValueError):
    """A name, password, label or token reference that cannot be accepted, and why."""


@dataclass(frozen=True, slots=True)
class Moderator:
    """A moderator as the service acts for them: who, whether admin, which sites they see."""

    id: int
    name: str
    is_admin: bool
    site_ids: frozenset[int]

    def can_see(self, site_id: int) -> bool:
        """Whether this moderator may see and act on the site (an admin sees every site)."""
        return self.is_admin or site_id in self.site_ids


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """A moderator as the operator lists them: grants by name, disabled or not."""

    moderator: Moderator
    site_names: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None

    @property
    def disabled(self) -> bool:
        """Whether the account is disabled (cannot log in, its tokens do not work)."""
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as listed: never the token itself, only its first characters."""

    id: int
    prefix: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: every stored time is UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _now(value: datetime | None) -> datetime:
    return datetime.now(UTC) if value is None else value


def name_problem(name: str) -> str | None:
    """Why a moderator name is not acceptable, or None when it is."""
    if not name:
        return "the name must not be empty"
    if len(name) > NAME_MAX_LENGTH:
        return f"the name must be at most {NAME_MAX_LENGTH} characters long"
    if not name.isprintable() or name != name.strip():
        return "the name must be printable characters without leading or trailing spaces"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name must be valid text"
    return None


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountInputError(problem)


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class Accounts:
    """Moderator accounts on a store: every lookup reads grants fresh, on every instance."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # Reading moderators

    def _site_ids(self, conn: Connection, moderator_id: int) -> frozenset[int]:
        rows = conn.execute(
            select(moderator_sites.c.site_id).where(moderator_sites.c.moderator_id == moderator_id)
        ).scalars()
        return frozenset(int(site_id) for site_id in rows)

    def _moderator(self, conn: Connection, row: Any) -> Moderator:
        return Moderator(
            id=int(row.id),
            name=str(row.name),
            is_admin=bool(row.is_admin),
            site_ids=self._site_ids(conn, int(row.id)),
        )

    def _row(self, conn: Connection, name: str) -> Any:
        if name_problem(name):
            # No such name can exist, and PostgreSQL refuses a NUL in a query outright.
            raise NotFoundError(f"no moderator named {name!r}")
        row = conn.execute(select(moderators).where(moderators.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no moderator named {name!r}")
        return row

    def get(self, name: str) -> Moderator:
        """A moderator by name (disabled or not); NotFoundError when there is none."""
        with self.store.reading() as conn:
            return self._moderator(conn, self._row(conn, name))

    def get_by_id(self, moderator_id: int) -> Moderator:
        """A moderator by id (disabled or not); NotFoundError when there is none."""
        with self.store.reading() as conn:
            row = conn.execute(select(moderators).where(moderators.c.id == moderator_id)).first()
            if row is None:
                raise NotFoundError("no such moderator")
            return self._moderator(conn, row)

    def is_disabled(self, name: str) -> bool:
        """Whether the named moderator's account is disabled; NotFoundError when there is none."""
        with self.store.reading() as conn:
            return self._row(conn, name).disabled_at is not None

    def summaries(self) -> list[AccountSummary]:
        """Every moderator by name, with the names of their granted sites and their state."""
        with self.store.reading() as conn:
            rows = conn.execute(select(moderators).order_by(moderators.c.name)).all()
            grants = conn.execute(
                select(moderator_sites.c.moderator_id, sites_table.c.id, sites_table.c.name)
                .join(sites_table, sites_table.c.id == moderator_sites.c.site_id)
                .order_by(sites_table.c.name)
            ).all()
        by_moderator: dict[int, list[tuple[int, str]]] = {}
        for grant in grants:
            by_moderator.setdefault(int(grant.moderator_id), []).append(
                (int(grant.id), str(grant.name))
            )
        out = []
        for row in rows:
            granted = by_moderator.get(int(row.id), [])
            moderator = Moderator(
                id=int(row.id),
                name=str(row.name),
                is_admin=bool(row.is_admin),
                site_ids=frozenset(site_id for site_id, _ in granted),
            )
            out.append(
                AccountSummary(
                    moderator=moderator,
                    site_names=tuple(name for _, name in granted),
                    created_at=_utc(row.created_at) or datetime.now(UTC),
                    disabled_at=_utc(row.disabled_at),
                )
            )
        return out

    def list_moderators(self) -> list[tuple[Moderator, list[str]]]:
        """Every moderator by name, with the names of the sites granted to them."""
        return [(s.moderator, list(s.site_names)) for s in self.summaries()]

    # Creating and changing moderators

    def _site_ids_by_name(self, conn: Connection, names: Iterable[str]) -> list[int]:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return []
        found = {
            str(row.name): int(row.id)
            for row in conn.execute(
                select(sites_table.c.id, sites_table.c.name).where(sites_table.c.name.in_(wanted))
            )
        }
        missing = [name for name in wanted if name not in found]
        if missing:
            raise NotFoundError(f"no site named {missing[0]!r}")
        return [found[name] for name in wanted]

    def create_moderator(
        self, name: str, *, password: str, admin: bool = False, sites: Sequence[str] = ()
    ) -> Moderator:
        """Create a moderator with these grants; ConflictError when the name is taken."""
        problem = name_problem(name)
        if problem:
            raise AccountInputError(problem)
        _check_password(password)
        stored = hash_password(password)  # slow: before the write transaction, not inside it
        try:
            with self.store.writing() as conn:
                site_ids = self._site_ids_by_name(conn, sites)
                moderator_id = conn.execute(
                    insert(moderators)
                    .values(
                        name=name,
                        password_hash=stored,
                        is_admin=admin,
                        created_at=datetime.now(UTC),
                    )
                    .returning(moderators.c.id)
                ).scalar_one()
                for site_id in site_ids:
                    conn.execute(
                        insert(moderator_sites).values(moderator_id=moderator_id, site_id=site_id)
                    )
        except IntegrityError as exc:
            raise ConflictError(f"a moderator named {name!r} already exists") from exc
        return Moderator(int(moderator_id), name, admin, frozenset(site_ids))

    def authenticate(self, name: str, password: str) -> Moderator | None:
        """The moderator whose name and password these are, or None (also when disabled)."""
        row = None
        if name_problem(name) is None:
            with self.store.reading() as conn:
                row = conn.execute(select(moderators).where(moderators.c.name == name)).first()
        if row is None or len(password) > MAX_LENGTH:
            verify_nothing(password[:MAX_LENGTH])
            return None
        if not verify_password(row.password_hash, password):
            return None
        if row.disabled_at is not None:
            return None
        if needs_rehash(row.password_hash):
            fresh = hash_password(password)
            with self.store.writing() as conn:
                # Only if the password was not changed meanwhile.
                conn.execute(
                    moderators.update()
                    .where(
                        moderators.c.id == row.id,
                        moderators.c.password_hash == row.password_hash,
                    )
                    .values(password_hash=fresh)
                )
        with self.store.reading() as conn:
            return self._moderator(conn, row)

    def set_password(self, name: str, password: str) -> None:
        """Replace a moderator's password; their web sessions end (tokens stay valid)."""
        _check_password(password)
        stored = hash_password(password)
        with self.store.writing() as conn:
            row = self._row(conn, name)
            conn.execute(
                moderators.update().where(moderators.c.id == row.id).values(password_hash=stored)
            )
            self._end_sessions(conn, int(row.id))

    def grant(self, name: str, sites: Sequence[str]) -> int:
        """Let the moderator see these sites too; how many grants were new."""
        try:
            with self.store.writing() as conn:
                moderator_id = int(self._row(conn, name).id)
                site_ids = self._site_ids_by_name(conn, sites)
                have = self._site_ids(conn, moderator_id)
                new = [site_id for site_id in site_ids if site_id not in have]
                for site_id in new:
                    conn.execute(
                        insert(moderator_sites).values(moderator_id=moderator_id, site_id=site_id)
                    )
        except IntegrityError as exc:
            raise ConflictError("the grants changed at the same moment; try again") from exc
        return len(new)

    def revoke_grant(self, name: str, sites: Sequence[str]) -> int:
        """Stop the moderator seeing these sites, at once; how many grants were removed."""
        with self.store.writing() as conn:
            moderator_id = int(self._row(conn, name).id)
            site_ids = self._site_ids_by_name(conn, sites)
            if not site_ids:
                return 0
            result = conn.execute(
                delete(moderator_sites).where(
                    moderator_sites.c.moderator_id == moderator_id,
                    moderator_sites.c.site_id.in_(site_ids),
                )
            )
            return int(result.rowcount)

    def set_admin(self, name: str, admin: bool) -> None:
        """Make the moderator an admin (sees every site, manages sites and moderators) or not."""
        with self.store.writing() as conn:
            row = self._row(conn, name)
            conn.execute(
                moderators.update().where(moderators.c.id == row.id).values(is_admin=admin)
            )

    def disable(self, name: str) -> None:
        """Disable the account: it cannot log in, its sessions end and its tokens are revoked."""
        now = datetime.now(UTC)
        with self.store.writing() as conn:
            row = self._row(conn, name)
            conn.execute(
                moderators.update()
                .where(moderators.c.id == row.id, moderators.c.disabled_at.is_(None))
                .values(disabled_at=now)
            )
            self._end_sessions(conn, int(row.id))
            # Revoked, not just suspended: enabling the account again must not revive a token
            # that may have leaked meanwhile.
            conn.execute(
                moderator_tokens.update()
                .where(
                    moderator_tokens.c.moderator_id == row.id,
                    moderator_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )

    def enable(self, name: str) -> None:
        """Let a disabled account log in again (its old tokens stay revoked)."""
        with self.store.writing() as conn:
            row = self._row(conn, name)
            conn.execute(
                moderators.update().where(moderators.c.id == row.id).values(disabled_at=None)
            )

    # API tokens

    def create_token(self, name: str, *, label: str = "") -> str:
        """A new API token for the moderator, returned once ("mt_..."); stored hashed."""
        if len(label) > LABEL_MAX_LENGTH or not label.isprintable():
            raise AccountInputError(
                f"the label must be at most {LABEL_MAX_LENGTH} printable characters"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.writing() as conn:
            row = self._row(conn, name)
            if row.disabled_at is not None:
                raise AccountInputError(f"the moderator {name!r} is disabled")
            conn.execute(
                insert(moderator_tokens).values(
                    moderator_id=row.id,
                    token_hash=hash_key(token),
                    prefix=token[:TOKEN_PREFIX_LENGTH],
                    label=label,
                    created_at=datetime.now(UTC),
                )
            )
        return token

    def tokens(self, name: str) -> list[TokenInfo]:
        """The moderator's tokens, oldest first, revoked ones included."""
        with self.store.reading() as conn:
            moderator_id = int(self._row(conn, name).id)
            rows = conn.execute(
                select(moderator_tokens)
                .where(moderator_tokens.c.moderator_id == moderator_id)
                .order_by(moderator_tokens.c.id)
            ).all()
        return [
            TokenInfo(
                id=int(row.id),
                prefix=str(row.prefix),
                label=str(row.label),
                created_at=_utc(row.created_at) or datetime.now(UTC),
                last_used_at=_utc(row.last_used_at),
                revoked_at=_utc(row.revoked_at),
            )
            for row in rows
        ]

    def revoke_token(self, prefix_or_id: str | int, *, moderator_id: int | None = None) -> int:
        """Revoke the live token with this id, listed prefix or value; how many were revoked.

        With `moderator_id`, only that moderator's tokens are touched (a moderator revoking
        their own from the page).
        """
        if isinstance(prefix_or_id, int) or (prefix_or_id.isascii() and prefix_or_id.isdigit()):
            if not 0 < int(prefix_or_id) <= _MAX_ID:
                return 0
            condition = moderator_tokens.c.id == int(prefix_or_id)
        elif len(prefix_or_id) > TOKEN_PREFIX_LENGTH:
            condition = moderator_tokens.c.token_hash == hash_key(prefix_or_id)
        elif len(prefix_or_id) == TOKEN_PREFIX_LENGTH:
            condition = moderator_tokens.c.prefix == prefix_or_id
        else:
            raise AccountInputError(
                f"give the token's id, its {TOKEN_PREFIX_LENGTH}-character prefix as listed, "
                "or the token itself"
            )
        query = (
            moderator_tokens.update()
            .where(condition, moderator_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if moderator_id is not None:
            query = query.where(moderator_tokens.c.moderator_id == moderator_id)
        with self.store.writing() as conn:
            return int(conn.execute(query).rowcount)

    def moderator_for_token(self, token: str) -> Moderator | None:
        """The moderator a live token belongs to (grants read now), or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        wanted = hash_key(token)
        with self.store.reading() as conn:
            row = conn.execute(
                select(
                    moderator_tokens.c.id.label("token_id"),
                    moderator_tokens.c.token_hash,
                    moderator_tokens.c.last_used_at,
                    moderators.c.id,
                    moderators.c.name,
                    moderators.c.is_admin,
                )
                .join(moderators, moderators.c.id == moderator_tokens.c.moderator_id)
                .where(
                    moderator_tokens.c.token_hash == wanted,
                    moderator_tokens.c.revoked_at.is_(None),
                    moderators.c.disabled_at.is_(None),
                )
            ).first()
            # The lookup is by hash, so timing reveals nothing of the token; the constant-time
            # comparison guards against a collation or index that matched loosely.
            if row is None or not hmac.compare_digest(row.token_hash, wanted):
                return None
            moderator = self._moderator(conn, row)
        now = datetime.now(UTC)
        last_used = _utc(row.last_used_at)
        if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
            try:
                self._mark_used(int(row.token_id), now)
            except StoreError as exc:
                # The token is good: a bookkeeping write that fails must not refuse a read.
                log.warning("could not record the use of moderator token %s: %s", row.token_id, exc)
        return moderator

    def _mark_used(self, token_id: int, now: datetime) -> None:
        with self.store.writing() as conn:
            # Several requests may find it stale at once: the condition lets one write.
            conn.execute(
                moderator_tokens.update()
                .where(
                    moderator_tokens.c.id == token_id,
                    (moderator_tokens.c.last_used_at.is_(None))
                    | (moderator_tokens.c.last_used_at < now - LAST_USED_RESOLUTION),
                )
                .values(last_used_at=now)
            )

    # Web sessions

    def create_session(
        self, moderator_id: int, *, ttl: timedelta, now: datetime | None = None
    ) -> tuple[str, str]:
        """A new web session: (session id for the cookie, CSRF token); only its hash is stored."""
        now = _now(now)
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.store.writing() as conn:
            row = conn.execute(
                select(moderators.c.disabled_at).where(moderators.c.id == moderator_id)
            ).first()
            if row is None:
                raise NotFoundError("no such moderator")
            if row.disabled_at is not None:
                raise AccountInputError("the moderator is disabled")
            conn.execute(
                insert(moderator_sessions).values(
                    id_hash=_session_hash(session_id),
                    moderator_id=moderator_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return session_id, csrf

    def session(
        self, session_id: str, *, now: datetime | None = None
    ) -> tuple[Moderator, str] | None:
        """The moderator and CSRF token of a live session, or None (expired, ended, disabled)."""
        if not session_id or len(session_id) > 200:
            return None
        with self.store.reading() as conn:
            row = conn.execute(
                select(
                    moderator_sessions.c.csrf_token,
                    moderators.c.id,
                    moderators.c.name,
                    moderators.c.is_admin,
                )
                .join(moderators, moderators.c.id == moderator_sessions.c.moderator_id)
                .where(
                    moderator_sessions.c.id_hash == _session_hash(session_id),
                    moderator_sessions.c.expires_at > _now(now),
                    moderators.c.disabled_at.is_(None),
                )
            ).first()
            if row is None:
                return None
            return self._moderator(conn, row), str(row.csrf_token)

    def end_session(self, session_id: str) -> None:
        """End a web session (log out); nothing happens when there is none."""
        with self.store.writing() as conn:
            conn.execute(
                delete(moderator_sessions).where(
                    moderator_sessions.c.id_hash == _session_hash(session_id)
                )
            )

    def end_sessions(self, moderator_id: int) -> int:
        """End every web session of a moderator (log out everywhere); how many ended."""
        with self.store.writing() as conn:
            return self._end_sessions(conn, moderator_id)

    def _end_sessions(self, conn: Connection, moderator_id: int) -> int:
        result = conn.execute(
            delete(moderator_sessions).where(moderator_sessions.c.moderator_id == moderator_id)
        )
        return int(result.rowcount)

    def purge_expired_sessions(self, now: datetime | None = None) -> int:
        """Delete the sessions expired by `now`; how many were deleted."""
        with self.store.writing() as conn:
            result = conn.execute(
                delete(moderator_sessions).where(moderator_sessions.c.expires_at <= _now(now))
            )
            return int(result.rowcount)
