"""Labelled comment files: CSV with a header, JSONL, or the tab-separated label/text form."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from moderation.domain import Label
from moderation.features import TextInput
from moderation.textnorm import fold

_LABELS = {"spam": Label.SPAM, "1": Label.SPAM, "ham": Label.HAM, "0": Label.HAM}
_SUFFIXES = (".csv", ".jsonl", ".tsv", ".txt")


class DatasetError(ValueError):
    """A labelled file that cannot be read, with the file and line at fault."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled comment."""

    item: TextInput
    label: Label
    author_email: str = ""
    language: str = ""


def _label(value: object, where: str) -> Label:
    text = str(value).strip().lower()
    if text not in _LABELS:
        raise DatasetError(f"{where}: label must be spam, ham, 1 or 0, not {value!r}")
    return _LABELS[text]


def _example(row: dict[str, object], where: str) -> Example:
    content = row.get("content")
    if not isinstance(content, str) or not content.strip():
        raise DatasetError(f"{where}: missing or empty 'content'")
    if "label" not in row:
        raise DatasetError(f"{where}: missing 'label'")

    def text(key: str) -> str:
        value = row.get(key)
        return value if isinstance(value, str) else ""

    return Example(
        item=TextInput(content=content, author_name=text("author_name"),
                       author_url=text("author_url")),
        label=_label(row["label"], where),
        author_email=text("author_email"),
        language=text("language"),
    )  # fmt: skip


def _read_jsonl(path: Path) -> Iterator[Example]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"{where}: not valid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise DatasetError(f"{where}: each line must be a JSON object")
            yield _example(row, where)


def _read_csv(path: Path, delimiter: str) -> Iterator[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        fields = reader.fieldnames or []
        if "content" not in fields or "label" not in fields:
            raise DatasetError(
                f"{path}: the header must name the columns 'content' and 'label' (found {fields})"
            )
        for row in reader:
            yield _example(dict(row), f"{path}:{reader.line_num}")


def _read_label_tab_text(path: Path) -> Iterator[Example]:
    # The SMS Spam Collection's form: "ham<TAB>text", no header.
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            label, sep, content = line.rstrip("\r\n").partition("\t")
            where = f"{path}:{number}"
            if not sep:
                raise DatasetError(f"{where}: expected 'label<TAB>text'")
            yield _example({"label": label, "content": content}, where)


def read(path: Path) -> Iterator[Example]:
    """The examples of one labelled file, chosen by its suffix and first line."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        if path.suffix == ".jsonl":
            yield from _read_jsonl(path)
            return
        if path.suffix == ".csv":
            yield from _read_csv(path, ",")
            return
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
        head = first.split("\t", 1)[0].strip().lower()
        if "\t" in first and head in _LABELS:
            yield from _read_label_tab_text(path)
        elif "\t" in first:
            yield from _read_csv(path, "\t")
        else:
            raise DatasetError(f"{path}: unknown format; use {', '.join(_SUFFIXES)}")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 ({exc})") from exc


def read_all(paths: Iterable[Path]) -> list[Example]:
    """Every example of every file, in order."""
    return [example for path in paths for example in read(path)]


def seed_files(seed_dir: Path) -> list[Path]:
    """The seed corpus files in a folder, sorted so that the data hash is stable."""
    files = sorted(p for p in seed_dir.rglob("*") if p.suffix in (".jsonl", ".csv"))
    if not files:
        raise DatasetError(f"no .jsonl or .csv files in {seed_dir}")
    return files


class DataHash:
    """sha256 over labelled content, fed one example at a time."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()

    def update(self, example: Example) -> None:
        """Add one example (its label, content, author name and URL) to the hash."""
        ex = example
        for part in (ex.label.value, ex.item.content, ex.item.author_name, ex.item.author_url):
            self._digest.update(part.encode("utf-8", "surrogatepass"))
            self._digest.update(b"\x00")

    def hexdigest(self) -> str:
        """The hash of the examples added so far."""
        return self._digest.hexdigest()


# From this many examples `moderation train` streams. Below, the exact path takes a few minutes
# at most (30,000 examples took four here) and its cross-validation is the better estimate; from
# here, 5% of the examples make a validation slice of a thousand or more. It lives here rather
# than in training_stream, which imports scikit-learn: the train command's help names it.
STREAMING_FROM = 20_000


def content_key(content: str) -> str:
    """Key of a text as compared for duplicates: folded, whitespace collapsed, sha256."""
    folded = " ".join(fold(content).split())
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()


def data_hash(examples: Iterable[Example]) -> str:
    """sha256 over the labelled content, so that a model names the data that made it."""
    digest = DataHash()
    for ex in examples:
        digest.update(ex)
    return digest.hexdigest()
