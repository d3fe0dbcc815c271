"""The metric objects on their own, and `moderation serve --workers 2` sharing them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from moderation.domain import Decision, Reason, ReasonCode, Verdict
from moderation.metrics import (
    OTHER_METHOD,
    Metrics,
    forget_dead_processes,
    method_label,
    multiprocess_dir,
)
from tests.conftest import MODELS_DIR
from tests.servers import call, free_port, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition text, keyed by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over the series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def decision(verdict: Verdict, *codes: ReasonCode) -> Decision:
    return Decision(verdict, 0.5, tuple(Reason(code, code.value) for code in codes))


def test_in_process_the_values_live_in_a_registry_of_each_app() -> None:
    assert multiprocess_dir() is None
    first, second = Metrics(), Metrics()
    first.count_decision("blog", decision(Verdict.HOLD, ReasonCode.FLOOD, ReasonCode.DUPLICATE))
    first.count_decision("blog", decision(Verdict.HOLD, ReasonCode.FLOOD))
    first.count_decision("news", decision(Verdict.APPROVE))
    first.observe_request("POST", "/v1/comments/check", 201, 0.003)

    samples = parse(first.render().decode())

    assert total(samples, "moderation_verdicts_total", site="blog", verdict="hold") == 2
    assert total(samples, "moderation_verdicts_total", site="news", verdict="approve") == 1
    assert total(samples, "moderation_reasons_total", site="blog", reason="flood") == 2
    assert total(samples, "moderation_reasons_total", site="blog", reason="duplicate") == 1
    assert total(samples, "moderation_reasons_total", site="news") == 0
    # 3 ms falls in the 5 ms bucket and not in the 2.5 ms one.
    bucket = "moderation_http_request_duration_seconds_bucket"
    assert total(samples, bucket, le="0.0025") == 0
    assert total(samples, bucket, le="0.005") == 1
    assert total(parse(second.render().decode()), "moderation_verdicts_total") == 0


def test_batches_and_checkpoints_fall_in_their_buckets() -> None:
    metrics = Metrics()
    metrics.observe_batch(1, 0.0008)
    metrics.observe_batch(12, 0.004)
    metrics.observe_checkpoint(0.02, forced=False)
    metrics.observe_checkpoint(0.006, forced=True)
    samples = parse(metrics.render().decode())

    checks = "moderation_writer_batch_checks_bucket"
    assert total(samples, checks, le="1.0") == 1
    assert total(samples, checks, le="8.0") == 1  # 12 is above it
    assert total(samples, checks, le="16.0") == 2
    assert total(samples, "moderation_writer_batch_checks_sum") == 13
    batch_time = "moderation_writer_batch_duration_seconds_bucket"
    assert total(samples, batch_time, le="0.001") == 1
    assert total(samples, batch_time, le="0.005") == 2
    assert total(samples, "moderation_sqlite_checkpoints_total", forced="true") == 1
    assert total(samples, "moderation_sqlite_checkpoints_total", forced="false") == 1
    pause = "moderation_sqlite_checkpoint_duration_seconds_bucket"
    assert total(samples, pause, le="0.01") == 1
    assert total(samples, pause, le="0.025") == 2


def test_model_info_follows_the_live_version() -> None:
    metrics = Metrics()
    metrics.model_live("v1")
    metrics.model_live("v2")
    samples = parse(metrics.render().decode())
    assert total(samples, "moderation_model_info", version="v2") == 1
    assert total(samples, "moderation_model_info", version="v1") == 0


def test_unknown_methods_share_one_label() -> None:
    assert method_label("POST") == "POST"
    assert method_label("PROPFIND") == OTHER_METHOD


def test_the_live_gauges_of_dead_processes_are_forgotten(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_file = tmp_path / f"gauge_livemax_{gone.pid}.db"
    live_file = tmp_path / f"gauge_livemax_{os.getpid()}.db"
    counter_file = tmp_path / f"counter_{gone.pid}.db"
    for file in (dead_file, live_file, counter_file):
        file.write_bytes(b"")
    assert forget_dead_processes(tmp_path) == [gone.pid]
    # A dead worker's counts still add up; only its "I serve this model" goes.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live_file.name, counter_file.name])


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


@pytest.mark.slow
def test_the_workers_of_serve_add_up_their_counts(tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    shared = tmp_path / "metrics"
    shared.mkdir()
    # Left by an earlier run: it must not be read (it is not even a valid file).
    (shared / "counter_1.db").write_bytes(b"stale")
    port = free_port()
    env = {**os.environ, "MODERATION_DATA_DIR": str(tmp_path / "data"),
           "MODERATION_MODELS_DIR": str(models), "MODERATION_PORT": str(port),
           "MODERATION_METRICS_DIR": str(shared)}  # fmt: skip
    env.pop("MODERATION_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # Generous: two workers import scikit-learn and load the model on a possibly busy host.
    with serving(env, tmp_path / "server.log", "--workers", "2") as running:
        base, key = running.base, running.first_key()
        # Both workers up: each says which model it serves in a file of its own.
        deadline = time.monotonic() + 90
        while len(list(shared.glob("gauge_livemax_*.db"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(list(shared.glob("gauge_livemax_*.db"))) == 2

        n = 40

        def post(i: int) -> int:
            return call(
                base + "/v1/comments/check",
                {"post_id": f"p{i % 5}", "author_name": f"Reader {i}",
                 "author_email": f"reader{i}@example.org",
                 "content": f"Comment {i}: the library should stay open later during exams."},
                key,
            )[0]  # fmt: skip

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(post, range(n))) == [201] * n

        live = call(base + "/healthz")[1]["model_version"]
        for _ in range(6):  # each scrape may land on either worker: all see every count
            samples = parse(_get_text(base + "/metrics"))
            assert total(samples, "moderation_verdicts_total", site="default") == n
            requests = "moderation_http_requests_total"
            assert total(samples, requests, route="/v1/comments/check", status="201") == n
            assert total(samples, "moderation_model_info", version=live) == 1
            pending = frozenset({("site", "default"), ("status", "pending")})
            assert ("moderation_queue_comments", pending) in samples
