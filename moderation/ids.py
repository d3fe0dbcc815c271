"""Identifiers of stored rows: UUIDs of version 7 (RFC 9562), which sort by creation time."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def time_ordered_id(at: datetime) -> str:
    """A new id for a row created at `at` (aware): its milliseconds since 1970, then 74 random
    bits, in the usual 36-character form.

    A random (version 4) id puts each new row at a random place in the primary key's index, so
    that every insert rewrites a page of its own; ids that grow with time land together on the
    index's last pages. The 74 random bits keep ids unguessable and unique; the time they show
    is the row's creation time, which its owner can read anyway.
    """
    milliseconds = (at - _EPOCH) // _MILLISECOND
    # One draw from the system's generator (each is a system call) for both random fields.
    random = secrets.randbits(74)
    value = (
        (milliseconds & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76  # version 7
        | (random >> 62) << 64
        | 0b10 << 62  # the RFC's variant
        | random & 0x3FFF_FFFF_FFFF_FFFF
    )
    return str(UUID(int=value))
