"""The writer process: checks scored, judged and stored in a child, answered on the event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
import types
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient

from moderation import artifacts, checking, rules
from moderation.app import create_app, wants_writer_process
from moderation.batching import BatchObserver, CheckJob, check_batch
from moderation.domain import Comment, Decision, ReasonCode, Score, Verdict
from moderation.policy import SitePolicy
from moderation.store import Site, Store, StoredCheck, StoreError
from moderation.writer_process import WriterProcess, _dumps, _loads
from tests.conftest import MODELS_DIR, make_settings

SPAM = "Cheap viagra cialis without prescription, order now at pills-shop.example"
HAM = "The council vote was on Tuesday, not Monday. Otherwise a fair summary."
T = TypeVar("T")


def slow_judge(comment: Comment, policy: SitePolicy, facts: rules.Facts, score: Score) -> Decision:
    """`checking.judge`, a second late: long enough to stop the child in the middle of it."""
    time.sleep(1.0)
    return checking.judge(comment, policy, facts, score)


def comment(i: int) -> Comment:
    return Comment(
        content=f"{SPAM if i % 2 else HAM} ({i})",
        author_name=f"Reader {i}",
        author_email=f"reader{i}@example.org",
        user_ip=f"192.0.2.{i % 250}",
        post_id="p",
    )


def job(site: Site, c: Comment, judge: Callable[..., Decision] = checking.judge) -> CheckJob:
    return CheckJob(site, c, datetime.now(UTC), partial(judge, c, site.policy))


def with_writer(
    tmp_path: Path,
    database_url: str,
    store: Store,
    body: Callable[[WriterProcess], Awaitable[T]],
    *,
    ready: bool = True,
    observe: BatchObserver | None = None,
) -> T:
    """Run `body` with a writer process on the event loop (once its child is ready, unless
    `ready` is False), and stop the writer after it."""
    settings = make_settings(tmp_path, database_url, writer_process=True)
    shipped = artifacts.load_current(MODELS_DIR)

    async def main() -> T:
        writer = await WriterProcess.start(settings, store, lambda: shipped, observe=observe)
        try:
            if ready:
                await until_ready(writer)
            return await body(writer)
        finally:
            await writer.aclose()

    return asyncio.run(main())


async def until_ready(writer: WriterProcess) -> None:
    for _ in range(600):
        if writer.ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the writer process did not start within 30 s")


def test_checks_are_stored_and_answered_as_one_process_would(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)
    comments = [comment(i) for i in range(40)]
    copy = comment(0)  # the same author, post and text as the first: a duplicate

    async def body(writer: WriterProcess) -> tuple[list[StoredCheck | BaseException], int, int]:
        first = await asyncio.gather(*(writer.submit(job(site, c)) for c in comments))
        again = await asyncio.gather(writer.submit(job(site, copy)), return_exceptions=True)
        return [*first, *again], writer.batches, writer.batches_here

    results, by_child, here = with_writer(tmp_path, database_url, store, body)
    assert by_child >= 2  # the forty, in one batch or more, then the copy
    assert here == 0
    assert all(isinstance(r, StoredCheck) for r in results)
    stored = [r for r in results if isinstance(r, StoredCheck)]
    for c, result in zip(comments, stored, strict=False):
        alone = model.classifier.score(checking.text_input(c))
        assert result.decision.spam_probability == pytest.approx(alone.spam_probability)
        assert result.model_version == model.version
        assert store.get_comment(site.id, result.id)["content"] == c.content
    assert stored[-1].decision.verdict is Verdict.REJECT
    assert next(r.code for r in stored[-1].decision.reasons) is ReasonCode.DUPLICATE


def test_each_batch_the_child_answers_is_told_with_its_size_and_time(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")
    told: list[tuple[int, float]] = []

    async def body(writer: WriterProcess) -> int:
        await asyncio.gather(*(writer.submit(job(site, comment(i))) for i in range(25)))
        await writer.submit(job(site, comment(100)))
        return writer.batches

    batches = with_writer(
        tmp_path, database_url, store, body, observe=lambda n, s: told.append((n, s))
    )
    assert len(told) == batches
    assert sum(n for n, _ in told) == 26
    assert told[-1][0] == 1  # the last check, sent alone
    assert all(seconds > 0 for _, seconds in told)


def test_checks_are_answered_while_the_child_starts(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")

    async def body(writer: WriterProcess) -> tuple[StoredCheck, bool, int]:
        stored = await writer.submit(job(site, comment(1)))
        return stored, writer.ready, writer.batches_here

    stored, ready, here = with_writer(tmp_path, database_url, store, body, ready=False)
    assert store.get_comment(site.id, stored.id)["content"] == comment(1).content
    assert not ready  # the child was still importing its libraries
    assert here == 1


def test_a_child_that_dies_fails_only_its_batch_and_a_new_one_takes_over(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")

    async def body(
        writer: WriterProcess,
    ) -> tuple[object, list[StoredCheck], list[int | None], int]:
        first = writer.pid
        slow = asyncio.ensure_future(writer.submit(job(site, comment(2), slow_judge)))
        await asyncio.sleep(0.5)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        lost = await asyncio.gather(slow, return_exceptions=True)
        meanwhile = await writer.submit(job(site, comment(3)))  # checked here
        await until_ready(writer)
        batches = writer.batches
        after = await writer.submit(job(site, comment(4)))
        return lost[0], [meanwhile, after], [first, writer.pid], writer.batches - batches

    lost, stored, (first, second), by_child = with_writer(tmp_path, database_url, store, body)
    assert isinstance(lost, StoreError)
    assert "try again" in str(lost)
    assert [store.get_comment(site.id, s.id)["content"] for s in stored] == [
        comment(3).content,
        comment(4).content,
    ]
    assert first != os.getpid()
    assert second not in (first, None)
    assert by_child == 1


def test_the_child_scores_with_the_version_the_service_names(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    current = artifacts.current_version(models)
    shutil.copytree(models / current, models / "v-next")
    live = [artifacts.load(models / current)]
    settings = make_settings(tmp_path, database_url, writer_process=True, models_dir=models)

    async def main() -> list[str]:
        writer = await WriterProcess.start(settings, store, lambda: live[0])
        await until_ready(writer)
        try:
            before = await writer.submit(job(site, comment(1)))
            live[0] = artifacts.load(models / "v-next")  # what a promotion or SIGHUP does
            after = await writer.submit(job(site, comment(2)))
            return [before.model_version, after.model_version]
        finally:
            await writer.aclose()

    assert asyncio.run(main()) == [current, "v-next"]


def test_closing_finishes_the_waiting_checks_then_stops_the_child(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")
    settings = make_settings(tmp_path, database_url, writer_process=True)
    model = artifacts.load_current(MODELS_DIR)

    async def main() -> tuple[list[StoredCheck | BaseException], int | None]:
        writer = await WriterProcess.start(settings, store, lambda: model)
        pid = writer.pid
        pending = [asyncio.ensure_future(writer.submit(job(site, comment(i)))) for i in range(30)]
        await asyncio.sleep(0)  # all thirty are waiting
        await writer.aclose()
        refused = await asyncio.gather(
            writer.submit(job(site, comment(99))), return_exceptions=True
        )
        return [*await asyncio.gather(*pending, return_exceptions=True), *refused], pid

    results, pid = asyncio.run(main())
    stored = [r for r in results[:30] if isinstance(r, StoredCheck)]
    assert len(stored) == 30
    assert [store.get_comment(site.id, r.id)["content"] for r in stored] == [
        comment(i).content for i in range(30)
    ]
    assert isinstance(results[30], StoreError)  # after closing: refused, not lost
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_check_that_cannot_be_sent_fails_alone(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    site, _ = store.create_site("blog")
    c = comment(1)
    unsendable = CheckJob(site, c, datetime.now(UTC), lambda facts, score: checking.judge(
        c, site.policy, facts, score))  # fmt: skip

    async def body(writer: WriterProcess) -> list[StoredCheck | BaseException]:
        failed = await asyncio.gather(writer.submit(unsendable), return_exceptions=True)
        return [*failed, await writer.submit(job(site, comment(2)))]

    failed, stored = with_writer(tmp_path, database_url, store, body)
    assert isinstance(failed, StoreError)
    assert isinstance(stored, StoredCheck)


def test_the_service_checks_in_its_writer_process_and_stops_it_on_shutdown(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    _, key = store.create_site("blog")
    app = create_app(make_settings(tmp_path, database_url, writer_process=True))
    with TestClient(app) as client:
        pid = app.state.writer.pid
        assert client.get("/healthz").json()["writer"] == "starting"
        assert pid is not None
        assert pid != os.getpid()
        answer = client.post(
            "/v1/comments/check",
            headers={"Authorization": f"Bearer {key}"},
            json={"post_id": "p", "author_name": "Ann", "author_email": "ann@example.org",
                  "user_ip": "192.0.2.7", "content": HAM},
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        assert answer.json()["verdict"] == "approve"
        status = client.get(answer.headers["Location"], headers={"Authorization": f"Bearer {key}"})
        assert status.json()["verdict"] == "approve"
        for _ in range(600):
            if client.get("/healthz").json()["writer"] == "process":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the writer process did not start within 30 s")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_what_crosses_between_the_processes_arrives_whole(store: Store) -> None:
    site, _ = store.create_site("blog")
    model = artifacts.load_current(MODELS_DIR)
    jobs = [job(site, comment(i)) for i in range(4)]
    outcomes = check_batch(store, lambda: model, jobs)
    version, sent = _loads(_dumps((model.version, jobs)))
    assert version == model.version
    assert [(j.site, j.comment, j.now, j.is_test) for j in sent] == [
        (j.site, j.comment, j.now, j.is_test) for j in jobs
    ]
    assert _loads(_dumps(outcomes)) == outcomes
    assert all(isinstance(o, StoredCheck) and o.decision.reasons for o in outcomes)


@pytest.mark.parametrize(
    ("configured", "workers", "cores", "wanted"),
    [
        (None, 1, 2, True),  # the default on the development machine: a core each
        (None, 2, 2, False),  # four busy processes on two cores would only take turns
        (None, 2, 4, True),
        (None, 1, 1, False),
        (True, 2, 2, True),  # as configured, whatever the cores
        (False, 1, 8, False),
    ],
)
def test_a_writer_process_is_used_where_there_are_two_cores_per_worker(
    tmp_path: Path, configured: bool | None, workers: int, cores: int, wanted: bool
) -> None:
    settings = make_settings(tmp_path, "sqlite://", writer_process=configured, workers=workers)
    assert wants_writer_process(settings, cores) is wanted


def test_a_batch_the_child_cannot_read_fails_alone_and_the_child_goes_on(
    tmp_path: Path, database_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, _ = store.create_site("blog")
    # A judgement from a module only this process has: it pickles here, by name, and cannot be
    # found in the child.
    ghost = types.ModuleType("moderation_ghost_module")
    exec("def judge(comment, policy, facts, score): ...", ghost.__dict__)
    monkeypatch.setitem(sys.modules, ghost.__name__, ghost)

    async def body(writer: WriterProcess) -> tuple[object, StoredCheck, bool]:
        pid = writer.pid
        failed = await asyncio.gather(
            writer.submit(job(site, comment(1), ghost.judge)), return_exceptions=True
        )
        stored = await writer.submit(job(site, comment(2)))
        return failed[0], stored, writer.pid == pid and writer.ready

    failed, stored, same_child = with_writer(tmp_path, database_url, store, body)
    assert isinstance(failed, StoreError)
    assert store.get_comment(site.id, stored.id)["content"] == comment(2).content
    assert same_child
