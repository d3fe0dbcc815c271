"""The GCRA limiter in process: bursts, refills on a fake clock, separate keys, bounded memory."""

from __future__ import annotations

import asyncio

import pytest

from moderation.ratelimit import OFF, Decision, Hit, MemoryLimiter, Rate, gcra, retry_seconds


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def take_many(limiter: MemoryLimiter, count: int, *, rate: Rate, key: str = "k") -> list[bool]:
    return [limiter.take(Hit("scope", key, rate)).allowed for _ in range(count)]


def test_a_burst_passes_then_the_next_is_refused_with_a_retry_after() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    rate = Rate(per_second=2, burst=5)
    assert take_many(limiter, 5, rate=rate) == [True] * 5
    refused = limiter.take(Hit("scope", "k", rate))
    # One slot every 0.5 s.
    assert refused == Decision(allowed=False, retry_after=1, refused=Hit("scope", "k", rate))


def test_the_limit_refills_at_the_sustained_rate() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    rate = Rate.per_minute(10, burst=10)
    assert take_many(limiter, 10, rate=rate) == [True] * 10
    refused = limiter.take(Hit("scope", "k", rate))
    assert not refused.allowed
    assert refused.retry_after == 6  # one attempt every 6 s
    clock.advance(5.5)
    assert not limiter.take(Hit("scope", "k", rate)).allowed
    clock.advance(0.5)
    assert limiter.take(Hit("scope", "k", rate)).allowed
    assert not limiter.take(Hit("scope", "k", rate)).allowed
    clock.advance(60)  # a full minute: the whole burst is back, and no more
    assert take_many(limiter, 11, rate=rate) == [True] * 10 + [False]


def test_refused_requests_cost_nothing() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    rate = Rate(per_second=1, burst=1)
    assert limiter.take(Hit("scope", "k", rate)).allowed
    for _ in range(50):  # a client hammering while refused does not push its wait further
        assert limiter.take(Hit("scope", "k", rate)).retry_after == 1
    clock.advance(1)
    assert limiter.take(Hit("scope", "k", rate)).allowed


def test_other_keys_and_scopes_are_counted_apart() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    rate = Rate(per_second=1, burst=2)
    assert take_many(limiter, 3, rate=rate, key="198.51.100.1") == [True, True, False]
    assert take_many(limiter, 3, rate=rate, key="198.51.100.2") == [True, True, False]
    assert limiter.take(Hit("other-scope", "198.51.100.1", rate)).allowed


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    rate = Rate(per_second=1000, burst=1)
    assert limiter.take(Hit("scope", "k", rate)).allowed
    assert limiter.take(Hit("scope", "k", rate)).retry_after == 1
    assert retry_seconds(0.001) == 1
    assert retry_seconds(2.0) == 2
    assert retry_seconds(2.01) == 3


@pytest.mark.parametrize("rate", [OFF, Rate(0, 10), Rate(5, 0)])
def test_a_zero_turns_the_limit_off(rate: Rate) -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    assert not rate.enabled
    assert take_many(limiter, 1000, rate=rate) == [True] * 1000
    assert len(limiter) == 0  # nothing is even remembered


def test_a_flood_of_distinct_keys_keeps_memory_bounded() -> None:
    limiter = MemoryLimiter(max_keys=1000, clock=FakeClock())
    rate = Rate(per_second=1, burst=1)
    for n in range(20_000):
        assert limiter.take(Hit("ip", f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", rate)).allowed
    assert len(limiter) == 1000
    # The most recent keys are the ones remembered: they are still limited.
    assert not limiter.take(Hit("ip", "10.0.78.31", rate)).allowed  # n = 19_999


def test_the_async_hit_is_the_same_count() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    rate = Rate(per_second=1, burst=1)

    async def run() -> list[bool]:
        first = await limiter.hit(Hit("scope", "k", rate))
        second = await limiter.hit(Hit("scope", "k", rate))
        await limiter.close()
        return [first.allowed, second.allowed]

    assert asyncio.run(run()) == [True, False]


def test_gcra_is_a_pure_function_of_the_stored_time() -> None:
    rate = Rate(per_second=1, burst=2)
    assert gcra(None, 100.0, rate=rate) == (-1.0, 101.0)
    assert gcra(101.0, 100.0, rate=rate) == (0.0, 102.0)
    assert gcra(102.0, 100.0, rate=rate) == (1.0, 103.0)  # refused: wait a second
    # Long idle: an old time counts as now, not as credit.
    assert gcra(50.0, 100.0, rate=rate) == (-1.0, 101.0)


def test_a_request_counts_against_all_its_limits_or_none() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    by_ip = Hit("check-ip", "198.51.100.1", Rate(per_second=1, burst=2))
    by_site = Hit("check-site", "1", Rate(per_second=0.5, burst=3))
    assert limiter.take(by_ip, by_site).allowed
    assert limiter.take(by_ip, by_site).allowed
    refused = limiter.take(by_ip, by_site)
    assert refused == Decision(allowed=False, retry_after=1, refused=by_ip)
    # The refused request was not counted against the site: it has one request left.
    other_ip = Hit("check-ip", "198.51.100.2", by_ip.rate)
    assert limiter.take(other_ip, by_site).allowed
    refused = limiter.take(other_ip, by_site)
    assert refused == Decision(allowed=False, retry_after=2, refused=by_site)
    assert limiter.take(Hit("check-ip", "198.51.100.1", OFF), Hit("x", "y", OFF)).allowed


def test_rates_describe_themselves() -> None:
    assert Rate(50, 200).describe() == "50 per second, bursts of 200"
    assert Rate.per_minute(10, burst=10).describe() == "10 per minute, bursts of 10"


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        MemoryLimiter(max_keys=0)
