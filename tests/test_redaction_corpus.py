"""Recall and precision over the hand-labelled corpus; definitions in tests/redaction_metrics.py."""

from __future__ import annotations

import pytest

from tests.redaction_metrics import Scores, load_cases, score


@pytest.fixture(scope="module")
def scores() -> Scores:
    return score(load_cases())


def test_corpus_is_large_and_has_many_look_alikes() -> None:
    cases = load_cases()
    assert len(cases) >= 320
    assert sum(not case.emails for case in cases) >= 100
    assert all(case.note for case in cases)
    assert len({case.text for case in cases}) == len(cases)


def test_detection_recall(scores: Scores) -> None:
    assert scores.detection_recall >= 0.99, "\n".join(scores.misses)


def test_redaction_recall(scores: Scores) -> None:
    assert scores.redaction_recall >= 0.99, "\n".join(scores.misses)


def test_precision(scores: Scores) -> None:
    assert scores.precision >= 0.99, "\n".join(scores.false_hits)


def test_clean_cases_mostly_come_back_unchanged(scores: Scores) -> None:
    clean = sum(not case.emails for case in load_cases())
    assert scores.altered_clean <= 0.01 * clean, "\n".join(scores.false_hits)
