"""GCRA rate limits kept in Redis, so that every worker and every instance shares one count.

One request costs one round trip: an EVALSHA of a Lua script that reads the key's theoretical
arrival time, decides and writes it back atomically, with Redis's own clock (instances on
several hosts need not agree on the time). A key expires when its bucket is full again.

When Redis cannot be reached the request is allowed (fail open) and a warning is logged at
most once a minute: a blog's comments must not be refused because the limiter's store is down.
After a failure Redis is left alone for `retry_seconds`, so that an outage costs the requests
no connection attempt each.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio
import redis.exceptions

from moderation.ratelimit import ALLOWED, Clock, Decision, Hit, retry_seconds

log = logging.getLogger(__name__)
# The hash tag ({...}) puts every key in one Redis Cluster slot: a script may touch several.
KEY_PREFIX = "moderation:{ratelimit}:"
WARN_EVERY_SECONDS = 60.0

# KEYS: one per hit. ARGV[1]: the time in microseconds, or "" for Redis's clock; then per hit
# its interval and burst tolerance (burst * interval) in microseconds. All or nothing: refused
# when any hit is over its limit, and then nothing is written. Returns {refused hit (1-based)
# or 0, wait in µs}. Microseconds since the epoch (~1.8e15) are exact in Lua's doubles.
GCRA_SCRIPT = """
local now
if ARGV[1] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local new_tats = {}
local refused, longest = 0, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call("GET", key))
  if tat == nil or tat < now then
    tat = now
  end
  new_tats[i] = tat + interval
  local wait = new_tats[i] - tolerance - now
  if wait > longest then
    refused, longest = i, wait
  end
end
if refused > 0 then
  return {refused, math.ceil(longest)}
end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.ceil((new_tats[i] - now) / 1000) + 1
  redis.call("SET", key, string.format("%d", new_tats[i]), "PX", ttl_ms)
end
return {0, 0}
"""


class RedisLimiter:
    """GCRA in Redis at `url`; fails open (allows) while Redis does not answer.

    `clock`, when given, replaces Redis's clock (tests move time with it); `prefix` names the
    keys (tests keep theirs apart with it).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = KEY_PREFIX,
        timeout_seconds: float = 0.5,
        max_connections: int = 16,
        retry_seconds: float = 1.0,
        clock: Clock | None = None,
        monotonic: Clock = time.monotonic,
    ) -> None:
        # Bounded: a burst of concurrent requests shares a few connections (one script call is
        # a fraction of a millisecond) instead of opening one each. Requests wait their turn
        # on the semaphore, not in the pool: waiting is not a failure of Redis, and must not
        # switch the limits off while a flood is queued.
        self._slots = asyncio.Semaphore(max_connections)
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
        )
        self._redis = redis.asyncio.Redis(connection_pool=pool)
        self._script = self._redis.register_script(GCRA_SCRIPT)
        self._prefix = prefix
        self._clock = clock
        self._monotonic = monotonic
        self._retry_seconds = retry_seconds
        self._down_until = float("-inf")
        self._warned_at = float("-inf")

    async def hit(self, *hits: Hit) -> Decision:
        """Count a request against every limit of `hits` if it is within all of them (one round
        trip); allowed when Redis does not answer."""
        counted = [hit for hit in hits if hit.rate.enabled]
        if not counted:
            return ALLOWED
        args: list[str | int] = []
        for hit in counted:
            interval = round(hit.rate.interval * 1_000_000)
            args += [interval, interval * hit.rate.burst]
        async with self._slots:
            # Checked once a slot is free: the requests queued behind a failure skip Redis.
            if self._monotonic() < self._down_until:
                return ALLOWED
            now = "" if self._clock is None else str(round(self._clock() * 1_000_000))
            try:
                refused, wait = await self._script(
                    keys=[f"{self._prefix}{hit.scope}:{hit.key}" for hit in counted],
                    args=[now, *args],
                )
            except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
                self._failed(exc)
                return ALLOWED
        if not refused:
            return ALLOWED
        return Decision(
            allowed=False,
            retry_after=retry_seconds(int(wait) / 1_000_000),
            refused=counted[int(refused) - 1],
        )

    def _failed(self, exc: BaseException) -> None:
        now = self._monotonic()
        self._down_until = now + self._retry_seconds
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "rate limits are not enforced: Redis does not answer (%s); requests are allowed "
                "until it does",
                exc,
            )

    async def close(self) -> None:
        """Close the connections to Redis."""
        await self._redis.aclose(close_connection_pool=True)
