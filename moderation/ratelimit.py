"""Rate limits: the generic cell rate algorithm (GCRA) and an in-process, bounded store for it.

Pure domain: no web, database or settings imports. A `Rate` allows `burst` requests at once and
then one every `1 / per_second` seconds; a key's whole state is one number, its theoretical
arrival time (TAT): the moment its bucket would be full again. A request is allowed when,
once it is added, the TAT lies no more than `burst` intervals ahead of now; when refused, the
caller learns in how many whole seconds one more would be allowed.

A request may count against several limits at once (its address's and its site's): it passes
only if it is within all of them, and only then is it counted in each.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

Clock = Callable[[], float]
# An entry is a float and a (scope, key) tuple in an OrderedDict: about 250 bytes, so the
# default bound keeps a flood of distinct addresses under ~25 MB.
DEFAULT_MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` requests sustained, `burst` at once; 0 in either turns the limit off."""

    per_second: float
    burst: int
    # Worked out once: every request of the check endpoint reads them.
    enabled: bool = field(init=False, repr=False, compare=False)
    interval: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        enabled = self.per_second > 0 and self.burst > 0
        object.__setattr__(self, "enabled", enabled)
        object.__setattr__(self, "interval", 1.0 / self.per_second if enabled else 0.0)

    @classmethod
    def per_minute(cls, count: float, *, burst: int) -> Rate:
        """`count` requests a minute sustained, `burst` at once."""
        return cls(count / 60.0, burst)

    def describe(self) -> str:
        """The rate in words, for an error message."""
        if self.per_second >= 1:
            sustained = f"{self.per_second:g} per second"
        else:
            sustained = f"{self.per_second * 60:g} per minute"
        return f"{sustained}, bursts of {self.burst}"


OFF = Rate(0, 0)


class Hit(NamedTuple):
    """One request of `key` counted in `scope` (what is limited: "check-ip") against `rate`."""

    scope: str
    key: str
    rate: Rate


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request may go on; when not, in how many whole seconds (1 or more) to retry,
    and which of its hits was refused (the one with the longest wait)."""

    allowed: bool
    retry_after: int = 0
    refused: Hit | None = None


ALLOWED = Decision(allowed=True)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits the service applies, by what they count."""

    check_per_key: Rate = OFF
    check_per_ip: Rate = OFF
    login_per_ip: Rate = OFF


class Limiter(Protocol):
    """Counts requests against rate limits."""

    async def hit(self, *hits: Hit) -> Decision:
        """Count a request against every limit of `hits` if it is within all of them."""
        ...

    async def close(self) -> None:
        """Release what the limiter holds (connections); it is not used after."""
        ...


def retry_seconds(wait: float) -> int:
    """A wait in seconds as the whole seconds of a Retry-After header: rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


def gcra(tat: float | None, now: float, *, rate: Rate) -> tuple[float, float]:
    """One request against a key whose TAT is `tat` (None: unseen) at `now`: (wait, new TAT).

    A wait above 0 is a refusal, in seconds; the new TAT is then not to be stored: refused
    requests cost nothing, so a client that waits that long is let through.
    """
    interval = rate.interval
    new_tat = max(now if tat is None else tat, now) + interval
    return new_tat - rate.burst * interval - now, new_tat


class MemoryLimiter:
    """GCRA over a bounded dict in this process: each worker counts alone.

    At most `max_keys` keys are kept; past that the least recently counted is forgotten (it
    gets a fresh burst if it comes back), so a flood of distinct keys cannot grow memory.
    """

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS, clock: Clock = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be 1 or more")
        self._tats: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def __len__(self) -> int:
        return len(self._tats)

    def take(self, *hits: Hit) -> Decision:
        """Count a request now against every limit of `hits` if it is within all of them."""
        tats = self._tats
        now = self._clock()
        updates: list[tuple[tuple[str, str], float]] = []
        refused: Hit | None = None
        longest = 0.0
        for hit in hits:
            if not hit.rate.enabled:
                continue
            entry = (hit.scope, hit.key)
            wait, tat = gcra(tats.get(entry), now, rate=hit.rate)
            if wait > longest:
                refused, longest = hit, wait
            updates.append((entry, tat))
        if refused is not None:
            return Decision(allowed=False, retry_after=retry_seconds(longest), refused=refused)
        # Only the event loop's thread calls this, so no lock: nothing here awaits.
        for entry, tat in updates:
            tats[entry] = tat
            tats.move_to_end(entry)
        if len(tats) > self._max_keys:
            for _ in range(len(tats) - self._max_keys):
                tats.popitem(last=False)
        return ALLOWED

    async def hit(self, *hits: Hit) -> Decision:
        """Count a request against every limit of `hits` if it is within all of them."""
        return self.take(*hits)

    async def close(self) -> None:
        """Nothing to release."""
