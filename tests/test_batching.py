"""The writer thread: concurrent checks scored together, stored together, answered apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from moderation import artifacts, checking
from moderation.batching import BatchWriter, CheckJob
from moderation.domain import Comment
from moderation.store import Site, Store, StoredCheck, StoreError, make_engine, migrate
from tests.conftest import MODELS_DIR

SPAM = "Cheap viagra cialis without prescription, order now at pills-shop.example"
HAM = "The council vote was on Tuesday, not Monday. Otherwise a fair summary."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'batch.db'}")
    migrate(engine)
    yield Store(engine)
    engine.dispose()


def job(site: Site, i: int) -> CheckJob:
    comment = Comment(
        content=f"{SPAM if i % 2 else HAM} ({i})",
        author_name=f"Reader {i}",
        author_email=f"reader{i}@example.org",
        user_ip=f"192.0.2.{i % 250}",
        post_id="p",
    )
    return CheckJob(site, comment, datetime.now(UTC), partial(checking.judge, comment, site.policy))


async def submit_all(
    writer: BatchWriter, jobs: list[CheckJob]
) -> list[StoredCheck | BaseException]:
    return await asyncio.gather(*(writer.submit(j) for j in jobs), return_exceptions=True)


def test_concurrent_checks_get_the_scores_they_would_get_alone(store: Store) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)
    writer = BatchWriter(store, lambda: model)
    try:
        jobs = [job(site, i) for i in range(60)]
        results = asyncio.run(submit_all(writer, jobs))
    finally:
        writer.close()
    assert writer.items == 60
    assert writer.batches < 60  # they were grouped
    for j, result in zip(jobs, results, strict=True):
        assert isinstance(result, StoredCheck)
        alone = model.classifier.score(checking.text_input(j.comment))
        assert result.decision.spam_probability == pytest.approx(alone.spam_probability)
        assert result.model_version == model.version
        assert store.get_comment(site.id, result.id)["content"] == j.comment.content


def test_each_batch_is_told_with_its_size_and_time(store: Store) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)
    told: list[tuple[int, float]] = []
    writer = BatchWriter(store, lambda: model, observe=lambda n, s: told.append((n, s)))
    try:
        results = asyncio.run(submit_all(writer, [job(site, i) for i in range(30)]))
    finally:
        writer.close()
    assert all(isinstance(r, StoredCheck) for r in results)
    assert len(told) == writer.batches
    assert sum(n for n, _ in told) == 30
    assert all(seconds > 0 for _, seconds in told)


def test_an_observer_that_fails_costs_no_check(store: Store) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)

    def broken(checks: int, seconds: float) -> None:
        raise RuntimeError("the metrics folder went away")

    writer = BatchWriter(store, lambda: model, observe=broken)
    try:
        first = asyncio.run(submit_all(writer, [job(site, i) for i in range(3)]))
        later = asyncio.run(submit_all(writer, [job(site, 100)]))
    finally:
        writer.close()
    assert all(isinstance(r, StoredCheck) for r in [*first, *later])


def test_a_scoring_failure_answers_every_waiting_check_and_the_writer_goes_on(
    store: Store,
) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)
    broken = [True]

    def current() -> artifacts.LoadedModel:
        if broken[0]:
            raise RuntimeError("the model file went away")
        return model

    writer = BatchWriter(store, current)
    try:
        failed = asyncio.run(submit_all(writer, [job(site, i) for i in range(5)]))
        broken[0] = False
        stored = asyncio.run(submit_all(writer, [job(site, 100)]))
    finally:
        writer.close()
    assert all(isinstance(r, StoreError) for r in failed)
    assert isinstance(stored[0], StoredCheck)
