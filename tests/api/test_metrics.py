"""GET /metrics in-process: request, verdict, model and queue figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from moderation import artifacts
from moderation.app import create_app
from tests.api.test_akismet import HAM as AKISMET_HAM
from tests.api.test_check import HAM, SPAM
from tests.conftest import MODELS_DIR, Service, make_settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **kwargs: Any) -> Samples:
    """Every sample of /metrics, keyed by name and labels; the text must parse."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value, 0 when the series is absent (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def check(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    response = service.client.post("/v1/comments/check", json=body, headers=service.auth)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_checks_show_up_by_route_template_verdict_and_reason(service: Service) -> None:
    comments = [
        HAM,
        SPAM,
        {**HAM, "author_email": "", "content": "No address given for this one, a fair point."},
        {**HAM, "content": "A second, different remark about the council vote and its date."},
    ]
    answers = [check(service, body) for body in comments]
    replay = {**HAM, "content": "Filed from the plugin, then retried.", "external_id": "wp-1"}
    answers.append(check(service, replay))
    assert check(service, replay)["id"] == answers[-1]["id"]  # a retry, not a new decision
    for answer in answers[:2]:
        response = service.client.get(f"/v1/comments/{answer['id']}", headers=service.auth)
        assert response.status_code == 200
    assert service.client.get("/v1/comments/nosuch", headers=service.auth).status_code == 404
    assert service.client.get("/no/such/page").status_code == 404

    samples = scrape(service.client)

    requests = "moderation_http_requests_total"
    check_201 = value(samples, requests, method="POST", route="/v1/comments/check", status="201")
    check_200 = value(samples, requests, method="POST", route="/v1/comments/check", status="200")
    assert (check_201, check_200) == (5, 1)
    by_id = "/v1/comments/{comment_id}"
    assert value(samples, requests, method="GET", route=by_id, status="200") == 2
    assert value(samples, requests, method="GET", route=by_id, status="404") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    # Bounded labels: route templates only, never a comment id or a raw path.
    routes = {dict(labels)["route"] for labels in series(samples, requests)}
    assert not any(answer["id"] in route for answer in answers for route in routes)
    assert "/no/such/page" not in routes
    latency = "moderation_http_request_duration_seconds_count"
    assert value(samples, latency, method="POST", route="/v1/comments/check") == 6
    inf = value(
        samples,
        "moderation_http_request_duration_seconds_bucket",
        method="POST",
        route="/v1/comments/check",
        le="+Inf",
    )
    assert inf == 6

    # Five new decisions (the retry is not one), by the verdicts and reasons they answered.
    verdicts = Counter(answer["verdict"] for answer in answers)
    reasons = Counter(r["code"] for answer in answers for r in answer["reasons"])
    assert {"approve", "spam"} <= set(verdicts)
    counted_verdicts = {
        dict(labels)["verdict"]: v
        for labels, v in series(samples, "moderation_verdicts_total").items()
    }
    assert counted_verdicts == verdicts
    counted_reasons = {
        dict(labels)["reason"]: v
        for labels, v in series(samples, "moderation_reasons_total").items()
    }
    assert counted_reasons == reasons
    assert all(
        dict(labels)["site"] == "blog" for labels in series(samples, "moderation_verdicts_total")
    )


def test_the_writers_batches_are_counted_with_their_time(service: Service) -> None:
    # Each check gets its own batch here: one at a time, the next sent after the answer.
    for i in range(3):
        check(service, {**HAM, "content": f"Remark number {i} on the council vote's date."})

    samples = scrape(service.client)

    assert value(samples, "moderation_writer_batch_checks_count") == 3
    assert value(samples, "moderation_writer_batch_checks_sum") == 3
    assert value(samples, "moderation_writer_batch_checks_bucket", le="1.0") == 3
    assert value(samples, "moderation_writer_batch_duration_seconds_count") == 3
    assert value(samples, "moderation_writer_batch_duration_seconds_sum") > 0


def test_sqlite_checkpoints_are_counted_on_sqlite_only(service: Service) -> None:
    check(service, HAM)
    name = "moderation_sqlite_checkpoints_total"
    counted = 0.0
    deadline = time.monotonic() + 10
    while service.store.dialect == "sqlite" and time.monotonic() < deadline:
        counted = value(scrape(service.client), name, forced="false")
        if counted:
            break
        time.sleep(0.1)
    samples = scrape(service.client)
    if service.store.dialect == "sqlite":
        assert counted >= 1  # the checkpointer ticks four times a second
        assert value(samples, "moderation_sqlite_checkpoint_duration_seconds_count") >= 1
    else:
        assert value(samples, name, forced="false") == value(samples, name, forced="true") == 0


def test_model_info_names_the_live_version(service: Service) -> None:
    live = service.client.get("/healthz").json()["model_version"]
    info = series(scrape(service.client), "moderation_model_info")
    assert info == {frozenset({("version", live)}): 1.0}


def test_queue_gauges_count_pending_and_spam_per_site(service: Service) -> None:
    service.store.create_site("quiet", "https://quiet.example")
    answers = [check(service, body) for body in (HAM, SPAM)]
    held = check(service, {**HAM, "author_email": "", "content": "A remark with no address."})
    statuses = Counter(
        service.client.get(f"/v1/comments/{a['id']}", headers=service.auth).json()["status"]
        for a in [*answers, held]
    )
    assert statuses["spam"] >= 1

    queue = series(scrape(service.client), "moderation_queue_comments")

    assert queue == {
        frozenset({("site", "blog"), ("status", "pending")}): statuses["pending"],
        frozenset({("site", "blog"), ("status", "spam")}): statuses["spam"],
        frozenset({("site", "quiet"), ("status", "pending")}): 0,
        frozenset({("site", "quiet"), ("status", "spam")}): 0,
    }


def test_akismet_checks_count_verdicts_too(service: Service) -> None:
    response = service.client.post(
        "/1.1/comment-check", data={"api_key": service.key, **AKISMET_HAM}
    )
    assert response.status_code == 200, response.text
    verdict = response.headers["X-moderation-verdict"]
    samples = scrape(service.client)
    assert value(samples, "moderation_verdicts_total", site="blog", verdict=verdict) == 1
    route = "/1.1/comment-check"
    assert (
        value(samples, "moderation_http_requests_total", method="POST", route=route, status="200")
        == 1
    )


@pytest.fixture
def guarded(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url, metrics_token="s3cret-scrape-token")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-scrape-token"}],
    ids=["none", "wrong", "not-bearer"],
)
def test_a_metrics_token_is_required_once_set(guarded: TestClient, headers: dict[str, str]) -> None:
    response = guarded.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "moderation_" not in response.text


def test_the_metrics_token_opens_metrics(guarded: TestClient) -> None:
    samples = scrape(guarded, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert series(samples, "moderation_model_info")


def test_metrics_can_be_turned_off(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, metrics_enabled=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code == 200


def test_a_promoted_model_replaces_the_old_one_in_model_info(
    tmp_path: Path, database_url: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    before = artifacts.current_version(models)
    shutil.copytree(models / before, models / "v-next")
    settings = make_settings(tmp_path, database_url, models_dir=models)
    app = create_app(settings)
    with TestClient(app) as client:
        (models / "CURRENT").write_text("v-next\n")
        assert app.state.model.reload().changed
        info = series(scrape(client), "moderation_model_info")
    assert info == {frozenset({("version", "v-next")}): 1.0, frozenset({("version", before)}): 0.0}
