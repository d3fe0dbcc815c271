"""SIGKILL durability: a server killed mid-load keeps every comment it answered, once.

Comments go in from 32 keep-alive connections, each with its own `external_id`; after a seeded
20-80% of the answers the whole server (supervisor and workers) gets SIGKILL. Restarted on the
same database it must hold every comment it answered 2xx for, none twice, answer a retry of
each lost one (same `external_id`) with the stored decision (200) or store it then (201), and
the database must be sound.
"""

from __future__ import annotations

import http.client
import os
import random
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.soak.harness import (
    Client,
    Figures,
    Server,
    comment,
    env_number,
    first_key,
    server_env,
    start,
)

CHECK = "/v1/comments/check"
THREADS = 32
SEED = int(env_number("MODERATION_SOAK_SEED", 20261125))


@dataclass
class Submitted:
    """What the clients saw of one round."""

    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    unsent: set[str] = field(default_factory=set)
    errors_before_kill: int = 0


def _submit(server: Server, key: str, bodies: list[dict[str, Any]], kill_after: int) -> Submitted:
    """Send `bodies` from THREADS connections; SIGKILL the server at answer `kill_after`."""
    seen = Submitted()
    lock = threading.Lock()
    killed = threading.Event()
    cursor = iter(bodies)

    def client_thread() -> None:
        client = Client(server.port, key, timeout=30)
        try:
            while True:
                with lock:
                    body = next(cursor, None)
                    if body is None:
                        return
                    if killed.is_set():
                        seen.unsent.add(body["external_id"])
                        continue
                try:
                    answer = client.request("POST", CHECK, body)
                except (OSError, http.client.HTTPException):
                    with lock:
                        seen.lost.add(body["external_id"])
                        seen.errors_before_kill += not killed.is_set()
                    continue
                with lock:
                    seen.answers[body["external_id"]] = answer
                    kill_now = len(seen.answers) == kill_after
                    if kill_now:
                        # Set first: the resets the kill causes in other threads are expected.
                        killed.set()
                if kill_now:
                    server.kill()
        finally:
            client.close()

    threads = [threading.Thread(target=client_thread) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert killed.is_set(), "the server was never killed"
    return seen


def _stored(database_url: str, prefix: str) -> dict[str, list[tuple[str, str]]]:
    """external_id -> [(id, verdict)] of the stored comments whose external_id starts so."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT external_id, id, verdict FROM comments WHERE external_id LIKE :p"),
                {"p": prefix + "%"},
            ).all()
            duplicates = conn.execute(
                text(
                    "SELECT external_id FROM comments WHERE external_id IS NOT NULL"
                    " GROUP BY site_id, external_id HAVING count(*) > 1"
                )
            ).all()
    finally:
        engine.dispose()
    assert duplicates == [], f"external_ids stored twice: {duplicates[:10]}"
    stored: dict[str, list[tuple[str, str]]] = {}
    for external_id, comment_id, verdict in rows:
        stored.setdefault(external_id, []).append((comment_id, verdict))
    return stored


def _integrity(database_url: str) -> str:
    """'ok' when SQLite's integrity and foreign key checks pass. PostgreSQL has no such check
    to run: there the counts, the uniqueness and a new write, checked before, are the test."""
    if not database_url.startswith("sqlite"):
        return "ok"
    conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        conn.close()
    assert result == [("ok",)], result
    assert foreign == [], foreign
    return "ok"


def _post_all(port: int, key: str, bodies: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """POST every body (THREADS keep-alive connections); the answers in order."""
    local = threading.local()
    clients: list[Client] = []

    def post(body: dict[str, Any]) -> tuple[int, Any]:
        if not hasattr(local, "client"):
            local.client = Client(port, key)
            clients.append(local.client)
        client: Client = local.client
        return client.request("POST", CHECK, body)

    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            return list(pool.map(post, bodies))
    finally:
        for client in clients:
            client.close()


def _one_round(
    server: Server, key: str, database_url: str, figures: Figures, *, number: int, comments: int
) -> Server:
    """Load, kill, restart and check; returns the restarted server."""
    rng = random.Random(SEED + number)
    kill_after = rng.randint(comments * 20 // 100, comments * 80 // 100)
    prefix = f"r{number}-"
    bodies = [comment(f"{prefix}{i}", number * comments + i) for i in range(comments)]
    by_id = {body["external_id"]: body for body in bodies}
    seen = _submit(server, key, bodies, kill_after)
    refused = {ext: answer for ext, answer in seen.answers.items() if answer[0] not in {200, 201}}
    assert refused == {}, f"non-2xx answers: {list(refused.items())[:5]}"
    assert seen.errors_before_kill == 0, "answers were lost before the kill"

    # Every other start has two workers: SIGKILL must take down the supervisor and its workers.
    server = start({**server.env, "MODERATION_WORKERS": str(_workers(number + 1))}, server.log_path)
    stored = _stored(database_url, prefix)
    missing = [ext for ext in seen.answers if ext not in stored]
    assert missing == [], f"answered 2xx but not stored: {missing[:10]}"
    twice = {ext: rows for ext, rows in stored.items() if len(rows) != 1}
    assert twice == {}
    for ext, (_, body) in seen.answers.items():
        assert stored[ext][0] == (body["id"], body["verdict"]), ext

    # A retry of every comment whose answer was lost or that was never sent.
    retried = sorted(seen.lost | seen.unsent)
    # And of some answered ones: the blog cannot know which of its answers were the last.
    again = rng.sample(sorted(seen.answers), min(20, len(seen.answers)))
    answers = _post_all(server.port, key, [by_id[ext] for ext in retried + again])
    for ext, (status, body) in zip(retried + again, answers, strict=True):
        if ext in stored:
            assert status == 200, (ext, status, body)
            assert (body["id"], body["verdict"]) == stored[ext][0], ext
        else:
            assert status == 201, (ext, status, body)
    # The blog reads them back by the ids it was answered.
    reader = Client(server.port, key)
    try:
        for ext in again[:10]:
            status, body = reader.request("GET", f"/v1/comments/{seen.answers[ext][1]['id']}")
            assert status == 200, (ext, status, body)
    finally:
        reader.close()
    after = _stored(database_url, prefix)
    assert sorted(after) == sorted(by_id)
    assert all(len(rows) == 1 for rows in after.values())
    # The restarted server takes new writes.
    fresh = _post_all(server.port, key, [comment(f"{prefix}fresh", 10**7 + number)])
    assert fresh[0][0] == 201, fresh

    figures.add(
        rounds=1,
        comments_sent=len(seen.answers) + len(seen.lost),
        answers_2xx=len(seen.answers),
        lost_answers=len(seen.lost),
        never_sent=len(seen.unsent),
        lost_but_stored=sum(ext in stored for ext in seen.lost),
        retries_200=sum(status == 200 for status, _ in answers),
        retries_201=sum(status == 201 for status, _ in answers),
        stored=len(after),
        duplicates=len(twice),
        missing=len(missing),
    )
    figures.values["integrity"] = _integrity(database_url)
    return server


def _workers(start_number: int) -> int:
    return 2 if start_number % 2 == 0 else 1


def _rounds(
    tmp_path: Path, database_url: str, *, rounds: int, comments: int, first_workers: int = 2
) -> Figures:
    """`rounds` kill-and-restart rounds of `comments` comments on one database."""
    figures = Figures(f"kill {database_url.split(':', 1)[0]}, seed {SEED}")
    env = server_env(tmp_path, database_url, workers=first_workers)
    server = start(env, tmp_path / "server.log")
    try:
        key = first_key(server.log())
        for number in range(rounds):
            server = _one_round(
                server, key, database_url, figures, number=number, comments=comments
            )
    finally:
        server.stop()
    figures.show()
    return figures


def test_a_killed_server_keeps_every_answered_comment_once(
    tmp_path: Path, database_url: str
) -> None:
    # Two workers cost ~10 s more to start; the killed pair of workers is SQLite's concern
    # (several processes writing one WAL), PostgreSQL's soak run kills pairs too.
    workers = 2 if database_url.startswith("sqlite") else 1
    _rounds(tmp_path, database_url, rounds=1, comments=300, first_workers=workers)


@pytest.mark.soak
def test_repeated_kills_lose_and_duplicate_nothing(tmp_path: Path, database_url: str) -> None:
    rounds = int(env_number("MODERATION_SOAK_ROUNDS", 10))
    comments = int(os.environ.get("MODERATION_SOAK_COMMENTS", "1000"))
    _rounds(tmp_path, database_url, rounds=rounds, comments=comments)
