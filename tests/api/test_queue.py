"""The moderation queue over HTTP, on SQLite and PostgreSQL: a moderator's token, their sites."""

from __future__ import annotations

from typing import Any

import pytest

from moderation.store_accounts import Accounts
from tests.conftest import Service

HAM = {
    "post_id": "tuition-vote",
    "author_name": "Camille",
    "author_email": "camille@example.org",
    "content": "I was at the council meeting and the vote was on Tuesday, not Monday. "
    "Otherwise a fair summary, thanks for covering it.",
    "user_ip": "198.51.100.7",
}
SPAM = {
    "post_id": "tuition-vote",
    "author_name": "Best Online Casino Bonus",
    "author_email": "Promo@Casino-Bonus.example",
    "author_url": "https://casino-bonus.example",
    "content": "Great post! Play online casino slots and poker with a 500% welcome bonus, "
    "free spins every day, withdraw instantly: https://casino-bonus.example/slots",
    "user_ip": "203.0.113.50",
}
LINKS = {
    **HAM,
    "author_email": "links@example.org",
    "user_ip": "198.51.100.8",
    "content": "Sources: https://a.example/1 https://b.example/2 https://c.example/3 for the vote.",
}


class Moderation:
    """The service with a second site and two moderators: one of 'blog', one admin."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.client = service.client
        _, self.news_key = service.store.create_site("news", "https://news.example")
        accounts = Accounts(service.store)
        accounts.create_moderator("alice", password="a long enough passphrase", sites=["blog"])
        accounts.create_moderator("root", password="a long enough passphrase", admin=True)
        accounts.create_moderator("nina", password="a long enough passphrase", sites=["news"])
        self.alice = {"Authorization": f"Bearer {accounts.create_token('alice')}"}
        self.root = {"Authorization": f"Bearer {accounts.create_token('root')}"}
        self.nina = {"Authorization": f"Bearer {accounts.create_token('nina')}"}

    def check(self, body: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else self.service.auth
        response = self.client.post("/v1/comments/check", json=body, headers=headers)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def queue(self, headers: dict[str, str], **params: Any) -> Any:
        return self.client.get("/v1/queue", params=params, headers=headers)

    def act(self, comment_id: str, action: str, headers: dict[str, str], note: str = "") -> Any:
        return self.client.post(
            f"/v1/comments/{comment_id}/actions",
            json={"action": action, "note": note},
            headers=headers,
        )


@pytest.fixture
def mod(service: Service, monkeypatch: pytest.MonkeyPatch) -> Moderation:
    # Password hashing is deliberately slow and beside the point here.
    monkeypatch.setattr("moderation.store_accounts.hash_password", lambda password: "unused")
    return Moderation(service)


def test_the_queue_lists_held_and_spam_with_everything_a_moderator_needs(mod: Moderation) -> None:
    mod.check(HAM)
    spam = mod.check(SPAM)
    held = mod.check(LINKS)
    assert (spam["verdict"], held["verdict"]) == ("spam", "hold")
    response = mod.queue(mod.alice)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == [spam["id"], held["id"]]  # likeliest first
    first = body["items"][0]
    assert (first["author_email"], first["user_ip"]) == (SPAM["author_email"], SPAM["user_ip"])
    assert (first["site"], first["post_id"], first["status"]) == ("blog", "tuition-vote", "spam")
    assert any(e["weight"] > 0 for e in first["evidence"])
    assert "classifier_spam" in [r["code"] for r in first["reasons"]]
    assert body["next_cursor"] is None
    assert body["counts"]["by_status"] == {
        "approved": 1, "pending": 1, "spam": 1, "rejected": 0, "trash": 0,
    }  # fmt: skip
    assert body["counts"]["by_reason"]["too_many_links"] == 1
    counts = mod.client.get("/v1/queue/counts", params={"status": "approved"}, headers=mod.alice)
    assert counts.json()["by_reason"] == {"classifier_ham": 1}
    approved = mod.queue(mod.alice, status=["approved", "trash"]).json()["items"]
    assert [item["author_name"] for item in approved] == ["Camille"]


def test_filters_and_pages_over_http(mod: Moderation) -> None:
    ids = [mod.check({**LINKS, "content": LINKS["content"] + f" {n}"})["id"] for n in range(3)]
    seen = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "sort": "oldest"}
        if cursor:
            params["cursor"] = cursor
        page = mod.queue(mod.alice, **params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    by_email = mod.queue(mod.alice, author_email="LINKS@example.org").json()["items"]
    assert len(by_email) == 3
    assert mod.queue(mod.alice, author_email="other@example.org").json()["items"] == []
    assert len(mod.queue(mod.alice, user_ip="198.51.100.8").json()["items"]) == 3
    assert len(mod.queue(mod.alice, reason="too_many_links", site="blog").json()["items"]) == 3
    assert mod.queue(mod.alice, text="vote. 2").json()["items"][0]["id"] == ids[2]
    # LIKE and SQL metacharacters are plain text.
    assert mod.queue(mod.alice, text="%").json()["items"] == []
    assert mod.queue(mod.alice, text="_").json()["items"] == []
    assert mod.queue(mod.alice, text="' OR 1=1 --").json()["items"] == []
    assert mod.queue(mod.alice, since="2999-01-01T00:00:00").json()["items"] == []
    assert len(mod.queue(mod.alice, until="2999-01-01T00:00:00Z").json()["items"]) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"reason": "bogus"}, "reason"),
        ({"sort": "random"}, "sort"),
        ({"user_ip": "not-an-ip"}, "user_ip"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"since": "yesterday"}, "since"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"author_email": "a\x00@example.org"}, "author_email"),
    ],
)
def test_invalid_filters_are_a_422_naming_the_field(
    mod: Moderation, params: dict[str, Any], field: str
) -> None:
    response = mod.queue(mod.alice, **params)
    assert response.status_code == 422, response.text
    assert field in [d["field"].split(".")[0] for d in response.json()["detail"]]


def test_a_cursor_from_another_sort_is_refused(mod: Moderation) -> None:
    for n in range(2):
        mod.check({**LINKS, "content": LINKS["content"] + f" {n}"})
    cursor = mod.queue(mod.alice, limit=1).json()["next_cursor"]
    response = mod.queue(mod.alice, limit=1, cursor=cursor, sort="newest")
    assert response.status_code == 422
    assert "sort=probability" in response.json()["detail"][0]["msg"]


def test_a_moderator_token_is_required(mod: Moderation) -> None:
    assert mod.client.get("/v1/queue").status_code == 401
    site_key = mod.client.get("/v1/queue", headers=mod.service.auth)
    assert site_key.status_code == 401
    assert "moderator token" in site_key.json()["detail"]
    bad = mod.client.get("/v1/queue", headers={"Authorization": "Bearer mt_nope"})
    assert bad.status_code == 401


def test_act_history_and_undo_over_http(mod: Moderation) -> None:
    held = mod.check(LINKS)["id"]
    response = mod.act(held, "spam", mod.alice, note="link farm")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": held, "ok": True, "status": "spam", "error": None, "message": "",
    }  # fmt: skip
    assert mod.act(held, "ham", mod.root).json()["status"] == "approved"
    history = mod.client.get(f"/v1/comments/{held}/history", headers=mod.alice).json()
    assert [(e["action"], e["actor"], e["to_status"]) for e in history] == [
        ("spam", "alice", "spam"),
        ("ham", "root", "approved"),
    ]
    assert history[0]["note"] == "link farm"
    undo = mod.client.post(f"/v1/comments/{held}/undo", json={"note": "oops"}, headers=mod.alice)
    assert (undo.status_code, undo.json()["status"]) == (200, "spam")
    assert mod.client.post(f"/v1/comments/{held}/undo", headers=mod.alice).json()["status"] == (
        "pending"
    )
    nothing = mod.client.post(f"/v1/comments/{held}/undo", headers=mod.alice)
    assert nothing.status_code == 409
    assert nothing.json()["detail"]["error"] == "nothing_to_undo"
    # The blog sees the new status with its key.
    mod.act(held, "trash", mod.alice)
    answer = mod.client.get(f"/v1/comments/{held}", headers=mod.service.auth).json()
    assert (answer["status"], answer["moderated_by"]) == ("trash", "alice")
    assert answer["status_changed_at"] is not None
    assert answer["verdict"] == "hold"  # the original decision is kept beside it
    assert "author_email" not in answer


def test_delete_forever_over_http(mod: Moderation) -> None:
    held = mod.check(LINKS)["id"]
    assert mod.act(held, "delete", mod.alice).json()["status"] is None
    assert mod.client.get(f"/v1/comments/{held}", headers=mod.alice).status_code == 404
    assert mod.client.get(f"/v1/comments/{held}", headers=mod.service.auth).status_code == 404
    undo = mod.client.post(f"/v1/comments/{held}/undo", headers=mod.alice)
    assert undo.status_code == 409
    assert "deleted forever" in undo.json()["detail"]["message"]
    history = mod.client.get(f"/v1/comments/{held}/history", headers=mod.alice).json()
    assert [e["action"] for e in history] == ["delete"]
    assert mod.act(held, "approve", mod.alice).status_code == 404


def test_bulk_actions_over_http(mod: Moderation) -> None:
    mine = [mod.check({**LINKS, "content": LINKS["content"] + f" {n}"})["id"] for n in range(3)]
    theirs = mod.check(LINKS, key=mod.news_key)["id"]
    response = mod.client.post(
        "/v1/queue/actions",
        json={"ids": [*mine, theirs, "nope"], "action": "approve", "note": "fine"},
        headers=mod.alice,
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["ok"], r["status"], r["error"]) for r in results] == [
        (True, "approved", None), (True, "approved", None), (True, "approved", None),
        (False, None, "not_found"), (False, None, "not_found"),
    ]  # fmt: skip
    assert mod.queue(mod.root, site="news").json()["items"][0]["status"] == "pending"
    too_many = {"ids": [f"id{n}" for n in range(501)], "action": "spam"}
    response = mod.client.post("/v1/queue/actions", json=too_many, headers=mod.alice)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "ids"
    bad_bodies: list[dict[str, Any]] = [
        {"ids": mine, "action": "undo"},
        {"ids": mine, "action": "burn"},
        {"ids": [], "action": "spam"},
    ]
    for bad in bad_bodies:
        assert mod.client.post("/v1/queue/actions", json=bad, headers=mod.alice).status_code == 422


def test_other_sites_comments_are_not_found(mod: Moderation) -> None:
    theirs = mod.check(LINKS, key=mod.news_key)["id"]
    assert mod.queue(mod.alice).json()["items"] == []
    for method, path in [
        ("GET", f"/v1/comments/{theirs}"),
        ("GET", f"/v1/comments/{theirs}/history"),
        ("POST", f"/v1/comments/{theirs}/undo"),
    ]:
        response = mod.client.request(method, path, headers=mod.alice)
        assert response.status_code == 404, (method, path)
    assert mod.act(theirs, "spam", mod.alice).status_code == 404
    assert mod.client.get(f"/v1/comments/{theirs}", headers=mod.service.auth).status_code == 404
    assert mod.client.get(f"/v1/comments/{theirs}", headers=mod.nina).status_code == 200
    for junk in ("not-a-comment", "%00", "'%20OR%201=1"):
        response = mod.client.get(f"/v1/comments/{junk}/history", headers=mod.root)
        assert response.status_code == 404, junk


def test_a_moderator_reads_one_comment_in_full(mod: Moderation) -> None:
    mod.check({**SPAM, "content": "An earlier try: " + SPAM["content"]})
    spam = mod.check(SPAM)["id"]
    mod.act(spam, "spam", mod.alice, note="casino")
    response = mod.client.get(f"/v1/comments/{spam}", headers=mod.alice)
    assert response.status_code == 200, response.text
    detail = response.json()
    item = detail["item"]
    assert (item["author_email"], item["user_ip"]) == (SPAM["author_email"], SPAM["user_ip"])
    assert (item["content"], item["author_url"]) == (SPAM["content"], SPAM["author_url"])
    assert (item["label"], item["label_source"], item["moderated_by"]) == (
        "spam", "moderator", "alice",
    )  # fmt: skip
    assert [e["note"] for e in detail["history"]] == ["casino"]
    assert detail["author"]["by_status"] == {"spam": 1}
    assert detail["author"]["comments"][0]["excerpt"].startswith("An earlier try: ")


def test_marking_spam_over_http_pushes_the_next_comment_from_that_ip_to_spam(
    mod: Moderation,
) -> None:
    held = mod.check(LINKS)["id"]
    mod.act(held, "spam", mod.alice)
    later = mod.check({**HAM, "user_ip": LINKS["user_ip"], "author_email": "new@example.org"})
    assert later["verdict"] == "spam"
    reason = next(r for r in later["reasons"] if r["code"] == "reputation_spam")
    assert reason["message"] == (
        "the IP address 198.51.100.8 was marked as spam by a moderator in the last 30 days"
    )


def test_the_queue_is_documented(mod: Moderation) -> None:
    schema = mod.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/queue", "/v1/queue/counts", "/v1/queue/actions",
                 "/v1/comments/{comment_id}/actions", "/v1/comments/{comment_id}/undo",
                 "/v1/comments/{comment_id}/history"):  # fmt: skip
        assert path in paths
    assert "queue" in paths["/v1/queue"]["get"]["tags"]
    item = schema["components"]["schemas"]["QueueItemOut"]["properties"]
    assert "as the author wrote it" in item["content"]["description"]
