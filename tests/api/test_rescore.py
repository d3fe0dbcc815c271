"""POST /v1/comments/score: a batch re-checked with the site's policy, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from moderation.api.rescore import ScoreOut
from moderation.schema import comments as comments_table
from tests.api.test_rate_limits import assert_limited, check, deployed
from tests.conftest import Service

URL = "/v1/comments/score"

# Each from its own address and email, so that no check below sees another's flood or
# duplicate: what the check endpoint decides is then what the batch endpoint decides.
HANDFUL: list[dict[str, Any]] = [
    {"post_id": "vote", "author_name": "Camille", "author_email": "camille@example.org",
     "content": "I was at the council meeting and the vote was on Tuesday, not Monday. "
                "Otherwise a fair summary, thanks for covering it.",
     "user_ip": "198.51.100.7", "external_id": "wp-1"},
    {"post_id": "vote", "author_name": "Best Online Casino Bonus",
     "author_email": "promo@casino-bonus.example", "author_url": "https://casino-bonus.example",
     "content": "Great post! Play online casino slots and poker with a 500% welcome bonus, "
                "free spins every day, withdraw instantly: https://casino-bonus.example/slots",
     "user_ip": "203.0.113.50", "external_id": "wp-2"},
    {"post_id": "vote", "author_name": "Ana", "content": "Where can I read the minutes?",
     "user_ip": "198.51.100.8"},
    {"permalink": "https://blog.example/vote/", "author_name": "Links", "author_email":
     "links@example.net", "content": "The minutes are at https://town.example/minutes, the "
     "budget at https://town.example/budget and the roll call at https://town.example/votes.",
     "user_ip": "198.51.100.9", "external_id": "wp-4"},
    {"post_id": "vote", "author_name": "Bot", "author_email": "bot@example.com",
     "content": "Nice article, I agree with the points about the library budget.",
     "honeypot": "filled", "user_ip": "198.51.100.10",
     "form_rendered_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()},
    {"post_id": "vote", "author_name": "Quick", "author_email": "quick@example.com",
     "content": "Thanks, the timeline of the rent strike helped me a lot.",
     "user_ip": "198.51.100.11", "form_rendered_at": datetime.now(UTC).isoformat()},
]  # fmt: skip


def score(service: Service, body: Any, **kwargs: Any) -> Any:
    return service.client.post(URL, json=body, headers=service.auth, **kwargs)


def stored_comments(service: Service) -> int:
    with service.store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(comments_table)).scalar_one())


def test_results_come_in_order_and_decide_as_a_check_does(service: Service) -> None:
    answer = score(service, {"comments": HANDFUL})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    ScoreOut.model_validate(body)  # the documented schema describes the real answer
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(HANDFUL)))
    assert [r["external_id"] for r in results] == ["wp-1", "wp-2", None, "wp-4", None, None]
    assert {r["verdict"] for r in results} >= {"approve", "spam", "reject", "hold"}
    for comment, result in zip(HANDFUL, results, strict=True):
        checked = service.client.post("/v1/comments/check", json=comment, headers=service.auth)
        assert checked.status_code == 201, checked.text
        expected = checked.json()
        assert body["model_version"] == expected["model_version"]
        for field in ("verdict", "spam_probability", "discard", "evidence"):
            assert result[field] == expected[field], (comment["content"], field)
        # The too_fast message says how many seconds passed, which differs between the two.
        assert [r["code"] for r in result["reasons"]] == [r["code"] for r in expected["reasons"]]
        if "form_rendered_at" not in comment:
            assert result["reasons"] == expected["reasons"]


def test_the_sites_policy_applies(service: Service) -> None:
    policy = service.store.get_site("blog").policy.updated({"banned_words": ["council"]})
    service.store.set_policy("blog", policy)
    answer = score(service, {"comments": HANDFUL[:1]})
    assert answer.status_code == 200, answer.text
    result = answer.json()["results"][0]
    assert result["verdict"] == "spam"
    assert "banned_word" in [r["code"] for r in result["reasons"]]


def test_an_invalid_comment_gets_its_own_error_and_the_others_are_scored(
    service: Service,
) -> None:
    comments = [
        HANDFUL[0],
        {"post_id": "vote", "content": "   "},
        {"post_id": "vote", "content": "Hello", "author_nmae": "typo", "user_ip": "nowhere"},
        {"content": "no post at all"},
        {},
        HANDFUL[1],
    ]
    answer = score(service, {"comments": comments})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert results[0]["verdict"] == "approve"
    assert results[5]["verdict"] == "spam"
    assert "content must not be blank" in results[1]["error"]
    assert "author_nmae: Extra inputs are not permitted" in results[2]["error"]
    assert "user_ip: must be an IPv4 or IPv6 address" in results[2]["error"]
    assert "give post_id or permalink" in results[3]["error"]
    assert "content: Field required" in results[4]["error"]
    for refused in results[1:5]:
        assert set(refused) == {"index", "error"}


def test_a_batch_of_1000_is_scored_and_1001_is_refused(service: Service) -> None:
    comments = [
        {"post_id": "p", "author_name": f"R{i}", "author_email": f"r{i}@example.org",
         "content": f"Comment {i} on the housing story."}
        for i in range(1001)
    ]  # fmt: skip
    full = score(service, {"comments": comments[:1000]})
    assert full.status_code == 200, full.text
    assert len(full.json()["results"]) == 1000
    over = score(service, {"comments": comments})
    assert over.status_code == 422
    [error] = over.json()["detail"]
    assert error["field"] == "comments"
    assert "at most 1000 items" in error["msg"]


def test_the_body_must_hold_a_list_of_objects(service: Service) -> None:
    for body in ({}, {"comments": "all of them"}, {"comments": [HANDFUL[0], 5]}, [HANDFUL[0]]):
        answer = score(service, body)
        assert answer.status_code == 422, (body, answer.text)
    extra = score(service, {"comments": [], "site": "other"})
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["field"] == "site"


def test_nothing_is_stored(service: Service) -> None:
    answer = score(service, {"comments": HANDFUL})
    assert answer.status_code == 200
    assert stored_comments(service) == 0
    # A check afterwards is not a duplicate of the re-checked comment.
    checked = service.client.post("/v1/comments/check", json=HANDFUL[0], headers=service.auth)
    assert checked.json()["verdict"] == "approve"
    assert stored_comments(service) == 1


def test_a_wrong_or_missing_key_is_401(service: Service) -> None:
    wrong = service.client.post(
        URL, json={"comments": HANDFUL}, headers={"Authorization": "Bearer mod_wrong"}
    )
    assert wrong.status_code == 401
    missing = service.client.post(URL, json={"comments": HANDFUL})
    assert missing.status_code == 401


def test_the_batch_body_limit_is_8_mib_and_only_on_this_path(service: Service) -> None:
    assert service.settings.batch_max_body_bytes == 8 * 1024 * 1024
    long = {"post_id": "p", "author_name": "A", "author_email": "a@example.org",
            "content": "word " * 13_000}  # fmt: skip
    # About 2 MiB: over the check endpoint's 64 KiB, within the batch limit.
    medium = {"comments": [long] * 32}
    assert score(service, medium).status_code == 200
    over = score(service, {"comments": [long] * 130})  # about 8.1 MiB
    assert over.status_code == 413
    assert str(8 * 1024 * 1024) in over.json()["detail"]
    checked = service.client.post("/v1/comments/check", json=medium, headers=service.auth)
    assert checked.status_code == 413
    assert stored_comments(service) == 0


def test_the_openapi_schema_documents_the_endpoint(service: Service) -> None:
    schema = service.client.get("/openapi.json").json()
    operation = schema["paths"][URL]["post"]
    assert {"HTTPBearer": []} in operation["security"]
    assert "nothing is stored" in " ".join(operation["description"].split())
    assert "skipped" in operation["description"]
    assert {"200", "401", "413", "422", "429"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][request.rsplit("/", 1)[1]]
    assert body["properties"]["comments"]["maxItems"] == 1000
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert answer.endswith("/ScoreOut")


def test_a_batch_counts_against_the_sites_check_limit(tmp_path: Path, database_url: str) -> None:
    with deployed(
        tmp_path, database_url, ratelimit_check_key_per_second=1, ratelimit_check_key_burst=3
    ) as deployment:
        client = deployment.client()
        headers = {"Authorization": f"Bearer {deployment.key}"}
        for _ in range(2):
            assert client.post(URL, json={"comments": HANDFUL}, headers=headers).status_code == 200
        assert check(client, deployment.key).status_code == 201
        assert_limited(client.post(URL, json={"comments": HANDFUL}, headers=headers), "site key")
        assert_limited(check(client, deployment.key), "site key")
