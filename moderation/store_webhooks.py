"""Storage of webhooks: each site's address and secret, and the deliveries owed to the blogs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from moderation.schema import sites, webhook_deliveries
from moderation.store import ConflictError, NotFoundError, Store, _utc
from moderation.webhooks import DeliveryState, check_webhook_url


@dataclass(frozen=True, slots=True)
class Webhook:
    """A site's webhook as an admin may see it: the address, never the secret."""

    site: str
    url: str
    has_secret: bool


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery claimed for sending, with the site's current secret (None: no webhook now)."""

    id: int
    site_id: int
    comment_id: str
    event_id: int
    url: str
    body: str
    attempts: int
    secret: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook call and the outcome of its latest attempt, as the admin sees it."""

    id: int
    site: str
    comment_id: str
    event_id: int
    url: str
    body: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None


def new_secret() -> str:
    """A fresh webhook secret: 256 random bits as 64 hex characters."""
    return secrets.token_hex(32)


def enqueue(
    conn: Connection,
    *,
    site_id: int,
    comment_id: str,
    event_id: int,
    body: str,
    now: datetime,
    url: str | None = None,
) -> int | None:
    """Owe the site a webhook call, in the caller's transaction; its id, or None with no webhook.

    `url` defaults to the site's webhook address read in the same transaction; `body` is the
    event as compact JSON (`webhooks.compact_json`). The sender picks the row up at once.
    """
    if url is None:
        url = conn.execute(select(sites.c.webhook_url).where(sites.c.id == site_id)).scalar()
    if not url:
        return None
    return int(
        conn.execute(
            insert(webhook_deliveries)
            .values(
                site_id=site_id,
                comment_id=comment_id,
                event_id=event_id,
                url=url,
                body=body,
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                last_error="",
                created_at=now,
            )
            .returning(webhook_deliveries.c.id)
        ).scalar_one()
    )


_DELIVERY_COLUMNS = (*webhook_deliveries.c, sites.c.name.label("site_name"))


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        site=row.site_name,
        comment_id=row.comment_id,
        event_id=row.event_id,
        url=row.url,
        body=row.body,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=_utc(row.next_attempt_at) or datetime.now(UTC),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=_utc(row.created_at) or datetime.now(UTC),
        delivered_at=_utc(row.delivered_at),
    )


class WebhookStore:
    """Webhook settings of the sites and the deliveries owed to them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _site_id(self, conn: Connection, site_name: str) -> int:
        site_id = conn.execute(select(sites.c.id).where(sites.c.name == site_name)).scalar()
        if site_id is None:
            raise NotFoundError(f"no site named {site_name!r}")
        return int(site_id)

    def set_webhook(self, site_name: str, url: str, *, rotate_secret: bool = False) -> str | None:
        """Call `url` on every status change; the secret when newly made or rotated, else None.

        The secret is made when the site has none (or replaced, with `rotate_secret`): it is
        returned this once so that it can be shown to the operator, and never again. Raises
        WebhookUrlError for an address that cannot be called, NotFoundError for no such site.
        """
        url = check_webhook_url(url)
        with self.store.writing() as conn:
            site_id = self._site_id(conn, site_name)
            current = conn.execute(
                select(sites.c.webhook_secret).where(sites.c.id == site_id)
            ).scalar()
            secret = new_secret() if rotate_secret or not current else None
            values: dict[str, Any] = {"webhook_url": url}
            if secret is not None:
                values["webhook_secret"] = secret
            conn.execute(sites.update().where(sites.c.id == site_id).values(**values))
        return secret

    def clear_webhook(self, site_name: str) -> int:
        """Stop calling the site: address and secret removed, what was still owed marked failed.

        Returns how many pending deliveries were given up (an admin can retry them after
        setting a webhook again).
        """
        now = datetime.now(UTC)
        with self.store.writing() as conn:
            site_id = self._site_id(conn, site_name)
            conn.execute(
                sites.update()
                .where(sites.c.id == site_id)
                .values(webhook_url="", webhook_secret=None)
            )
            result = conn.execute(
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.site_id == site_id,
                    webhook_deliveries.c.state == DeliveryState.PENDING.value,
                )
                .values(
                    state=DeliveryState.FAILED.value,
                    last_error="the site's webhook was removed",
                    next_attempt_at=now,
                )
            )
            return int(result.rowcount)

    def webhook_of(self, site_name: str) -> Webhook:
        """The site's webhook address (empty when none) and whether it has a secret."""
        with self.store.reading() as conn:
            row = conn.execute(
                select(sites.c.webhook_url, sites.c.webhook_secret).where(sites.c.name == site_name)
            ).first()
        if row is None:
            raise NotFoundError(f"no site named {site_name!r}")
        return Webhook(site=site_name, url=row.webhook_url, has_secret=bool(row.webhook_secret))

    def has_due(self, now: datetime) -> bool:
        """Whether any pending delivery is due: a cheap read before taking the write lock."""
        query = (
            select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.state == DeliveryState.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .limit(1)
        )
        with self.store.reading() as conn:
            return conn.execute(query).first() is not None

    def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[DueDelivery]:
        """Take up to `limit` due pending deliveries for sending, oldest due first.

        Each taken row's next attempt moves `lease` ahead in the same transaction, so no
        other sender (thread, process or instance) takes it while it is being sent; if this
        sender dies, the row is due again once the lease runs out. On PostgreSQL the rows are
        locked with SKIP LOCKED, so concurrent senders take different rows without waiting; on
        SQLite the write transaction serialises them.
        """
        query = (
            select(
                webhook_deliveries.c.id,
                webhook_deliveries.c.site_id,
                webhook_deliveries.c.comment_id,
                webhook_deliveries.c.event_id,
                webhook_deliveries.c.url,
                webhook_deliveries.c.body,
                webhook_deliveries.c.attempts,
                sites.c.webhook_secret,
            )
            .join(sites, sites.c.id == webhook_deliveries.c.site_id)
            .where(
                webhook_deliveries.c.state == DeliveryState.PENDING.value,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=webhook_deliveries)
        with self.store.writing() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + lease)
                )
        return [
            DueDelivery(
                id=r.id,
                site_id=r.site_id,
                comment_id=r.comment_id,
                event_id=r.event_id,
                url=r.url,
                body=r.body,
                attempts=r.attempts,
                secret=r.webhook_secret or None,
            )
            for r in rows
        ]

    def record_attempt(
        self,
        delivery_id: int,
        *,
        ok: bool,
        status_code: int | None,
        error: str,
        now: datetime,
        next_attempt_at: datetime | None,
        attempts_before: int | None = None,
    ) -> bool:
        """Record one attempt's outcome; whether the row was still pending and so updated.

        ok: delivered. Otherwise pending again at `next_attempt_at`, or failed for good when it
        is None. With `attempts_before`, the row is updated only if no other sender recorded an
        attempt since it was claimed.
        """
        if ok:
            values: dict[str, Any] = {"state": DeliveryState.DELIVERED.value, "delivered_at": now}
        elif next_attempt_at is None:
            values = {"state": DeliveryState.FAILED.value}
        else:
            values = {"state": DeliveryState.PENDING.value, "next_attempt_at": next_attempt_at}
        values.update(
            attempts=webhook_deliveries.c.attempts + 1,
            last_status_code=status_code,
            last_error=error[:2000],
        )
        conditions = [
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.state == DeliveryState.PENDING.value,
        ]
        if attempts_before is not None:
            conditions.append(webhook_deliveries.c.attempts == attempts_before)
        with self.store.writing() as conn:
            result = conn.execute(webhook_deliveries.update().where(*conditions).values(**values))
        return bool(result.rowcount)

    def deliveries(
        self,
        *,
        site: str | None = None,
        state: DeliveryState | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """The latest deliveries, newest first, of one site or all, in one state or any."""
        query = (
            select(*_DELIVERY_COLUMNS)
            .join(sites, sites.c.id == webhook_deliveries.c.site_id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        if state is not None:
            query = query.where(webhook_deliveries.c.state == state.value)
        with self.store.reading() as conn:
            if site is not None:
                query = query.where(webhook_deliveries.c.site_id == self._site_id(conn, site))
            rows = conn.execute(query).all()
        return [_delivery(row) for row in rows]

    def delivery(self, delivery_id: int) -> Delivery:
        """One delivery by id (NotFoundError when there is none)."""
        with self.store.reading() as conn:
            row = conn.execute(
                select(*_DELIVERY_COLUMNS)
                .join(sites, sites.c.id == webhook_deliveries.c.site_id)
                .where(webhook_deliveries.c.id == delivery_id)
            ).first()
        if row is None:
            raise NotFoundError(f"no webhook delivery {delivery_id}")
        return _delivery(row)

    def retry(self, delivery_id: int, *, now: datetime | None = None) -> Delivery:
        """Send a failed delivery again from now, with a fresh round of attempts.

        It goes to the site's current webhook address (the one it had may be the reason it
        failed). ConflictError unless it failed: a pending one is already owed, a delivered
        one arrived; ConflictError too when the site has no webhook now.
        """
        now = now or datetime.now(UTC)
        with self.store.writing() as conn:
            row = conn.execute(
                select(webhook_deliveries.c.state, sites.c.webhook_url)
                .join(sites, sites.c.id == webhook_deliveries.c.site_id)
                .where(webhook_deliveries.c.id == delivery_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no webhook delivery {delivery_id}")
            if row.state != DeliveryState.FAILED.value:
                raise ConflictError(
                    f"webhook delivery {delivery_id} is {row.state}: only a failed one is retried"
                )
            if not row.webhook_url:
                raise ConflictError("the site has no webhook now: set one first")
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    state=DeliveryState.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    url=row.webhook_url,
                )
            )
        return self.delivery(delivery_id)
