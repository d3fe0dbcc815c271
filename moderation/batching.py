"""Checks in batches: concurrent checks share one scoring pass and one commit.

`check_batch` scores, judges and stores one batch; `BatchWriter` runs it on a thread of the
serving process, `writer_process.WriterProcess` in a process beside it.

A request's comment is durable before its answer goes out, as with one commit per request;
grouping the comments that arrive while a batch is under way spares the database (and
SQLite's single writer lock) one transaction per comment, and the classifier one pass per
comment: its array arithmetic costs about as much for a batch as for a single comment.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from moderation import checking
from moderation.artifacts import LoadedModel
from moderation.domain import Comment, Decision, Score
from moderation.rules import Facts
from moderation.store import PendingCheck, Site, Store, StoredCheck, StoreError

log = logging.getLogger(__name__)
_STOP = object()


def settle(future: asyncio.Future[StoredCheck], outcome: StoredCheck | BaseException) -> None:
    """Answer a waiting check with its outcome, unless it was given up."""
    if future.done():
        return  # the client went away; its comment is stored all the same
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


@dataclass(frozen=True, slots=True)
class CheckJob:
    """A comment to score, judge and store; `decide(facts, score)` is the protocol's judgement."""

    site: Site
    comment: Comment
    now: datetime
    decide: Callable[[Facts, Score], Decision]
    is_test: bool = False


def _scored(
    decide: Callable[[Facts, Score], Decision], score: Score
) -> Callable[[Facts], Decision]:
    return lambda facts: decide(facts, score)


Outcome = StoredCheck | BaseException
# Told of each batch a writer has checked: how many checks it held, and the seconds from its
# leaving for the writer to its outcomes (for a writer process, as the serving process sees
# it: the socket and the wait behind the batch before it included).
BatchObserver = Callable[[int, float], None]


def tell(observe: BatchObserver | None, checks: int, seconds: float) -> None:
    """Tell `observe` of a batch; a fault there is logged, and never reaches the writer."""
    if observe is None:
        return
    try:
        observe(checks, seconds)
    except Exception:
        log.exception("could not count a batch of %d checks", checks)


def check_batch(
    store: Store, model: Callable[[], LoadedModel], jobs: list[CheckJob]
) -> list[Outcome]:
    """Score (with the model `model()` gives), judge and store a batch of checks; each outcome
    is its stored check or its error.

    Never raises: a fault, no model to score with included, fails every check of the batch
    with a StoreError (a 503), so that no request is left waiting.
    """
    try:
        live = model()
        scores = live.classifier.score_many([checking.text_input(job.comment) for job in jobs])
        pending = [
            PendingCheck(job.site, job.comment, _scored(job.decide, score), live.version,
                         job.now, is_test=job.is_test)
            for job, score in zip(jobs, scores, strict=True)
        ]  # fmt: skip
        return list(store.check_and_save_many(pending))
    except StoreError as exc:
        return [exc] * len(jobs)
    except Exception as exc:  # a bug must not leave requests waiting forever
        log.exception("storing a batch of %d checks failed", len(jobs))
        return [StoreError(f"could not store the comment: {exc}")] * len(jobs)


# Where checks are scored and stored: a worker's writer process, a thread of the worker while
# that process starts, or a thread of the worker by configuration.
WriterState = Literal["process", "starting", "thread"]


class Writer(Protocol):
    """What the check routes need of a writer (`BatchWriter`, `writer_process.WriterProcess`)."""

    @property
    def state(self) -> WriterState:
        """Where checks are scored and stored now."""
        ...

    async def submit(self, job: CheckJob) -> StoredCheck:
        """Score, judge and store one check; returns once its transaction has committed."""
        ...

    async def aclose(self) -> None:
        """Finish the checks under way, then stop."""
        ...


class BatchWriter:
    """Collects checks from the event loop; scores and stores them in batches on one thread."""

    def __init__(
        self,
        store: Store,
        model: Callable[[], LoadedModel],
        *,
        max_batch: int = 128,
        observe: BatchObserver | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.max_batch = max_batch
        self.observe = observe
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="moderation-writer", daemon=True)
        self._thread.start()
        self.batches = 0
        self.items = 0

    @property
    def state(self) -> WriterState:
        """Always on this thread."""
        return "thread"

    async def submit(self, job: CheckJob) -> StoredCheck:
        """Score, judge and store one check; returns once its transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredCheck] = loop.create_future()
        self._queue.put((job, future, loop))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    async def aclose(self) -> None:
        """`close`, off the event loop."""
        await asyncio.to_thread(self.close)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._store(batch)
            if stop:
                return

    def _store(self, batch: list[Any]) -> None:
        started = time.perf_counter()
        results = check_batch(self.store, self.model, [job for job, _, _ in batch])
        self.batches += 1
        self.items += len(batch)
        for (_, future, loop), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(settle, future, result)
        tell(self.observe, len(batch), time.perf_counter() - started)
