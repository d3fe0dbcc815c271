"""`moderation serve` as a new user runs it: a real server process, a first site, a check."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from moderation import artifacts
from tests.conftest import MODELS_DIR
from tests.servers import call, free_port, serving


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """`moderation serve` on a free port with its own data and models folders."""
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    port = free_port()
    env = {**os.environ, "MODERATION_DATA_DIR": str(tmp_path / "data"),
           "MODERATION_MODELS_DIR": str(models), "MODERATION_PORT": str(port),
           "MODERATION_WORKERS": str(request.param),
           # The concurrency test sends 300 checks at once with one key: past the site's burst.
           "MODERATION_RATELIMIT_CHECK_KEY_PER_SECOND": "0"}  # fmt: skip
    env.pop("MODERATION_DATABASE_URL", None)
    with serving(env, tmp_path / "server.log") as running:
        yield running.base, running.first_key(), models


def test_first_start_creates_a_site_and_the_quick_start_works(
    server: tuple[str, str, Path],
) -> None:
    base, key, _ = server
    status, body = call(
        base + "/v1/comments/check",
        {"post_id": "42", "author_name": "Camille", "author_email": "camille@example.org",
         "content": "The vote was on Tuesday, not Monday. Otherwise a fair summary."},
        key,
    )  # fmt: skip
    assert status == 201, body
    assert body["verdict"] == "approve"
    status, body = call(base + "/v1/comments/check", {"post_id": "1", "content": "x"}, "bad")
    assert status == 401


def test_a_promoted_model_goes_live_without_a_restart(server: tuple[str, str, Path]) -> None:
    base, _, models = server
    before = call(base + "/healthz")[1]["model_version"]
    shutil.copytree(models / before, models / "v-next")
    artifacts.promote(models, "v-next")
    # Every worker has its own copy: wait until several answers in a row show the new one.
    deadline = time.monotonic() + 20
    streak = 0
    while time.monotonic() < deadline and streak < 8:
        live = call(base + "/healthz")[1]["model_version"]
        streak = streak + 1 if live == "v-next" else 0
        time.sleep(0.1)
    assert streak >= 8, "the promoted model did not reach every worker"


def test_concurrent_writers_lose_nothing(server: tuple[str, str, Path]) -> None:
    """Every answered comment is stored, with no "database is locked" reaching a client."""
    base, key, _ = server

    def post(i: int) -> tuple[int, Any]:
        return call(
            base + "/v1/comments/check",
            {"post_id": f"p{i % 7}", "author_name": f"Reader {i}",
             "author_email": f"reader{i}@example.org", "user_ip": f"198.51.100.{i % 250}",
             "content": f"Comment {i}: the library should stay open later during exams."},
            key,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(post, range(300)))
    assert [status for status, _ in answers] == [201] * 300
    ids = {body["id"] for _, body in answers}
    assert len(ids) == 300
    for comment_id in list(ids)[::25]:
        status, body = call(base + f"/v1/comments/{comment_id}", key=key)
        assert status == 200
        assert body["status"] in {"approved", "pending", "spam"}
