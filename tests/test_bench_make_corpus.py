"""The training-scale corpus: readable by `moderation train`, seed-like in its mix, not a copy."""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.make_corpus import generate, main
from moderation.dataset import Example, read, read_all, seed_files
from moderation.domain import Label
from moderation.features import TextInput
from tests.conftest import ROOT

N = 2_000


@pytest.fixture(scope="module")
def seed_examples() -> list[Example]:
    return read_all(seed_files(ROOT / "training" / "data"))


def test_written_file_reads_back_with_the_seed_mix(
    tmp_path: Path, seed_examples: list[Example], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus.jsonl"
    main(["--comments", str(N), "--out", str(out), "--seed", "7"])
    examples = list(read(out))
    assert len(examples) == N
    assert f"{N:,} lines" in capsys.readouterr().out

    def share(items: list[Example], test: str) -> float:
        return sum(test in (e.label.value, e.language) for e in items) / len(items)

    for key in ("spam", "fr", "en"):
        assert share(examples, key) == pytest.approx(share(seed_examples, key), abs=0.04)
    assert all(e.item.content.strip() for e in examples)
    assert len({e.item.content for e in examples}) >= 0.9 * N
    # Most lines differ from every seed comment, not only from each other.
    seed_texts = {e.item.content for e in seed_examples}
    assert sum(e.item.content not in seed_texts for e in examples) >= 0.9 * N


def test_same_seed_same_corpus_other_seed_other_corpus(seed_examples: list[Example]) -> None:
    def corpus(seed: int) -> list[dict[str, str]]:
        return list(generate(seed_examples, 300, random.Random(seed)))

    assert corpus(1) == corpus(1)
    other = corpus(2)
    assert sum(a != b for a, b in zip(corpus(1), other, strict=True)) > 250


def test_link_domains_change_together_and_keep_their_suffix() -> None:
    spam = Example(
        item=TextInput(
            content="Cheapest meds at https://cheap-pills.ru/buy today, or see cheap-pills.ru",
            author_name="Pills Shop",
            author_url="https://cheap-pills.ru",
        ),
        label=Label.SPAM,
        author_email="info@cheap-pills.ru",
    )
    hosts = set()
    for row in generate([spam], 200, random.Random(3)):
        host = urlsplit(row["author_url"]).hostname or ""
        hosts.add(host)
        assert host.endswith(".ru")
        assert row["content"].count(host) >= 2
        if row["author_email"].startswith("info@"):
            assert row["author_email"] == f"info@{host}"
    assert "cheap-pills.ru" in hosts
    assert len(hosts) > 20


def test_spliced_sentences_come_from_the_same_label() -> None:
    def example(content: str, label: Label) -> Example:
        return Example(item=TextInput(content=content), label=label, language="en")

    ham = example("Thanks for the notes from the meeting.", Label.HAM)
    spam = example("Buy followers now. Best prices online.", Label.SPAM)
    rows = list(generate([ham, spam], 400, random.Random(5)))
    for row in rows:
        theirs = ("ollower", "rice") if row["label"] == "ham" else ("eeting", "ote")
        assert not any(word in row["content"] for word in theirs), row
    assert sum(len(row["content"]) > 50 for row in rows if row["label"] == "ham") > 20
