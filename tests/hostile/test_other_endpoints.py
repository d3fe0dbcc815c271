"""A representative sample of the corpus through the Akismet API, the queue's filters and sort,
and the queue page's filter form; SQL and LIKE metacharacters in every filter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from moderation.domain import CommentStatus, post_key
from tests.hostile.harness import Target, target
from tests.hostile.payloads import FAMILIES, corpus

SAMPLE = corpus()[::5]
SQL = list(FAMILIES["sql"])
AKISMET_FIELDS = (
    "comment_content",
    "comment_author",
    "comment_author_email",
    "comment_author_url",
    "permalink",
    "user_agent",
    "referrer",
    "comment_post_ID",
    "comment_parent",
    "comment_type",
    "blog_lang",
    "guid",
    "blog",
    "comment_date_gmt",
    "honeypot_field_name",
    "user_role",
)
# The Akismet field each stored column comes from (see moderation/akismet.py).
AKISMET_STORED = {
    "content": "comment_content",
    "author_name": "comment_author",
    "author_email": "comment_author_email",
    "author_url": "comment_author_url",
    "permalink": "permalink",
    "user_agent": "user_agent",
    "referrer": "referrer",
}
QUEUE_PARAMS = (
    "status",
    "site",
    "post_id",
    "reason",
    "author_email",
    "user_ip",
    "since",
    "until",
    "text",
    "sort",
    "cursor",
    "limit",
)
PAGE_PARAMS = (
    "status",
    "site",
    "reason",
    "post",
    "email",
    "ip",
    "since",
    "until",
    "q",
    "sort",
    "cursor",
)
ALL_STATUSES = [s.value for s in CommentStatus]


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[Target]:
    """The attacked app on SQLite, then on PostgreSQL."""
    with target(tmp_path, database_url) as found:
        yield found


def test_akismet_comment_check_with_a_payload_in_every_field(
    service: Target, record_property: Any
) -> None:
    stored_differently: list[str] = []
    accepted = 0
    for n, payload in enumerate(SAMPLE):
        form = dict.fromkeys(AKISMET_FIELDS, payload.text)
        form.update(api_key=service.key, user_ip=f"192.0.2.{n % 250 + 1}")
        answer = service.seen(service.client.post("/1.1/comment-check", data=form))
        if answer.status_code == 422:  # a field over its limit, named
            assert answer.headers["x-akismet-debug-help"], answer.text
            continue
        assert answer.status_code == 200, (payload.name, answer.status_code, answer.text)
        if answer.text not in ("true", "false"):
            continue  # Akismet's "invalid" or a missing field: nothing stored
        accepted += 1
        item = service.stored(answer.headers["x-akismet-guid"])
        expected = {column: form[name] for column, name in AKISMET_STORED.items()}
        expected["post_id"] = post_key(form["comment_post_ID"], form["permalink"])
        parent = form["comment_parent"].strip()
        expected["parent_id"] = "" if parent == "0" else parent
        stored_differently += [
            f"{payload.name} {k}: {v!r} != {item[k]!r}" for k, v in expected.items() if item[k] != v
        ]
    record_property(
        "figure",
        f"akismet: {len(SAMPLE)} payloads in {len(AKISMET_FIELDS)} fields, "
        f"{accepted} stored; server errors: {service.server_errors}; "
        f"stored differently: {len(stored_differently)}",
    )
    assert service.server_errors == 0
    assert stored_differently == []
    assert accepted > 0


@pytest.mark.parametrize(
    "raw",
    [
        b"comment_content=%00",  # NUL
        b"comment_content=%ED%A0%80",  # an encoded surrogate
        b"comment_content=%C0%AF",  # overlong
        b"comment_content=%FF%FE",
        b"comment_content=%F4%90%80%80",
        b"comment_content=\xff\xfe",  # raw bytes, not percent-encoded
        b"comment_content=%",
        b"comment_content=%%%%&&&==",
    ],
)
def test_akismet_bodies_it_cannot_decode_are_a_4xx(service: Target, raw: bytes) -> None:
    body = raw + f"&api_key={service.key}&blog=https://blog.example&user_ip=192.0.2.1".encode()
    answer = service.seen(
        service.client.post(
            "/1.1/comment-check",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert answer.status_code < 500
    assert answer.status_code != 200 or answer.text in ("true", "false", "invalid")
    if answer.status_code == 200 and answer.text in ("true", "false"):
        # Something it could read: then stored exactly as decoded.
        assert "\x00" not in service.stored(answer.headers["x-akismet-guid"])["content"]


def test_akismet_json_and_huge_bodies_are_refused(service: Target) -> None:
    answer = service.seen(
        service.client.post("/1.1/comment-check", json={"api_key": service.key, "blog": "b"})
    )
    assert answer.status_code == 415
    big = b"comment_content=" + b"a" * (3 * 1024 * 1024)
    answer = service.seen(
        service.client.post(
            "/1.1/comment-check",
            content=big,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    assert answer.status_code == 413


def _comments_with_sql(service: Target) -> dict[str, str]:
    ids = {}
    for n, text in enumerate(SQL):
        answer = service.check(
            {"post_id": "sql", "content": f"before {text} after", "author_email": f"s{n}@ex.org"}
        )
        assert answer.status_code == 201, answer.text
        ids[str(answer.json()["id"])] = f"before {text} after"
    return ids


def test_sql_and_like_metacharacters_in_every_queue_filter(
    service: Target, record_property: Any
) -> None:
    contents = _comments_with_sql(service)
    values = SQL + [p.text for p in SAMPLE]
    for value in values:
        for name in QUEUE_PARAMS:
            answer = service.seen(
                service.client.get(
                    "/v1/queue", params={name: value}, headers=service.moderator_auth
                )
            )
            assert answer.status_code in (200, 422), (name, value, answer.text)
            if answer.status_code == 422:
                fields = {str(e["field"]).split(".")[0] for e in answer.json()["detail"]}
                assert name in fields, answer.text
    # The text filter matches literally: % and _ are characters, quotes are characters.
    wrong = []
    for value in SQL:
        if not value.strip():
            continue
        answer = service.client.get(
            "/v1/queue",
            params={"text": value, "status": ALL_STATUSES, "limit": 200},
            headers=service.moderator_auth,
        )
        assert answer.status_code == 200, answer.text
        got = {item["id"] for item in answer.json()["items"]}
        expected = {i for i, c in contents.items() if value.lower() in c.lower()}
        if got != expected:
            wrong.append(f"text={value!r}: {len(got)} found, {len(expected)} expected")
    record_property(
        "figure",
        f"queue API: {len(values)} values in {len(QUEUE_PARAMS)} "
        f"parameters; server errors: {service.server_errors}; "
        f"text filters not literal: {len(wrong)}",
    )
    assert service.server_errors == 0
    assert wrong == []


def test_hostile_filters_on_the_queue_page(service: Target, record_property: Any) -> None:
    _comments_with_sql(service)
    found: list[str] = []
    values = SQL + [p.text for p in SAMPLE]
    for value in values:
        query = urlencode(dict.fromkeys(PAGE_PARAMS, value))
        found += [
            f"{value!r}: {s}"
            for s in service.page_sinks(f"/moderate/queue?{query}", refusable=True)
        ]
    record_property(
        "figure",
        f"queue page: {len(values)} values in every filter at once; "
        f"server errors: {service.server_errors}; script sinks: {len(found)}",
    )
    assert service.server_errors == 0
    assert found == []


def test_hostile_parameters_on_the_public_feed(service: Target) -> None:
    for payload in SAMPLE:
        for params in ({"after": payload.text}, {"order": payload.text}, {"limit": payload.text}):
            answer = service.feed("sql", **params)
            assert answer.status_code == 422, (params, answer.text)
        answer = service.feed(payload.text)
        assert answer.status_code == 200, answer.text
        assert answer.json()["comments"] == []
    assert service.server_errors == 0
