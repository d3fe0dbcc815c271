"""The GCRA limiter in Redis: shared between limiter instances, atomic, open when Redis is down."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis

from moderation.ratelimit import Decision, Hit, Rate
from moderation.ratelimit_redis import RedisLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"
# Nothing listens on port 1: connecting is refused at once.
DEAD_URL = "redis://127.0.0.1:1/0"
T = TypeVar("T")


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except (redis.exceptions.RedisError, OSError):
        return False


needs_redis = pytest.mark.skipif(
    not _redis_answers(), reason=f"no Redis answers at {REDIS_URL}: shared rate limits untested"
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own (tests run in parallel on one Redis); removed after."""
    value = f"moderation-test:{uuid.uuid4().hex}:"
    yield value
    if _redis_answers():
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{value}*"))
        if keys:
            client.delete(*keys)


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


async def hits(limiter: RedisLimiter, count: int, *, rate: Rate) -> list[Decision]:
    return [await limiter.hit(Hit("scope", "k", rate)) for _ in range(count)]


@needs_redis
def test_two_limiters_on_one_redis_share_the_count(prefix: str) -> None:
    rate = Rate(per_second=1, burst=6)

    async def scenario() -> list[bool]:
        one, two = RedisLimiter(REDIS_URL, prefix=prefix), RedisLimiter(REDIS_URL, prefix=prefix)
        try:
            allowed = []
            for _ in range(4):  # alternate between two "instances": 8 requests, one budget of 6
                allowed.append((await one.hit(Hit("ip", "198.51.100.1", rate))).allowed)
                allowed.append((await two.hit(Hit("ip", "198.51.100.1", rate))).allowed)
            other = await two.hit(Hit("ip", "198.51.100.2", rate))
            allowed.append(other.allowed)
            return allowed
        finally:
            await one.close()
            await two.close()

    assert run(scenario) == [True] * 6 + [False, False] + [True]


@needs_redis
def test_a_flood_of_concurrent_requests_never_exceeds_the_burst(prefix: str) -> None:
    rate = Rate(per_second=0.01, burst=25)

    async def scenario() -> int:
        # Far more requests at once than connections: they queue, and the limit holds.
        limiters = [RedisLimiter(REDIS_URL, prefix=prefix, max_connections=2) for _ in range(3)]
        try:
            calls = [lim.hit(Hit("site", "7", rate)) for lim in limiters for _ in range(400)]
            decisions = await asyncio.gather(*calls)
            return sum(d.allowed for d in decisions)
        finally:
            for lim in limiters:
                await lim.close()

    assert run(scenario) == 25


@needs_redis
def test_a_request_counts_against_all_its_limits_in_one_call_or_none(prefix: str) -> None:
    clock = FakeClock(1_800_000_000.0)
    by_ip = Hit("check-ip", "198.51.100.1", Rate(per_second=1, burst=2))
    by_site = Hit("check-site", "1", Rate(per_second=0.5, burst=3))
    other_ip = Hit("check-ip", "198.51.100.2", by_ip.rate)

    async def scenario() -> list[Decision]:
        limiter = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
        try:
            return [
                await limiter.hit(by_ip, by_site),
                await limiter.hit(by_ip, by_site),
                await limiter.hit(by_ip, by_site),
                await limiter.hit(other_ip, by_site),
                await limiter.hit(other_ip, by_site),
            ]
        finally:
            await limiter.close()

    seen = run(scenario)
    assert [d.allowed for d in seen] == [True, True, False, True, False]
    assert seen[2] == Decision(allowed=False, retry_after=1, refused=by_ip)
    # The request the address's limit refused did not count against the site's.
    assert seen[4] == Decision(allowed=False, retry_after=2, refused=by_site)


@needs_redis
def test_the_limit_refills_with_the_clock(prefix: str) -> None:
    clock = FakeClock(1_800_000_000.0)
    rate = Rate.per_minute(10, burst=10)

    async def scenario() -> list[Decision]:
        limiter = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
        try:
            seen = await hits(limiter, 11, rate=rate)
            clock.now += 5.5
            seen += await hits(limiter, 1, rate=rate)
            clock.now += 0.5
            seen += await hits(limiter, 2, rate=rate)
            return seen
        finally:
            await limiter.close()

    seen = run(scenario)
    assert [d.allowed for d in seen] == [True] * 10 + [False, False, True, False]
    assert seen[10].retry_after == 6
    assert seen[11].retry_after == 1


@needs_redis
def test_redis_time_is_used_and_keys_expire(prefix: str) -> None:
    rate = Rate(per_second=0.5, burst=2)

    async def scenario() -> list[Decision]:
        limiter = RedisLimiter(REDIS_URL, prefix=prefix)
        try:
            return await hits(limiter, 3, rate=rate)
        finally:
            await limiter.close()

    seen = run(scenario)
    assert [d.allowed for d in seen] == [True, True, False]
    assert 1 <= seen[2].retry_after <= 2
    ttl_ms = redis.Redis.from_url(REDIS_URL).pttl(f"{prefix}scope:k")
    assert 0 < ttl_ms <= 4_001  # gone once the bucket is full again: Redis does not fill up


def test_redis_down_fails_open_and_warns_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    monotonic = FakeClock(0.0)
    rate = Rate(per_second=1, burst=1)

    async def scenario() -> list[Decision]:
        limiter = RedisLimiter(DEAD_URL, monotonic=monotonic, retry_seconds=1.0)
        try:
            seen = []
            for _ in range(30):  # 30 s of requests, 10 a second
                seen += await hits(limiter, 10, rate=rate)
                monotonic.now += 1.0
            monotonic.now += 31.0
            seen += await hits(limiter, 1, rate=rate)
            return seen
        finally:
            await limiter.close()

    with caplog.at_level(logging.WARNING, logger="moderation.ratelimit_redis"):
        seen = run(scenario)
    assert all(d.allowed for d in seen)
    warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(warnings) == 2  # at the start, and again past a minute
