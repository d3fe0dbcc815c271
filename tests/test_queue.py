"""The queue's pure rules: what each action does, cursors, LIKE patterns, reputation domains."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from moderation import queue
from moderation.domain import CommentStatus, Label, ModerationAction, ReasonCode
from moderation.queue import QueueFilter, QueueSort

PENDING, APPROVED = CommentStatus.PENDING, CommentStatus.APPROVED
SPAM, TRASH = CommentStatus.SPAM, CommentStatus.TRASH
AT = datetime(2026, 11, 25, 12, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        (ModerationAction.APPROVE, (PENDING, None), (APPROVED, Label.HAM)),
        (ModerationAction.SPAM, (PENDING, None), (SPAM, Label.SPAM)),
        (ModerationAction.HAM, (SPAM, Label.SPAM), (APPROVED, Label.HAM)),
        (ModerationAction.TRASH, (SPAM, Label.SPAM), (TRASH, Label.SPAM)),
        (ModerationAction.TRASH, (PENDING, None), (TRASH, None)),
    ],
)
def test_each_action_sets_status_and_label(
    action: ModerationAction,
    before: tuple[CommentStatus, Label | None],
    after: tuple[CommentStatus, Label | None],
) -> None:
    assert queue.transition(action, *before) == after


@pytest.mark.parametrize("action", [ModerationAction.DELETE, ModerationAction.UNDO])
def test_delete_and_undo_are_not_transitions(action: ModerationAction) -> None:
    with pytest.raises(ValueError, match="not a status change"):
        queue.transition(action, CommentStatus.PENDING, None)


def test_undo_cancels_the_latest_action_still_in_force() -> None:
    a, s, u = ModerationAction.APPROVE, ModerationAction.SPAM, ModerationAction.UNDO
    assert queue.undo_stack([]) == []
    assert queue.undo_stack([(1, a), (2, s)]) == [1, 2]
    assert queue.undo_stack([(1, a), (2, s), (3, u)]) == [1]
    assert queue.undo_stack([(1, a), (2, s), (3, u), (4, u)]) == []
    assert queue.undo_stack([(1, a), (2, u), (3, u)]) == []  # nothing left: no error here
    assert queue.undo_stack([(1, a), (2, s), (3, u), (4, ModerationAction.TRASH)]) == [1, 4]


@pytest.mark.parametrize("sort", list(QueueSort))
def test_cursor_round_trips_exactly(sort: QueueSort) -> None:
    token = queue.encode_cursor(sort, probability=0.1 + 0.2, created_at=AT, row_id="abc")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # safe in a URL as it is
    at = queue.decode_cursor(token, sort)
    assert (at.probability, at.created_at, at.id) == (0.1 + 0.2, AT, "abc")


def test_cursor_keeps_utc_from_any_offset() -> None:
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    token = queue.encode_cursor(QueueSort.NEWEST, probability=0.5, created_at=local, row_id="x")
    assert queue.decode_cursor(token, QueueSort.NEWEST).created_at == AT


@pytest.mark.parametrize(
    "token", ["", "not a cursor", "%%%", "W10", "WzEsInByb2JhYmlsaXR5IiwwLjUsIngiLCJ5Il0", "e30"]
)
def test_a_damaged_cursor_is_a_value_error_naming_the_cursor(token: str) -> None:
    with pytest.raises(ValueError, match=r"^cursor: "):
        queue.decode_cursor(token, QueueSort.PROBABILITY)


def test_a_cursor_of_another_sort_is_refused() -> None:
    token = queue.encode_cursor(QueueSort.NEWEST, probability=0.5, created_at=AT, row_id="x")
    with pytest.raises(ValueError, match="sort=newest"):
        queue.decode_cursor(token, QueueSort.OLDEST)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("50%", "50!%"),
        ("a_b", "a!_b"),
        ("wow!", "wow!!"),
        ("!%_", "!!!%!_"),
        ("x' OR 1=1", "x' OR 1=1"),
    ],
)
def test_like_metacharacters_are_made_literal(value: str, escaped: str) -> None:
    assert queue.escape_like(value) == escaped
    assert queue.contains_pattern(value) == f"%{escaped}%"


def test_reason_pattern_matches_the_stored_json_shape() -> None:
    assert queue.reason_pattern(ReasonCode.TOO_MANY_LINKS) == '%"code": "too!_many!_links"%'


def test_limit_is_checked() -> None:
    assert queue.clamp_limit(1) == 1
    assert queue.clamp_limit(200) == 200
    for bad in (0, -1, 201):
        with pytest.raises(ValueError, match=r"^limit: "):
            queue.clamp_limit(bad)


def test_filter_needs_a_status_and_aware_times() -> None:
    assert QueueFilter().statuses == (CommentStatus.PENDING, CommentStatus.SPAM)
    with pytest.raises(ValueError, match=r"^statuses: "):
        QueueFilter(statuses=())
    with pytest.raises(ValueError, match=r"^since: "):
        QueueFilter(since=datetime(2026, 1, 1))  # naive: the point of the test


def test_ids_are_uuids() -> None:
    assert queue.looks_like_id("0f8fad5b-d9cb-469f-a165-70867728950e")
    assert not queue.looks_like_id("0f8fad5b-d9cb-469f-a165-70867728950")
    assert not queue.looks_like_id("0f8fad5b-d9cb-469f-a165-70867728950\x00")
    assert not queue.looks_like_id("'; DROP TABLE comments; --  ------------")


def test_spam_marks_skip_common_hosts_and_www() -> None:
    domains = ["www.Casino-Bonus.example", "en.wikipedia.org", "youtube.com", "localhost"]
    assert queue.marked_domains(domains) == ["casino-bonus.example"]


def test_a_mark_on_a_domain_concerns_its_subdomains() -> None:
    assert queue.domains_to_look_up(["www.a1.spam.example"]) == ["a1.spam.example", "spam.example"]
    assert queue.domains_to_look_up([]) == []


def test_labelling_actions() -> None:
    labelling = {a for a in ModerationAction if queue.is_labelling(a)}
    assert labelling == {ModerationAction.APPROVE, ModerationAction.SPAM, ModerationAction.HAM}
