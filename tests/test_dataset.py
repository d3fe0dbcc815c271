"""Reading labelled files: the formats `moderation train` accepts and the errors it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.dataset import DatasetError, data_hash, read, read_all, seed_files
from moderation.domain import Label
from tests.conftest import ROOT


def test_csv_with_header_and_optional_author_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "content,label,author_name,author_url\n"
        '"Buy pills, cheap",spam,Pharma Deals,https://pills.example\n'
        "Nice article,0,Ana,\n"
        "Great read,ham,,\n",
        encoding="utf-8",
    )
    examples = list(read(path))
    assert [e.label for e in examples] == [Label.SPAM, Label.HAM, Label.HAM]
    assert examples[0].item.content == "Buy pills, cheap"
    assert examples[0].item.author_url == "https://pills.example"


def test_jsonl_and_numeric_labels(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"content": "é", "label": 1}\n\n{"content": "b", "label": "HAM"}\n')
    assert [e.label for e in read(path)] == [Label.SPAM, Label.HAM]


def test_sms_collection_form(tmp_path: Path) -> None:
    path = tmp_path / "SMSSpamCollection"
    path.write_text("ham\tOk lar...\nspam\tFree entry in 2 a wkly comp\n")
    assert [e.label for e in read(path)] == [Label.HAM, Label.SPAM]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "text,label\nx,spam\n", "must name the columns"),
        ("a.csv", "content,label\nx,maybe\n", "a.csv:2: label must be"),
        ("a.jsonl", '{"content": "x", "label": "spam"}\n{broken\n', "a.jsonl:2: not valid JSON"),
        ("a.jsonl", '{"content": "", "label": "spam"}\n', "a.jsonl:1: missing or empty"),
        ("a.jsonl", '{"content": "x"}\n', "missing 'label'"),
        ("a.bin", "whatever\n", "unknown format"),
    ],
)
def test_bad_files_name_the_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        list(read(path))


def test_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"content,label\ncaf\xe9,ham\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        list(read(path))


def test_seed_corpus_is_large_bilingual_and_balanced() -> None:
    examples = read_all(seed_files(ROOT / "training" / "data"))
    assert len(examples) >= 2000
    languages = {e.language for e in examples}
    assert {"en", "fr"} <= languages
    spam = sum(e.label is Label.SPAM for e in examples)
    assert 0.3 < spam / len(examples) < 0.7
    contents = [" ".join(e.item.content.lower().split()) for e in examples]
    assert len(set(contents)) == len(contents), "the seed corpus holds duplicate comments"


def test_data_hash_changes_with_a_label() -> None:
    examples = read_all(seed_files(ROOT / "training" / "data"))[:50]
    assert data_hash(examples) == data_hash(list(examples))
    assert data_hash(examples) != data_hash(examples[1:])
