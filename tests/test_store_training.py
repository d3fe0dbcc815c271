"""Labelled comments as training data, and their export, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from moderation import dataset, store_training
from moderation.domain import Label
from moderation.schema import comments
from moderation.store import NotFoundError
from tests.conftest import Service

HAM = {
    "blog": "https://blog.example",
    "user_ip": "198.51.100.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    "permalink": "https://blog.example/tuition-vote",
    "comment_type": "comment",
    "comment_author": "Camille",
    "comment_author_email": "camille@example.org",
    "comment_content": "I was at the council meeting and the vote was on Tuesday, not Monday.",
}
SPAM = {
    **HAM,
    "comment_author": "Best Online Casino Bonus",
    "comment_author_email": "promo@casino-bonus.example",
    "comment_author_url": "https://casino-bonus.example",
    "comment_content": "Play online casino slots with a 500% welcome bonus: "
    "https://casino-bonus.example/slots",
}


def akismet(service: Service, path: str, fields: dict[str, str]) -> Any:
    response = service.client.post(path, data={"api_key": service.key, **fields})
    assert response.status_code == 200, response.text
    return response


def checked(service: Service, fields: dict[str, str]) -> str:
    """Store a comment through the Akismet API; its id."""
    return str(akismet(service, "/1.1/comment-check", fields).headers["X-akismet-guid"])


def label_directly(service: Service, comment_id: str, label: Label) -> None:
    """A label as a moderator's action writes it (the queue does this in its transaction)."""
    with service.store.writing() as conn:
        conn.execute(
            update(comments)
            .where(comments.c.id == comment_id)
            .values(label=label.value, label_source="moderator", labelled_at=datetime.now(UTC))
        )


def test_labels_are_the_latest_decision_and_test_traffic_is_left_out(service: Service) -> None:
    ham_id = checked(service, HAM)
    spam_id = checked(service, SPAM)
    checked(service, {**HAM, "comment_content": "Never labelled, never learned from."})
    test_id = checked(service, {**HAM, "comment_content": "A plugin's test.", "is_test": "1"})
    akismet(service, "/1.1/submit-spam", {**HAM, "guid": ham_id})
    akismet(service, "/1.1/submit-spam", {**SPAM, "guid": spam_id})
    akismet(service, "/1.1/submit-ham", {**HAM, "guid": ham_id})  # the blog changed its mind
    label_directly(service, test_id, Label.SPAM)

    examples = store_training.labelled_examples(service.store)

    by_text = {ex.item.content: ex for ex in examples}
    assert set(by_text) == {HAM["comment_content"], SPAM["comment_content"]}
    assert by_text[HAM["comment_content"]].label is Label.HAM
    spam = by_text[SPAM["comment_content"]]
    assert spam.label is Label.SPAM
    assert spam.item.author_name == SPAM["comment_author"]
    assert spam.item.author_url == SPAM["comment_author_url"]
    assert spam.author_email == SPAM["comment_author_email"]


def test_samples_count_and_the_same_text_twice_keeps_the_later_label(service: Service) -> None:
    # Corrections that name no stored comment are kept as labelled samples.
    sample = {**HAM, "comment_content": "Ceci n'a jamais été vérifié."}
    akismet(service, "/1.1/submit-ham", sample)
    akismet(service, "/1.1/submit-spam", sample)
    comment_id = checked(service, SPAM)
    label_directly(service, comment_id, Label.SPAM)
    # The same text with other spacing and case from another author (so a sample, not that
    # comment), labelled later as ham, replaces it.
    shouted = SPAM["comment_content"].upper().replace(" ", "  ")
    akismet(
        service, "/1.1/submit-ham", {**SPAM, "comment_author": "Other", "comment_content": shouted}
    )

    examples = store_training.labelled_examples(service.store)

    assert [(ex.item.content, ex.label) for ex in examples] == [
        (sample["comment_content"], Label.SPAM),
        (shouted, Label.HAM),
    ]


def test_site_filter(service: Service) -> None:
    _, other_key = service.store.create_site("other", "https://other.example")
    akismet(service, "/1.1/submit-spam", SPAM)
    response = service.client.post(
        "/1.1/submit-ham", data={"api_key": other_key, **HAM, "blog": "https://other.example"}
    )
    assert response.status_code == 200

    assert [ex.label for ex in store_training.labelled_examples(service.store, site="blog")] == [
        Label.SPAM
    ]
    assert [ex.label for ex in store_training.labelled_examples(service.store, site="other")] == [
        Label.HAM
    ]
    assert len(store_training.labelled_examples(service.store)) == 2
    with pytest.raises(NotFoundError):
        store_training.labelled_examples(service.store, site="nope")


def test_export_round_trips_through_the_training_reader(service: Service, tmp_path: Path) -> None:
    label_directly(service, checked(service, HAM), Label.HAM)
    label_directly(service, checked(service, SPAM), Label.SPAM)
    french = {**HAM, "comment_content": "Très bon résumé, merci !\nDeuxième ligne « ici »."}
    akismet(service, "/1.1/submit-ham", french)
    out = tmp_path / "labelled.jsonl"

    count = store_training.export(service.store, out)

    assert count == 3
    assert list(dataset.read(out)) == store_training.labelled_examples(service.store)
    # It is training data with email addresses: only the owner may read it.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["author_email"] == HAM["comment_author_email"]
    assert rows[0]["site"] == "blog"
    assert "Très bon résumé" in out.read_text(encoding="utf-8")  # readable, not \u-escaped


def test_export_of_nothing_writes_an_empty_file(service: Service, tmp_path: Path) -> None:
    out = tmp_path / "none.jsonl"
    assert store_training.export(service.store, out) == 0
    assert out.read_text() == ""
