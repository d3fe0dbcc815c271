"""Comments arriving together: stored once each, duplicates caught once, answers after commit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.test_check import HAM
from tests.conftest import Service


def post(service: Service, body: dict[str, Any]) -> Any:
    return service.client.post("/v1/comments/check", json=body, headers=service.auth)


def test_simultaneous_copies_are_caught_as_duplicates_once(service: Service) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: post(service, HAM).json(), range(16)))
    duplicates = [a for a in answers if a["verdict"] == "reject"]
    assert len(duplicates) == 15
    assert all(a["reasons"][0]["code"] == "duplicate" for a in duplicates)
    ids = {a["id"] for a in answers}
    assert len(ids) == 16  # every copy is stored, with its own verdict


def test_many_different_comments_are_all_stored(service: Service) -> None:
    bodies = [
        {**HAM, "content": f"Comment number {i} on the tuition vote.",
         "author_email": f"reader{i}@example.org", "user_ip": f"198.51.100.{i}",
         "external_id": f"wp-{i}"}
        for i in range(60)
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda b: post(service, b), bodies))
    assert [a.status_code for a in answers] == [201] * 60
    site_id = service.store.get_site("blog").id
    for answer in answers:
        assert service.store.get_comment(site_id, answer.json()["id"])["content"].startswith(
            "Comment number"
        )
    # A retry of every one of them is answered from the store, with the same ids.
    with ThreadPoolExecutor(max_workers=12) as pool:
        retries = list(pool.map(lambda b: post(service, b), bodies))
    assert [r.status_code for r in retries] == [200] * 60
    assert [r.json()["id"] for r in retries] == [a.json()["id"] for a in answers]
