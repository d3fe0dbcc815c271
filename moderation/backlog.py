"""Scoring a backlog: JSONL comments in, one decision per line out, on every core.

Nothing is stored and the database is not asked: duplicate, flood and reputation checks need
it and are skipped. Lines come out in the order they came in.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.pool import AsyncResult
from typing import Any, TextIO

from pydantic import ValidationError

from moderation import checking
from moderation.api.schemas import CommentIn, decision_body
from moderation.artifacts import LoadedModel
from moderation.domain import Comment, Decision
from moderation.policy import SitePolicy
from moderation.rules import Facts


@dataclass(frozen=True, slots=True)
class BacklogJob:
    """What every line is judged with: one model, one policy, one moment."""

    model: LoadedModel
    policy: SitePolicy
    facts: Facts


def refusal(exc: ValidationError) -> str:
    """One line saying why an input is not a comment: each field named with its problem."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    # A field name taken from the input may hold a lone surrogate, which JSON cannot carry.
    return "; ".join(parts).encode("utf-8", "replace").decode("utf-8")


def read_comment(raw: str | Mapping[str, Any], now: datetime) -> Comment | str:
    """A JSON text or a decoded object as a comment received at `now`, or why it is not one."""
    try:
        if isinstance(raw, str):
            return CommentIn.model_validate_json(raw).to_domain(now)
        return CommentIn.model_validate(raw).to_domain(now)
    except ValidationError as exc:
        return refusal(exc)


_CHUNK = 128
# One encoder for every line: json.dumps with an option builds a new one per call, which
# costs as much as encoding a decision. A record never contains itself: no circularity check.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def decide_all(
    job: BacklogJob, items: Sequence[Comment | str], *, evidence: bool = True
) -> list[tuple[Comment, Decision] | str]:
    """Each comment with its decision, in order, all scored in one batched classifier call; an
    item that is a refusal (a str) stays as it is in its place.

    Without `evidence`, a decision carries it only where its reasons name the terms (from the
    policy's unsure band up): for a caller that does not show the evidence itself.
    """
    evidence_from = 0.0 if evidence else job.policy.ham_threshold
    out: list[tuple[Comment, Decision] | str] = []
    # A chunk at a time: the links found while scoring a comment are still cached when the
    # rules look for them (links.py keeps the last 128 comments' links).
    for start in range(0, len(items), _CHUNK):
        chunk = items[start : start + _CHUNK]
        good = [item for item in chunk if isinstance(item, Comment)]
        scores = iter(
            job.model.classifier.score_many(
                [checking.text_input(c) for c in good], evidence_from=evidence_from
            )
        )
        out.extend(
            (item, checking.judge(item, job.policy, job.facts, next(scores)))
            if isinstance(item, Comment)
            else item
            for item in chunk
        )
    return out


def decide_lines(job: BacklogJob, lines: Sequence[tuple[int, str]]) -> str:
    """The output lines (each ending in a newline) for numbered input lines, in their order."""
    decided = decide_all(
        job, [read_comment(line, job.facts.now) for _, line in lines], evidence=False
    )
    out = []
    for (number, _), item in zip(lines, decided, strict=True):
        if isinstance(item, str):
            out.append(_encode({"line": number, "error": item}))
            continue
        comment, decision = item
        record = {
            "line": number,
            "external_id": comment.external_id or None,
            **decision_body(decision, evidence=False),
            "model_version": job.model.version,
        }
        out.append(_encode(record))
    return "".join(line + "\n" for line in out)


def _chunks(source: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    pending: list[tuple[int, str]] = []
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        pending.append((number, line))
        if len(pending) >= size:
            yield pending
            pending = []
    if pending:
        yield pending


# Set in the parent before the workers fork: they inherit the loaded model instead of each
# unpickling it again.
_JOB: BacklogJob | None = None


def _in_worker(lines: list[tuple[int, str]]) -> str:
    assert _JOB is not None
    return decide_lines(_JOB, lines)


def score_stream(
    job: BacklogJob, source: Iterable[str], out: TextIO, *, batch: int, jobs: int
) -> None:
    """Judge every line of `source` and write the decisions to `out`, using `jobs` processes."""
    if jobs <= 1:
        for chunk in _chunks(source, batch):
            out.write(decide_lines(job, chunk))
        return
    global _JOB
    _JOB = job
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            # A bounded window of batches in flight: a backlog of millions of lines is read as
            # it is scored, not all at once.
            window: deque[AsyncResult[str]] = deque()
            for chunk in _chunks(source, batch):
                window.append(pool.apply_async(_in_worker, (chunk,)))
                if len(window) >= 2 * jobs:
                    out.write(window.popleft().get())
            while window:
                out.write(window.popleft().get())
    finally:
        _JOB = None
