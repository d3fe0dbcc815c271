"""Login throttling: failures per account name and per client address decide a lockout.

Pure policy. After `name_failures` failures for a name (or `ip_failures` from one address)
within the window, logins are refused for a while without checking the password; each further
failure doubles the wait, up to `max_lockout`. Failures age out of the window, so every lockout
ends by itself.
"""

from __future__ import annotations

import ipaddress
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

# An IPv6 customer usually holds a whole /64: its addresses count as one.
_IPV6_PREFIX = 64
MAX_NAME_KEY_CHARS = 200


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures lock out, over what window, and for how long."""

    window: timedelta = timedelta(minutes=15)
    name_failures: int = 5
    ip_failures: int = 20
    first_lockout: timedelta = timedelta(minutes=1)
    max_lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class FailureTally:
    """The failures of one name or one address within the window: how many, and the latest."""

    count: int = 0
    latest: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoginDecision:
    """Whether a login may be tried now; when not, in how many whole seconds to try again."""

    allowed: bool
    retry_after: int = 0


ALLOWED = LoginDecision(allowed=True)


def name_key(name: str) -> str:
    """The key failures of an account name are counted under: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", name).casefold().strip()[:MAX_NAME_KEY_CHARS]


def ip_key(ip: str) -> str:
    """The key failures of a client address are counted under: the address, IPv6 by its /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


def lockout(tally: FailureTally, threshold: int, limits: LoginLimits) -> datetime | None:
    """Until when `tally` locks out (None when it does not): doubling per failure, capped."""
    if tally.latest is None or tally.count < threshold:
        return None
    doublings = min(tally.count - threshold, 32)
    wait = min(limits.first_lockout * (1 << doublings), limits.max_lockout)
    return tally.latest + wait


def decide(
    by_name: FailureTally, by_ip: FailureTally, *, now: datetime, limits: LoginLimits
) -> LoginDecision:
    """Whether a login for this name from this address may be tried at `now`."""
    ends = [
        end
        for end in (
            lockout(by_name, limits.name_failures, limits),
            lockout(by_ip, limits.ip_failures, limits),
        )
        if end is not None and end > now
    ]
    if not ends:
        return ALLOWED
    return LoginDecision(
        allowed=False, retry_after=max(1, math.ceil((max(ends) - now).total_seconds()))
    )
