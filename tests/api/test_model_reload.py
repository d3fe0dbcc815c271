"""A newly promoted model goes live without a restart: admin endpoint, SIGHUP, /healthz."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from moderation import artifacts
from moderation.app import create_app
from moderation.store_accounts import Accounts
from tests.conftest import MODELS_DIR, ROOT, make_settings
from tests.servers import call, free_port


def copy_models(tmp_path: Path) -> Path:
    """The shipped models folder, and a second version (the same files under another name)."""
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    current = artifacts.current_version(models)
    shutil.copytree(models / current, models / "v-next")
    return models


def point_at(models: Path, version: str) -> None:
    (models / "CURRENT").write_text(version + "\n")


@pytest.fixture
def admin_app(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, Path, str, str]]:
    """The app on a copy of the models: client, models folder, admin and moderator tokens."""
    models = copy_models(tmp_path)
    app = create_app(make_settings(tmp_path, database_url, models_dir=models))
    with TestClient(app) as client:
        accounts = Accounts(app.state.store)
        accounts.create_moderator("root", password="correct horse battery", admin=True)
        accounts.create_moderator("mod", password="correct horse battery")
        admin = accounts.create_token("root")
        moderator = accounts.create_token("mod")
        yield client, models, admin, moderator


def reload(client: TestClient, token: str) -> tuple[int, dict[str, object]]:
    response = client.post("/v1/admin/model/reload", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def test_reload_makes_the_promoted_version_live_and_healthz_names_it(
    admin_app: tuple[TestClient, Path, str, str],
) -> None:
    client, models, admin, _ = admin_app
    before = artifacts.current_version(models)
    assert reload(client, admin) == (200, {"version": before, "previous": before,
                                           "changed": False})  # fmt: skip

    point_at(models, "v-next")
    assert reload(client, admin) == (200, {"version": "v-next", "previous": before,
                                           "changed": True})  # fmt: skip
    assert client.get("/healthz").json()["model_version"] == "v-next"
    response = client.post(
        "/v1/comments/check", json={"content": "hello"}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401  # the service still answers as before


def test_a_broken_version_is_refused_and_the_live_one_keeps_serving(
    admin_app: tuple[TestClient, Path, str, str],
) -> None:
    client, models, admin, _ = admin_app
    live = artifacts.current_version(models)
    model_file = models / "v-next" / "model.joblib"
    model_file.write_bytes(model_file.read_bytes()[:-1] + b"\x00")
    point_at(models, "v-next")

    status, body = reload(client, admin)

    assert status == 409
    assert "does not match its metadata" in str(body["detail"])
    assert live in str(body["detail"])
    assert client.get("/healthz").json()["model_version"] == live


def test_reload_is_for_admins_only(admin_app: tuple[TestClient, Path, str, str]) -> None:
    client, models, _, moderator = admin_app
    point_at(models, "v-next")
    assert client.post("/v1/admin/model/reload").status_code == 401
    assert reload(client, moderator)[0] == 403
    assert reload(client, "mt_not-a-token")[0] == 401


@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_sighup_to_the_server_reloads_without_stopping_it(tmp_path: Path, workers: int) -> None:
    """`kill -HUP` of `moderation serve`: one worker reloads in place; with several, uvicorn's
    supervisor restarts them one by one. Either way the server stays up on the new version."""
    models = copy_models(tmp_path)
    port = free_port()
    env = {**os.environ, "MODERATION_DATA_DIR": str(tmp_path / "data"),
           "MODERATION_MODELS_DIR": str(models), "MODERATION_PORT": str(port),
           "MODERATION_WORKERS": str(workers),
           # Only the signal can make the new version live within the test's time.
           "MODERATION_MODEL_CHECK_SECONDS": "600"}  # fmt: skip
    env.pop("MODERATION_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moderation.cli", "serve"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a busy machine a worker takes many seconds to import and load.
        wait_for(lambda: healthz(base) is not None, what="start", log=log_path, seconds=90)
        first = healthz(base)
        point_at(models, "v-next")
        proc.send_signal(signal.SIGHUP)
        # With two workers, uvicorn restarts them one after the other, each old one ending
        # once its successor has started: until both old ones have ended, a request may still
        # reach one (ten answers in a row from the new version can all come from the first new
        # worker while the other old one is busy).
        if workers > 1:
            wait_for(
                lambda: (
                    log_path.read_text()
                    .partition("Received SIGHUP")[2]
                    .count("Finished server process")
                    >= workers
                ),
                what="restart every worker",
                log=log_path,
                seconds=90,
            )
        wait_for(
            lambda: all(healthz(base) == "v-next" for _ in range(10)),
            what="reload",
            log=log_path,
            seconds=90,
        )
        time.sleep(1.0)  # a default SIGHUP would have ended it by now
        assert proc.poll() is None, log_path.read_text()
        assert first != "v-next"
        assert healthz(base) == "v-next"
        if workers == 2:
            assert "Received SIGHUP, restarting processes" in log_path.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def healthz(base: str) -> str | None:
    """The live model version, or None while the server does not answer."""
    try:
        status, body = call(base + "/healthz")
    except OSError:
        return None
    return str(body["model_version"]) if status == 200 else None


def wait_for(condition: object, *, what: str, log: Path, seconds: float = 30) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    text = re.sub(r"mod_\S+", "KEY", log.read_text())
    pytest.fail(f"server did not {what} in {seconds} s:\n{text}")
