"""Row ids are version 7 UUIDs: unique, valid, and in the order of their creation times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from moderation import queue
from moderation.ids import time_ordered_id


def test_an_id_is_a_version_7_uuid_holding_its_millisecond() -> None:
    at = datetime(2026, 12, 6, 21, 50, 3, 123_456, tzinfo=UTC)
    value = UUID(time_ordered_id(at))
    assert value.version == 7
    assert value.variant == "specified in RFC 4122"
    assert value.int >> 80 == int(at.timestamp() * 1000)  # .123456 s: 123 ms
    assert queue.looks_like_id(str(value))


def test_ids_sort_as_their_times_do_and_never_repeat() -> None:
    start = datetime(2026, 12, 6, tzinfo=UTC)
    times = [start + timedelta(milliseconds=n) for n in range(0, 5000, 7)]
    ids = [time_ordered_id(at) for at in times]
    assert ids == sorted(ids)
    same_moment = {time_ordered_id(start) for _ in range(10_000)}
    assert len(same_moment) == 10_000


def test_another_time_zone_names_the_same_moment() -> None:
    at = datetime(2026, 12, 6, 12, tzinfo=UTC)
    paris = at.astimezone(datetime.fromisoformat("2026-12-06T13:00:00+01:00").tzinfo)
    assert UUID(time_ordered_id(paris)).int >> 80 == UUID(time_ordered_id(at)).int >> 80


def test_all_74_random_bits_vary_and_the_fixed_ones_do_not() -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    values = [UUID(time_ordered_id(at)).int for _ in range(2_000)]
    varying = 0
    for bit in range(128):
        seen = {value >> bit & 1 for value in values}
        varying += len(seen) == 2
    # 12 bits after the version, 62 after the variant; the time, version and variant are fixed.
    assert varying == 74
    assert {value >> 62 & 0b11 for value in values} == {0b10}
    assert {value >> 76 & 0xF for value in values} == {0x7}
