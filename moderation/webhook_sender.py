"""The background sender of webhook calls: claims due deliveries, signs and POSTs them, retries.

Every process of the service runs one; `claim_due` makes sure that no two of them (nor two
instances on one database) send the same delivery at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from moderation import __version__, webhooks
from moderation.store import Store
from moderation.store_webhooks import DueDelivery, WebhookStore

log = logging.getLogger(__name__)

# Deliveries sent at once: one slow blog must not hold up the calls owed to the others.
_PARALLEL = 8


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave: delivered, else the HTTP status (if any) and the error."""

    ok: bool
    status_code: int | None
    error: str


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookSender:
    """A daemon thread that sends the deliveries as they fall due, until `close()`."""

    def __init__(
        self,
        store: Store,
        *,
        poll_seconds: float,
        timeout_seconds: float,
        max_attempts: int = webhooks.MAX_ATTEMPTS,
        retry_delay: Callable[[int], float] = webhooks.retry_delay,
        clock: Callable[[], datetime] = _now,
        transport: httpx.BaseTransport | None = None,
        start: bool = True,
    ) -> None:
        self.webhooks = WebhookStore(store)
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.clock = clock
        # A claimed delivery is nobody else's for this long. Only the response's headers are
        # awaited (the body is never read), so an attempt takes at most the connect, write and
        # read timeouts; the lease leaves ample room for that.
        self.lease = timedelta(seconds=max(60.0, 10 * timeout_seconds))
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": f"moderation-webhooks/{__version__}"},
        )
        self._pool = ThreadPoolExecutor(_PARALLEL, thread_name_prefix="moderation-webhook")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start polling on a daemon thread (done by the constructor unless `start=False`)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="moderation-webhook-sender", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop polling; attempts under way finish (each bounded by the timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.run_once() >= _PARALLEL
                failures = 0
            except Exception:  # the service must go on: a database outage passes
                failures += 1
                log.exception("sending webhooks failed (%d in a row); trying again", failures)
            if not busy:
                # While the database is down, wait longer each time (up to a minute), so that
                # the log is not flooded with the same error every second.
                backoff = min(self.poll_seconds * 2 ** min(failures, 6), 60.0)
                self._stop.wait(max(self.poll_seconds, backoff))

    def run_once(self) -> int:
        """Send the deliveries due now (at most a batch); how many were attempted."""
        now = self.clock()
        if not self.webhooks.has_due(now):
            return 0
        due = self.webhooks.claim_due(now, limit=_PARALLEL, lease=self.lease)
        for future in [self._pool.submit(self._attempt, d) for d in due]:
            future.result()
        return len(due)

    def _attempt(self, delivery: DueDelivery) -> None:
        try:
            outcome = self.send(delivery)
        except Exception as exc:  # a bug here must cost one attempt, not the sender
            log.exception("webhook delivery %d: sending raised", delivery.id)
            outcome = Outcome(False, None, f"internal error: {exc.__class__.__name__}")
        try:
            self._record(delivery, outcome)
        except Exception:  # the lease runs out and the delivery is tried again
            log.exception("webhook delivery %d: recording the attempt failed", delivery.id)

    def send(self, delivery: DueDelivery) -> Outcome:
        """POST one delivery's body, signed with the site's secret; what came of it."""
        if delivery.secret is None:
            return Outcome(False, None, "the site has no webhook secret")
        body = delivery.body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: webhooks.sign(delivery.secret, body),
            webhooks.EVENT_HEADER: str(delivery.event_id),
            webhooks.DELIVERY_HEADER: str(delivery.id),
        }
        try:
            # Streamed so that the response body is never read: the status is the answer.
            with self._client.stream("POST", delivery.url, content=body, headers=headers) as r:
                status = r.status_code
                reason = r.reason_phrase
        except httpx.TimeoutException as exc:
            return Outcome(False, None, f"timed out: {exc.__class__.__name__}")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{exc.__class__.__name__}: {exc}")
        if 200 <= status < 300:
            return Outcome(True, status, "")
        note = " (redirects are not followed)" if 300 <= status < 400 else ""
        return Outcome(False, status, f"HTTP {status} {reason}".rstrip() + note)

    def _record(self, delivery: DueDelivery, outcome: Outcome) -> None:
        now = self.clock()
        attempts = delivery.attempts + 1
        retry_at: datetime | None = None
        if not outcome.ok and attempts < self.max_attempts and delivery.secret is not None:
            retry_at = now + timedelta(seconds=self.retry_delay(attempts))
        recorded = self.webhooks.record_attempt(
            delivery.id,
            ok=outcome.ok,
            status_code=outcome.status_code,
            error=outcome.error,
            now=now,
            next_attempt_at=retry_at,
            attempts_before=delivery.attempts,
        )
        if not recorded:
            log.warning("webhook delivery %d changed while it was being sent", delivery.id)
        elif outcome.ok:
            log.info("webhook delivery %d: delivered to %s", delivery.id, delivery.url)
        else:
            left = "given up" if retry_at is None else f"retry at {retry_at:%H:%M:%S}"
            log.warning(
                "webhook delivery %d to %s: %s (attempt %d, %s)",
                delivery.id,
                delivery.url,
                outcome.error,
                attempts,
                left,
            )
