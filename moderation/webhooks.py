"""Webhooks told of every status change: signing, verifying, backoff and URL checks (no I/O).

A blog verifies a call by computing `sign(secret, raw_body)` itself and comparing it with the
X-Moderation-Signature header in constant time, as `verify` does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Moderation-Signature"
EVENT_HEADER = "X-Moderation-Event"
DELIVERY_HEADER = "X-Moderation-Delivery"
SIGNATURE_PREFIX = "sha256="

# Ten attempts, the waits drawn from 10 s, 20 s, 40 s ... up to 2,560 s: a blog that is down
# for about an hour and a half at most is still told; after that the admin retries by hand.
MAX_ATTEMPTS = 10
BASE_DELAY_SECONDS = 10.0
MAX_DELAY_SECONDS = 3600.0
MAX_URL_LENGTH = 2000


class DeliveryState(StrEnum):
    """Where one webhook call stands."""

    PENDING = "pending"  # due at next_attempt_at (first try or a retry)
    DELIVERED = "delivered"  # the blog answered 2xx
    FAILED = "failed"  # every attempt failed, or the webhook was removed; the admin may retry


class WebhookUrlError(ValueError):
    """A webhook address the service will not call."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`: "sha256=" + hex HMAC-SHA256 keyed by `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is `sign(secret, body)`, compared in constant time."""
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def retry_delay(
    attempt: int,
    *,
    rand: Callable[[], float] = random.random,
    base: float = BASE_DELAY_SECONDS,
    cap: float = MAX_DELAY_SECONDS,
) -> float:
    """Seconds to wait after the `attempt`-th failed attempt (1 = the first): full jitter.

    Uniform between 0 and min(cap, base * 2^(attempt-1)), so that many deliveries failing
    together (a blog that went down) do not come back in step; `rand` returns [0, 1).
    """
    exponent = min(max(attempt, 1) - 1, 62)  # 2**62 is past any cap; beyond it would only grow
    return rand() * min(cap, base * 2.0**exponent)


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook address (http/https, a host, no credentials), or None."""
    if not url:
        return "the webhook address is empty"
    if len(url) > MAX_URL_LENGTH:
        return f"the webhook address is longer than {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "the webhook address contains spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        return f"the webhook address cannot be read: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return "the webhook address must start with http:// or https://"
    if not parts.hostname:
        return "the webhook address has no host"
    if parts.username is not None or parts.password is not None:
        # The address is shown to admins and kept in logs: the signature authenticates us.
        return "the webhook address must not hold a user name or password"
    return None


def check_webhook_url(url: str) -> str:
    """`url` stripped, when it can be a webhook address; raises WebhookUrlError otherwise."""
    url = url.strip()
    problem = webhook_url_problem(url)
    if problem:
        raise WebhookUrlError(problem)
    return url


def compact_json(payload: Mapping[str, Any]) -> str:
    """The body of a webhook call: compact JSON, keys sorted, non-ASCII kept as UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
