"""Login throttling policy: thresholds per name and per address, doubling lockout, capped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moderation.login_guard import (
    FailureTally,
    LoginDecision,
    LoginLimits,
    decide,
    ip_key,
    name_key,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LIMITS = LoginLimits()
NONE = FailureTally()


def tally(count: int, seconds_ago: float = 0) -> FailureTally:
    return FailureTally(count, NOW - timedelta(seconds=seconds_ago))


def test_below_the_thresholds_logins_are_allowed() -> None:
    assert decide(tally(4), tally(19), now=NOW, limits=LIMITS) == LoginDecision(True)


def test_the_fifth_failure_of_a_name_locks_it_for_a_minute() -> None:
    assert decide(tally(5), NONE, now=NOW, limits=LIMITS) == LoginDecision(False, 60)
    assert decide(tally(5, 59.5), NONE, now=NOW, limits=LIMITS) == LoginDecision(False, 1)
    assert decide(tally(5, 60), NONE, now=NOW, limits=LIMITS).allowed


def test_twenty_failures_from_an_address_lock_it() -> None:
    assert decide(NONE, tally(20, 10), now=NOW, limits=LIMITS) == LoginDecision(False, 50)


def test_each_further_failure_doubles_the_wait_up_to_the_cap() -> None:
    waits = [decide(tally(n), NONE, now=NOW, limits=LIMITS).retry_after for n in range(5, 12)]
    assert waits == [60, 120, 240, 480, 900, 900, 900]
    assert decide(tally(10_000), NONE, now=NOW, limits=LIMITS).retry_after == 900


def test_the_longer_of_two_lockouts_is_the_wait() -> None:
    assert decide(tally(5), tally(22), now=NOW, limits=LIMITS).retry_after == 240


def test_names_fold_case_and_width() -> None:
    assert name_key("  Alice ") == name_key("ALICE") == name_key("ａｌｉｃｅ") == "alice"


def test_ipv6_addresses_of_one_network_count_together() -> None:
    assert ip_key("2001:db8:1:2::5") == ip_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert ip_key("2001:db8:1:3::5") != ip_key("2001:db8:1:2::5")
    assert ip_key("203.0.113.9") == "203.0.113.9"
    assert ip_key("testclient") == "testclient"
