"""Every payload of the corpus in every field of a check, then on every page that shows it.

One pass per database: the corpus goes through POST /v1/comments/check (each request carries a
payload in every field at once, so 390 requests send 5,460 cases), then every base string in
fifteen disguises (each payload once, fourteen to a request); every accepted comment is read
back in full and compared with what was sent, shown on its moderator page and in the queue,
approved, and shown in its post's public feed, whose HTML is parsed like the pages'.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from moderation.domain import post_key
from tests.hostile import sinks
from tests.hostile.harness import Target, differences, limit_of, refused_fields, target
from tests.hostile.payloads import CHECK_FIELDS, Case, corpus, mutated, packs, spread

# What a field gets instead of a payload it refused, so that the others are still tried.
BENIGN = {"content": "A plain comment.", "post_id": "plain-post"}
# Fields that parse their value: they may refuse any payload (with a 422 naming them).
PARSED = {"user_ip", "form_rendered_at"}


def _send(service: Target, pack: dict[str, Case]) -> tuple[dict[str, Any], str | None, set[str]]:
    """Send one pack; refused fields are replaced and the rest sent again. The body that was
    accepted, the stored id (None if never accepted) and the fields refused on the way."""
    body: dict[str, Any] = {name: case.payload.text for name, case in pack.items()}
    refused: set[str] = set()
    for _ in range(3):
        answer = service.check(body)
        if answer.status_code in (200, 201):
            return body, str(answer.json()["id"]), refused
        if answer.status_code >= 500:
            return body, None, refused
        named = refused_fields(answer)
        if None in named:  # about the comment as a whole: no post, or blank content
            named = {"content", "post_id"}
        for name in named:
            assert isinstance(name, str), answer.text
            assert name in CHECK_FIELDS, answer.text
            refused.add(name)
            if name in BENIGN:
                body[name] = BENIGN[name]
            else:
                body.pop(name, None)
    return body, None, refused


def _wrongly_refused(pack: dict[str, Case], refused: set[str]) -> list[str]:
    # A text field may only refuse a value longer than its limit (NUL and lone surrogates are
    # not in this corpus: see test_raw_bodies).
    out = []
    # (A field the pack left out, refused as missing, was never sent a payload.)
    for name in (refused - PARSED) & pack.keys():
        text = pack[name].payload.text
        limit = limit_of(name)
        if limit is None or len(text) <= limit:
            out.append(f"{name} refused {pack[name].payload.name}: {text!r}")
    return out


def _next_page(html: str) -> str | None:
    for link in sinks.links(html):
        if link.get("rel") == "next":
            return link.get("href")
    return None


def test_every_payload_in_every_field(
    tmp_path: Path, database_url: str, record_property: Any
) -> None:
    all_packs = packs() + spread()
    assert len(corpus()) + len(mutated()) >= 2000
    with target(tmp_path, database_url) as service:
        accepted: dict[str, dict[str, Any]] = {}
        wrongly_refused: list[str] = []
        refusals: Counter[str] = Counter()
        for pack in all_packs:
            body, comment_id, refused = _send(service, pack)
            refusals.update(refused)
            wrongly_refused += _wrongly_refused(pack, refused)
            if comment_id is not None:
                accepted[comment_id] = body
        check_errors = service.server_errors

        stored_differently = []
        for comment_id, body in accepted.items():
            stored_differently += differences(body, service.stored(comment_id))

        found: list[str] = []
        for comment_id in accepted:
            found += [
                f"/moderate/comments/{comment_id}: {s}"
                for s in service.page_sinks(f"/moderate/comments/{comment_id}")
            ]
        service.approve(list(accepted))
        url: str | None = "/moderate/queue?status=approved&sort=oldest"
        queue_pages = 0
        while url:
            answer = service.seen(service.client.get(url))
            assert answer.status_code == 200
            found += [f"{url}: {s}" for s in sinks.in_page(answer.text)]
            url, queue_pages = _next_page(answer.text), queue_pages + 1
        found += [f"/moderate: {s}" for s in service.page_sinks("/moderate")]

        in_feeds = 0
        posts = {post_key(b.get("post_id", ""), b.get("permalink", "")) for b in accepted.values()}
        for post in sorted(posts):
            answer = service.feed(post)
            assert answer.status_code == 200, (post, answer.text)
            stack = list(answer.json()["comments"])
            while stack:
                shown = stack.pop()
                in_feeds += 1
                stack += shown["replies"]
                found += [f"feed {post!r}: {s}" for s in sinks.in_fragment(shown["html"])]
                found += [f"feed {post!r}: {s}" for s in sinks.in_fragment(shown["author_html"])]
                url_out = shown["author_url"]
                assert url_out is None or url_out.startswith(("http://", "https://")), url_out

        sent_cases = sum(len(p) for p in all_packs)
        record_property(
            "figure",
            f"cases sent through the check: {sent_cases} "
            f"in {len(all_packs)} requests; accepted comments: {len(accepted)}; "
            f"refused per field: {dict(sorted(refusals.items()))}",
        )
        record_property(
            "figure",
            f"server errors: {service.server_errors} "
            f"(check: {check_errors}) in {len(service.statuses)} requests",
        )
        record_property(
            "figure",
            f"comments stored differently from what was accepted: {len(stored_differently)}",
        )
        record_property(
            "figure",
            f"script sinks in {len(accepted)} comment pages, {queue_pages} "
            f"queue pages and {len(posts)} feeds ({in_feeds} comments): {len(found)}",
        )
        assert service.server_errors == 0
        assert wrongly_refused == []
        assert stored_differently == []
        assert found == []
        # Every accepted comment was approved, so every one is in its post's feed.
        assert in_feeds == len(accepted)
