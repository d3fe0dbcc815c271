"""Three `moderation serve` processes on one PostgreSQL database behave as one service.

Each instance is a separate process with its own connection pool and caches, as replicas behind
a load balancer are: the duplicate and flood checks must hold across them (PostgreSQL advisory
locks), a moderator's decision and a revoked key or account must reach all of them (the
database, with the documented key-cache delay), and a model promoted on the shared models
folder must go live on each without a restart (the CURRENT pointer they poll).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moderation.store import Store, make_engine
from moderation.store_accounts import Accounts
from tests.conftest import MODELS_DIR
from tests.servers import ROOT, call, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

INSTANCES = 3
RACES = 20
# Store's default: how long an instance keeps a site key's lookup (and so accepts a revoked one).
KEY_CACHE_SECONDS = 2.0
MODEL_CHECK_SECONDS = 0.5
# The waits below only bound how long a failure takes to show on a busy machine.
START_SECONDS = 90.0
SLACK_SECONDS = 4.0


@dataclass(frozen=True)
class Cluster:
    """The instances' base URLs, the site key and a moderator token, and the shared folders."""

    bases: list[str]
    key: str
    token: str
    env: dict[str, str]
    models: Path
    store: Store


def cli(env: dict[str, str], *args: str) -> str:
    """Run `moderation ARGS` as an operator would on any host; its stdout, stripped."""
    done = subprocess.run(
        [sys.executable, "-m", "moderation.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"moderation {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout.strip()


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if call(base + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            pytest.fail(f"{base} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """A migrated database with site 'blog', moderator 'camille', and three instances on it."""
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    env = {**os.environ, "MODERATION_DATABASE_URL": pg_url,
           "MODERATION_MODELS_DIR": str(models), "MODERATION_DATA_DIR": str(tmp_path / "data"),
           # The documented deployment: one `migrate`, no first site made by a racing replica.
           "MODERATION_MIGRATE_ON_START": "false", "MODERATION_CREATE_FIRST_SITE": "false",
           "MODERATION_WORKERS": "1", "MODERATION_WEBHOOKS_ENABLED": "false",
           "MODERATION_MODEL_CHECK_SECONDS": str(MODEL_CHECK_SECONDS)}  # fmt: skip
    cli(env, "migrate")
    # A store of its own stands for the operator's commands on another host (as fast as they
    # are, without a command's seconds of start-up): its writes reach the instances only
    # through the database.
    store = Store(make_engine(pg_url))
    processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        for n in range(INSTANCES):
            port = free_port()
            log = tmp_path / f"instance{n}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "moderation.cli", "serve"], cwd=ROOT,
                    env={**env, "MODERATION_PORT": str(port)},
                    stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            processes.append((f"http://127.0.0.1:{port}", process, log))
        # The site and moderator are made while the instances start.
        _, key = store.create_site("blog", "https://blog.example")
        accounts = Accounts(store)
        accounts.create_moderator("camille", password="a long pass phrase", sites=["blog"])
        token = accounts.create_token("camille", label="tests")
        for base, process, log in processes:
            _wait_until_up(base, process, log)
        yield Cluster([base for base, _, _ in processes], key, token, env, models, store)
    finally:
        store.engine.dispose()
        for _, process, _ in processes:
            process.send_signal(signal.SIGINT)
        for _, process, _ in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def comment(n: int, *, email: str, ip: str, content: str, post: str = "") -> dict[str, Any]:
    """A plausible reader's comment."""
    return {"post_id": post or f"post-{n}", "author_name": f"Reader {n}", "author_email": email,
            "user_ip": ip, "content": content}  # fmt: skip


def together(sends: list[tuple[str, dict[str, Any]]], key: str) -> list[tuple[int, Any]]:
    """POST each (base, comment) to /v1/comments/check, all released at the same instant."""
    start = threading.Barrier(len(sends))

    def send(item: tuple[str, dict[str, Any]]) -> tuple[int, Any]:
        start.wait(timeout=30)
        return call(item[0] + "/v1/comments/check", item[1], key)

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return list(pool.map(send, sends))


def codes(body: dict[str, Any]) -> set[str]:
    """The reason codes of a check's answer."""
    return {reason["code"] for reason in body["reasons"]}


def check_duplicate_races(c: Cluster) -> list[str]:
    """Each comment sent to two instances at once is stored once; the ids of those stored."""
    sends = []
    for n in range(RACES):
        text = f"Thanks for the notes on week {n}; the reading list helped a lot."
        body = comment(n, email=f"racer{n}@example.org", ip=f"198.51.100.{n + 1}", content=text)
        sends += [(c.bases[n % INSTANCES], body), (c.bases[(n + 1) % INSTANCES], body)]
    answers = together(sends, c.key)
    assert all(status == 201 for status, _ in answers), answers
    kept = []
    for n in range(RACES):
        pair = [body for _, body in answers[2 * n : 2 * n + 2]]
        duplicates = [body for body in pair if "duplicate" in codes(body)]
        assert len(duplicates) == 1, f"race {n}: {pair}"
        assert duplicates[0]["verdict"] == "reject"
        (first,) = (body for body in pair if body is not duplicates[0])
        assert first["verdict"] != "reject", first
        kept.append(first["id"])
    return kept


def check_floods(c: Cluster) -> None:
    """Six comments from one address (then one email) over the instances at once: five held."""
    ip_flood = [
        (c.bases[n % INSTANCES],
         comment(n, email=f"neighbour{n}@example.org", ip="203.0.113.7",
                 content=f"Point {n} of the agenda deserves a second reading before Tuesday."))
        for n in range(6)
    ]  # fmt: skip
    # The email flood carries three links each, so the first is held too (too_many_links):
    # an approved first comment would make its author trusted and waive the flood rule.
    links = "https://a.example.org/x https://b.example.org/y https://c.example.org/z"
    email_flood = [
        (c.bases[n % INSTANCES],
         comment(n, email="prolific@example.org", ip=f"192.0.2.{n + 1}",
                 content=f"Sources for item {n}: {links}"))
        for n in range(6)
    ]  # fmt: skip
    for name, sends in (("ip", ip_flood), ("email", email_flood)):
        answers = together(sends, c.key)
        assert all(status == 201 for status, _ in answers), answers
        flooded = [body for _, body in answers if "flood" in codes(body)]
        assert len(flooded) == len(sends) - 1, f"{name} flood: {answers}"
        assert {body["verdict"] for body in flooded} == {"hold"}, flooded


def status_everywhere(c: Cluster, comment_id: str) -> list[str]:
    """The comment's status as each instance reports it to the site."""
    statuses = []
    for base in c.bases:
        code, body = call(f"{base}/v1/comments/{comment_id}", key=c.key)
        assert code == 200, body
        statuses.append(body["status"])
    return statuses


def check_decisions_are_shared(c: Cluster, comment_id: str) -> None:
    """A decision made through one instance is what every instance reports right after."""
    for n, (action, status) in enumerate((("spam", "spam"), ("approve", "approved"))):
        code, body = call(
            f"{c.bases[n]}/v1/comments/{comment_id}/actions", {"action": action}, c.token
        )
        assert code == 200, body
        assert status_everywhere(c, comment_id) == [status] * INSTANCES


def check_promotion_reaches_all(c: Cluster) -> float:
    """A version promoted in the shared folder goes live on every instance; seconds it took."""
    assert {call(base + "/healthz")[1]["model_version"] for base in c.bases} == {"v1"}
    shutil.copytree(c.models / "v1", c.models / "v-next")
    cli(c.env, "models", "promote", "v-next")
    promoted = time.monotonic()
    waiting = set(c.bases)
    while waiting and time.monotonic() < promoted + MODEL_CHECK_SECONDS + SLACK_SECONDS:
        waiting = {b for b in waiting if call(b + "/healthz")[1]["model_version"] != "v-next"}
        time.sleep(0.05)
    assert not waiting, "the promoted model did not reach these instances"
    took = time.monotonic() - promoted
    for n, base in enumerate(c.bases):
        body = comment(100 + n, email=f"late{n}@example.org", ip=f"198.51.100.{200 + n}",
                       content="A late thank-you for the minutes of the last meeting.")  # fmt: skip
        assert call(base + "/v1/comments/check", body, c.key)[1]["model_version"] == "v-next"
    return took


def check_revocations_reach_all(c: Cluster, comment_id: str) -> float:
    """A revoked key and a disabled moderator are refused everywhere; the key's delay."""
    # Every instance has just used the key, so each holds it in its cache.
    assert status_everywhere(c, comment_id)
    assert c.store.revoke_key(c.key[:16]) == 1
    revoked = time.monotonic()
    Accounts(c.store).disable("camille")
    # Moderator tokens are read from the database on every request: refused at once.
    for base in c.bases:
        code, _ = call(f"{base}/v1/comments/{comment_id}", key=c.token)
        assert code == 401, base
    waiting = set(c.bases)
    while waiting and time.monotonic() < revoked + KEY_CACHE_SECONDS + SLACK_SECONDS:
        waiting = {b for b in waiting if call(f"{b}/v1/comments/{comment_id}", key=c.key)[0] != 401}
        time.sleep(0.05)
    assert not waiting, "these instances still accept the revoked key"
    took = time.monotonic() - revoked
    for base in c.bases:
        body = comment(0, email="after@example.org", ip="198.51.100.250", content="Still here?")
        assert call(base + "/v1/comments/check", body, c.key)[0] == 401
    return took


def test_three_instances_on_one_database_act_as_one(cluster: Cluster) -> None:
    kept = check_duplicate_races(cluster)
    check_floods(cluster)
    check_decisions_are_shared(cluster, kept[0])
    model_seconds = check_promotion_reaches_all(cluster)
    key_seconds = check_revocations_reach_all(cluster, kept[1])
    # Figures for whoever runs this with -s: how long the shared state took to spread.
    print(f"\npromoted model live everywhere after {model_seconds:.2f} s; "
          f"revoked key refused everywhere after {key_seconds:.2f} s")  # fmt: skip
