"""Write a large labelled corpus for training at scale by resampling and perturbing the seed one.

    python bench/make_corpus.py --comments 1000000 --out /tmp/corpus.jsonl [--seed 42]

Comments are drawn uniformly from the seed corpus, so the spam/ham ratio and the language mix
follow it; each one then gets a random subset of edits (typos, dropped, repeated or swapped words,
case, digits, punctuation, a sentence spliced in from another comment of the same label, a new
author, new link domains) so that the lines are mostly distinct and cannot be learnt by heart.
The output has the seed files' columns and reads with `moderation train --data FILE`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.dataset import Example, read_all, seed_files  # noqa: E402
from moderation.domain import Label  # noqa: E402

Row = dict[str, str]

_PUNCT = ".,;:!?\"'()[]«»“”‘’…-"
_ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_HOST = re.compile(r"(?:https?://|\bwww\.)([\w.-]+\.[^\W\d_]{2,})", re.UNICODE)
_URLISH = re.compile(r"[/@=<>]|www\.|\w\.[^\W\d_]{2,}")
# Suffixes under which the registered name is the third label from the right.
_SECOND_LEVEL = {"co", "com", "org", "net", "ac", "gov", "edu"}
_DOMAIN_WORDS = ("online", "shop", "pro", "best", "top", "hq", "club", "store", "info", "plus")
_DOMAIN_PREFIXES = ("my", "best", "top", "the", "get", "buy", "go")
_NAME_TOKEN = re.compile(r"[^\W\d_][^\W\d_'-]+")


@dataclass(frozen=True, slots=True)
class _Seed:
    """One seed example, split up once so that each copy of it is cheap to perturb."""

    label: Label
    language: str
    content: str
    author_name: str
    author_email: str
    author_url: str
    tokens: tuple[str, ...]
    plain: tuple[int, ...]  # words that are not part of a link, an address or markup
    wordy: tuple[int, ...]  # plain words of four letters or more, where a typo reads naturally
    digits: tuple[int, ...]  # plain words holding digits
    sentences: tuple[str, ...]
    domains: tuple[tuple[str, str, str], ...]  # (registered domain, its name label, suffix)


def _seed(example: Example) -> _Seed:
    content = example.item.content
    tokens = tuple(content.split(" "))
    plain = tuple(i for i, t in enumerate(tokens) if t and not _URLISH.search(t))
    wordy = tuple(i for i in plain if len(c := tokens[i].strip(_PUNCT)) >= 4 and c.isalpha())
    digits = tuple(i for i in plain if any(ch.isdigit() for ch in tokens[i]))
    sentences = tuple(s for s in _SENTENCE_END.split(content.strip()) if s.strip())
    found: dict[str, tuple[str, str, str]] = {}
    for host in _HOST.findall(f"{content} {example.item.author_url}"):
        labels = host.lower().strip(".").split(".")
        at = -3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else -2
        if len(labels) < -at or not labels[at]:
            continue
        registered = ".".join(labels[at:])
        # Replacing is textual, so the domain must appear in the text with this exact case.
        if registered in content or registered in example.item.author_url:
            found.setdefault(registered, (registered, labels[at], ".".join(labels[at + 1 :])))
    return _Seed(
        label=example.label,
        language=example.language,
        content=content,
        author_name=example.item.author_name,
        author_email=example.author_email,
        author_url=example.item.author_url,
        tokens=tokens,
        plain=plain,
        wordy=wordy,
        digits=digits,
        sentences=sentences,
        domains=tuple(found.values()),
    )


@dataclass(frozen=True, slots=True)
class _Pools:
    """Names, email domains and sentences of one label, to recombine within that label."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]  # with repeats, so common providers stay common
    donors: dict[str, tuple[_Seed, ...]]  # by language: seeds with a sentence to lend


def _pools(seeds: Sequence[_Seed], label: Label) -> _Pools:
    first: dict[str, None] = {}
    last: dict[str, None] = {}
    domains: list[str] = []
    donors: dict[str, list[_Seed]] = {}
    for s in seeds:
        if s.label is not label:
            continue
        # A word of the name found in the address is a person's name, not "Roof Repair Houston".
        local = _ascii(s.author_email.split("@", 1)[0])
        parts = s.author_name.split()
        if 1 <= len(parts) <= 2 and all(_NAME_TOKEN.fullmatch(p) for p in parts):
            if parts[0][0].isupper() and _ascii(parts[0]) in local:
                first[parts[0]] = None
            if len(parts) == 2 and parts[1][0].isupper() and _ascii(parts[1]) in local:
                last[parts[1]] = None
        if "@" in s.author_email:
            domains.append(s.author_email.rsplit("@", 1)[1])
        if s.sentences:
            donors.setdefault(s.language, []).append(s)
    return _Pools(
        first_names=tuple(first) or ("Alex",),
        last_names=tuple(last) or ("Martin",),
        email_domains=tuple(domains) or ("example.org",),
        donors={language: tuple(group) for language, group in donors.items()},
    )


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _typo(word: str, rng: random.Random) -> str:
    start = len(word) - len(word.lstrip(_PUNCT))
    end = len(word.rstrip(_PUNCT))
    if end - start < 2:
        return word
    p = rng.randrange(start, end - 1)
    letter = rng.choice(_ASCII_LETTERS if word.isascii() else word[start:end])
    kind = rng.randrange(4)
    if kind == 0:
        return word[:p] + word[p + 1] + word[p] + word[p + 2 :]
    if kind == 1:
        return word[:p] + letter + word[p + 1 :]
    if kind == 2:
        return word[:p] + letter + word[p:]
    return word[:p] + word[p + 1 :]


def _new_digits(word: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if ch.isdigit() else ch for ch in word)


def _word_edits(tokens: list[str], seed: _Seed, rng: random.Random) -> None:
    # Highest index first, so that a drop or an insertion leaves the lower indices in place.
    for i in sorted(rng.sample(seed.plain, min(len(seed.plain), rng.randint(1, 2))), reverse=True):
        kind = rng.randrange(3)
        if kind == 0 and len(tokens) > 1:
            del tokens[i]
        elif kind == 1:
            tokens.insert(i, tokens[i])
        elif i + 1 < len(tokens) and tokens[i + 1] and not _URLISH.search(tokens[i + 1]):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]


def _punctuation(text: str, rng: random.Random) -> str:
    kind = rng.randrange(5)
    bare = text.rstrip(".!?…")
    if kind == 0:
        return bare + "!" if bare else text
    if kind == 1:
        return bare + rng.choice(("!!", "!!!", " !")) if bare else text
    if kind == 2:
        return bare + "..." if bare else text
    if kind == 3:
        return bare if bare else text
    if "..." in text:
        return text.replace("...", ".", 1)
    return text.replace("!", "", 1) if "!" in text and text.strip("! ") else text + "!"


def _case(tokens: list[str], seed: _Seed, rng: random.Random) -> None:
    if seed.plain and rng.random() < 0.6:
        i = rng.choice(seed.plain)
        tokens[i] = tokens[i].upper()
    elif tokens[0]:
        tokens[0] = tokens[0][0].swapcase() + tokens[0][1:]


def _splice(text: str, seed: _Seed, pools: _Pools, rng: random.Random) -> str:
    # Same label and, where there is one, same language: the line stays what its label says.
    donors = pools.donors.get(seed.language) or next(iter(pools.donors.values()), ())
    if not donors:
        return text
    sentence = rng.choice(rng.choice(donors).sentences)
    return f"{text} {sentence}" if rng.random() < 0.6 else f"{sentence} {text}"


def _person(pools: _Pools, rng: random.Random) -> str:
    first = rng.choice(pools.first_names)
    last = rng.choice(pools.last_names)
    kind = rng.randrange(6)
    if kind <= 1:
        return f"{first} {last}"
    if kind == 2:
        return f"{first} {last[0]}."
    if kind == 3:
        return first
    if kind == 4:
        return f"{first[0]}. {last}"
    return f"{first} {last}".lower()


def _email(name: str, fallback: str, pools: _Pools, rng: random.Random) -> str:
    parts = [p for p in (_ascii(w) for w in name.split()) if p]
    domain = rng.choice(pools.email_domains)
    if not parts:
        local = _ascii(fallback.split("@", 1)[0]) or "reader"
        return f"{local}{rng.randrange(100)}@{domain}"
    first, last = parts[0], parts[-1] if len(parts) > 1 else ""
    year = rng.randrange(60, 100) if rng.random() < 0.5 else rng.randrange(0, 10)
    forms = (
        f"{first}.{last}" if last else first,
        f"{first[0]}{last}" if last else f"{first}{year:02d}",
        f"{first}{last}{rng.randrange(1, 1000)}",
        f"{first}_{last}" if last else f"{first}_{year:02d}",
        f"{first}.{last}{year:02d}" if last else f"{first}{rng.randrange(1, 10000)}",
    )
    return f"{rng.choice(forms)}@{domain}"


def _domain_label(label: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0 or not label.isascii():
        return f"{label}{rng.randrange(2, 100)}"
    if kind == 1:
        return f"{label}-{rng.choice(_DOMAIN_WORDS)}"
    if kind == 2:
        return f"{rng.choice(_DOMAIN_PREFIXES)}-{label}"
    return label.replace("-", "", 1) if "-" in label else f"{label[0]}-{label[1:]}"


def _perturb(seed: _Seed, pools: _Pools, rng: random.Random) -> Row:
    r = rng.random
    tokens = list(seed.tokens)
    text_edits = 0
    if seed.wordy and r() < 0.6:
        for _ in range(rng.randint(1, 3)):
            i = rng.choice(seed.wordy)
            tokens[i] = _typo(tokens[i], rng)
        text_edits += 1
    if seed.digits and r() < 0.5:
        i = rng.choice(seed.digits)
        tokens[i] = _new_digits(tokens[i], rng)
        text_edits += 1
    if r() < 0.25:
        _case(tokens, seed, rng)
        text_edits += 1
    # Word edits last among token edits: they move indices the others rely on.
    if seed.plain and r() < 0.45:
        _word_edits(tokens, seed, rng)
        text_edits += 1
    content = " ".join(tokens)
    # A copy left untouched would repeat its seed hundreds of times in a large corpus.
    forced = "" if text_edits else rng.choice(("punctuation", "splice"))
    if forced == "punctuation" or r() < 0.35:
        content = _punctuation(content, rng)
    if forced == "splice" or r() < 0.3:
        content = _splice(content, seed, pools, rng)

    name, email, url = seed.author_name, seed.author_email, seed.author_url
    roll = r()
    if roll < 0.35:
        name = _person(pools, rng)
        email = _email(name, email, pools, rng)
    elif roll < 0.5 and email:
        email = _email(name, email, pools, rng)
    # Link domains change for spam only: a ham comment links to real sites (github.com, a
    # wiki), and inventing look-alikes of those would teach that odd domains are harmless.
    if seed.domains and seed.label is Label.SPAM and r() < 0.6:
        for registered, label, suffix in seed.domains:
            renamed = f"{_domain_label(label, rng)}.{suffix}"
            content = content.replace(registered, renamed)
            url = url.replace(registered, renamed)
            email = email.replace(f"@{registered}", f"@{renamed}")
    if not content.strip():
        content = seed.content
    return {
        "content": content,
        "label": seed.label.value,
        "author_name": name,
        "author_email": email,
        "author_url": url,
        "language": seed.language,
    }


def generate(examples: Sequence[Example], n: int, rng: random.Random) -> Iterator[Row]:
    """`n` perturbed copies of examples drawn uniformly, as rows with the seed files' columns."""
    if not examples:
        raise ValueError("no seed examples to draw from")
    seeds = [_seed(e) for e in examples]
    pools = {label: _pools(seeds, label) for label in Label}
    count = len(seeds)
    for _ in range(n):
        seed = seeds[rng.randrange(count)]
        yield _perturb(seed, pools[seed.label], rng)


@dataclass(frozen=True, slots=True)
class Summary:
    """What a written corpus holds."""

    lines: int
    spam: int
    ham: int
    distinct: int


def write(rows: Iterable[Row], out: Path) -> Summary:
    """Write rows as JSONL (UTF-8, one object a line) and count labels and distinct contents."""
    lines = spam = 0
    # Hashes rather than the texts themselves: a million comments would hold a few hundred MB.
    seen: set[int] = set()
    with out.open("w", encoding="utf-8", buffering=1 << 20) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            lines += 1
            spam += row["label"] == Label.SPAM.value
            seen.add(hash(row["content"]))
    return Summary(lines=lines, spam=spam, ham=lines - spam, distinct=len(seen))


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the corpus the command line asks for and print one summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    examples = read_all(seed_files(ROOT / "training" / "data"))
    summary = write(generate(examples, args.comments, random.Random(args.seed)), args.out)
    elapsed = time.perf_counter() - started
    size = args.out.stat().st_size / 1e6
    print(
        f"{summary.lines:,} lines ({summary.spam:,} spam, {summary.ham:,} ham), "
        f"{summary.distinct:,} distinct contents, {elapsed:.1f} s, {size:.1f} MB: {args.out}"
    )


if __name__ == "__main__":
    main()
