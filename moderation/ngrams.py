"""Word and char_wb n-gram counts as sparse matrices, for corpora too large for scikit-learn.

scikit-learn's analyzers build every n-gram of every document as a Python string: about a
millisecond a comment, so a quarter of an hour per pass over a million. Here a document is cut
into words once and each distinct word's n-grams are found once; a document's char_wb counts
are then its word counts times each word's n-gram counts (char_wb n-grams never cross a word),
a sparse product done in C, and its word bigrams are pairs of token numbers. The vocabulary and
inverse document frequencies come out as `TfidfVectorizer.fit` makes them (a test holds them
to it), so a model fitted this way is an ordinary Pipeline to the rest of the service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from numbers import Integral
from operator import is_
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # scoring imports this module, and needs none of scikit-learn
    from sklearn.feature_extraction.text import TfidfVectorizer

ONE_WORD = 1 << 32  # a word bigram's key: its first token's number times this, plus the second's


@dataclass(frozen=True, slots=True)
class Encoded:
    """Documents as numbers: each document's word (or token) numbers, one after the other."""

    ids: Any  # int32, every document's numbers concatenated
    lengths: Any  # int64, how many numbers each document has

    def __len__(self) -> int:
        return len(self.lengths)

    def starts(self) -> Any:
        """Where each document's numbers start in `ids`."""
        return np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)

    def take(self, rows: Any, *, starts: Any = None) -> Encoded:
        """The documents at `rows` (an index array), in that order; `starts` may be given."""
        begin = (self.starts() if starts is None else starts)[rows]
        lengths = self.lengths[rows]
        if len(lengths) == 0:
            return Encoded(self.ids[:0], lengths)
        shift = begin - np.concatenate(([0], np.cumsum(lengths)[:-1]))
        return Encoded(self.ids[np.arange(int(lengths.sum())) + np.repeat(shift, lengths)], lengths)

    @staticmethod
    def join(parts: Sequence[Encoded]) -> Encoded:
        """One Encoded holding the documents of `parts`, in order."""
        if not parts:
            return Encoded(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))
        return Encoded(
            np.concatenate([p.ids for p in parts]), np.concatenate([p.lengths for p in parts])
        )

    def rows(self) -> Any:
        """The document number of each id."""
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)


def supported(vectorizer: TfidfVectorizer) -> bool:
    """Whether `NgramCounts` reproduces this vectorizer's fit."""
    plain = (
        vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and vectorizer.strip_accents is None
        and vectorizer.stop_words is None
        and vectorizer.vocabulary is None
        and not vectorizer.binary
        and vectorizer.use_idf
        and vectorizer.smooth_idf
        and vectorizer.norm == "l2"
    )
    low, high = vectorizer.ngram_range
    if vectorizer.analyzer == "char_wb":
        return plain and 1 <= low <= high
    return plain and vectorizer.analyzer == "word" and 1 <= low <= high <= 2


class _Vocabulary:
    """Terms numbered in the order first seen; document and corpus counts per number."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.tf = np.zeros(0, dtype=np.int64)
        self.documents = 0

    def add_counts(self, counts: Any) -> None:
        """Add a (documents x terms) count matrix of documents to learn from."""
        size = counts.shape[1]
        if size > len(self.df):
            grown = max(size, 2 * len(self.df))
            self.df = np.concatenate((self.df, np.zeros(grown - len(self.df), dtype=np.int64)))
            self.tf = np.concatenate((self.tf, np.zeros(grown - len(self.tf), dtype=np.int64)))
        # A matrix product's rows hold each column once (their order does not matter here), and
        # a COO-built matrix has summed its repeats: no sort needed.
        counts = counts.tocsr()
        self.df[:size] += np.bincount(counts.indices, minlength=size)
        self.tf[:size] += np.bincount(counts.indices, weights=counts.data, minlength=size).astype(
            np.int64
        )
        self.documents += counts.shape[0]


class NgramCounts:
    """Counts one vectorizer's n-grams over documents added chunk by chunk, then fits it."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if not supported(vectorizer):
            raise ValueError(f"cannot count for {vectorizer!r}")
        self.vectorizer = vectorizer
        self.low, self.high = vectorizer.ngram_range
        self.lowercase = bool(vectorizer.lowercase)
        self.char_wb = vectorizer.analyzer == "char_wb"
        self.vocabulary = _Vocabulary()
        # char_wb: each word's n-gram numbers (repeats kept), as a CSR matrix built up row by row.
        self.words: dict[str, int] = {}
        self._word_grams = _Growing(np.int32)
        self._word_starts = _Growing(np.int64)
        self._word_starts.extend([0])
        self._word_matrix: Any = None
        # word n-grams: token numbers are term numbers; bigrams are keyed by their two tokens.
        self._tokens = re.compile(vectorizer.token_pattern).findall
        self._bigrams: dict[int, int] = {}
        # Each term number's n-gram; a bigram's is its key.
        self._names: list[str | int] = []

    # -- documents to numbers -------------------------------------------------------------

    def encode(self, docs: Sequence[str]) -> Encoded:
        """Number the words (char_wb) or tokens (word n-grams) of each document."""
        pieces: list[str] = []
        lengths = np.empty(len(docs), dtype=np.int64)
        cut = str.split if self.char_wb else self._tokens
        for i, doc in enumerate(docs):
            found = cut(doc.lower() if self.lowercase else doc)
            pieces.extend(found)
            lengths[i] = len(found)
        if not self.char_wb:
            numbers = _number_all(self.vocabulary.numbers, pieces, self._names)
            return Encoded(np.array(numbers, dtype=np.int32), lengths)
        known: list[int | None] = list(map(self.words.get, pieces))
        if None in known:
            self._add_words(list(dict.fromkeys(compress(pieces, map(is_, known, repeat(None))))))
            known = list(map(self.words.__getitem__, pieces))
        return Encoded(np.array(known, dtype=np.int32), lengths)

    def _add_words(self, words: list[str]) -> None:
        grams = [char_wb_grams(word, self.low, self.high) for word in words]
        numbers = _number_all(
            self.vocabulary.numbers, list(chain.from_iterable(grams)), self._names
        )
        self._word_grams.extend(numbers)
        ends = np.cumsum(np.fromiter(map(len, grams), dtype=np.int64, count=len(grams)))
        self._word_starts.extend(ends + len(self._word_grams) - len(numbers))
        self.words.update(
            zip(words, range(len(self.words), len(self.words) + len(words)), strict=True)
        )
        self._word_matrix = None

    # -- numbers to counts ----------------------------------------------------------------

    def counts(self, encoded: Encoded) -> Any:
        """(documents x terms) raw counts, by term number; new bigrams get numbers."""
        if self.char_wb:
            return word_counts(encoded, len(self.words)) @ self._words_by_gram()
        rows = encoded.rows()
        ids = encoded.ids.astype(np.int64)
        parts_rows, parts_cols = [], []
        if self.low == 1:
            parts_rows.append(rows)
            parts_cols.append(ids)
        if self.high == 2:
            pair_rows, keys = bigram_keys(rows, ids)
            distinct, inverse = np.unique(keys, return_inverse=True)
            numbers = np.array(
                _number_all(self._bigrams, distinct.tolist(), self._names), dtype=np.int64
            )
            parts_rows.append(pair_rows)
            parts_cols.append(numbers[inverse])
        r = np.concatenate(parts_rows) if parts_rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(parts_cols) if parts_cols else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix(
            (np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(encoded), len(self._names))
        )

    def _words_by_gram(self) -> Any:
        if self._word_matrix is None or self._word_matrix.shape[1] != len(self._names):
            indices = self._word_grams.values()
            starts = self._word_starts.values()
            self._word_matrix = sp.csr_matrix(
                (np.ones(len(indices), dtype=np.float32), indices, starts),
                shape=(len(self.words), len(self._names)),
            )
        return self._word_matrix

    def learn(self, encoded: Encoded) -> None:
        """Count the documents' terms towards the vocabulary and the idf."""
        self.vocabulary.add_counts(self.counts(encoded))

    # -- the fit --------------------------------------------------------------------------

    def fit(self) -> tuple[TfidfVectorizer, Transform]:
        """The vectorizer fitted as `fit` on the learnt documents would, and a fast transform."""
        v = self.vectorizer
        n_doc = self.vocabulary.documents
        size = len(self._names)
        # Terms numbered in documents that were encoded but never learnt from have no counts.
        df = np.zeros(size, dtype=np.int64)
        tf = np.zeros(size, dtype=np.int64)
        counted = min(size, len(self.vocabulary.df))
        df[:counted] = self.vocabulary.df[:counted]
        tf[:counted] = self.vocabulary.tf[:counted]
        high = float(v.max_df if isinstance(v.max_df, Integral) else v.max_df * n_doc)
        low = float(v.min_df if isinstance(v.min_df, Integral) else v.min_df * n_doc)
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        # Only terms within the document-frequency bounds need their names, to be put in
        # alphabetical order (as scikit-learn numbers columns) and cut to max_features.
        candidates = np.flatnonzero((df <= high) & (df >= low))
        names = {int(i): self._name(int(i)) for i in candidates}
        order = np.array(sorted(names, key=names.__getitem__), dtype=np.int64)
        if v.max_features is not None and len(order) > v.max_features:
            ranked = np.argsort(-tf[order], kind="stable")[: v.max_features]
            order = order[np.sort(ranked)]
        kept = order
        if len(kept) == 0:
            raise ValueError(
                "After pruning, no terms remain. Try a lower min_df or a higher max_df."
            )
        column = np.full(size, -1, dtype=np.int64)
        column[kept] = np.arange(len(kept))
        fitted = type(v)(**v.get_params())
        fitted.vocabulary_ = {names[i]: int(c) for c, i in enumerate(kept.tolist())}
        dtype = np.dtype(v.dtype) if np.dtype(v.dtype) in (np.float32, np.float64) else np.float64
        idf = np.full(len(kept), n_doc + 1, dtype=dtype)
        idf /= df[kept].astype(dtype) + 1.0
        np.log(idf, out=idf)
        idf += 1.0
        fitted.idf_ = idf
        return fitted, Transform(self, column, idf)

    def _name(self, number: int) -> str:
        name = self._names[number]
        if isinstance(name, str):
            return name
        first, second = divmod(name, ONE_WORD)
        return f"{self._names[first]} {self._names[second]}"


class _Growing:
    """A numpy array appended to in bulk, its storage doubled when full."""

    def __init__(self, dtype: Any) -> None:
        self._data = np.zeros(1024, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, values: Any) -> None:
        """Append `values` (a sequence of numbers or an array)."""
        end = self._size + len(values)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = values
        self._size = end

    def values(self) -> Any:
        """The values appended so far (a view: valid until the next extend)."""
        return self._data[: self._size]


def _number_all(table: dict[Any, int], items: list[Any], names: list[Any]) -> list[int]:
    """The number of each item; an item not in `table` gets the next one and joins `names`."""
    found: list[int | None] = list(map(table.get, items))
    if None in found:
        new = list(dict.fromkeys(compress(items, map(is_, found, repeat(None)))))
        table.update(zip(new, range(len(names), len(names) + len(new)), strict=True))
        names.extend(new)
        return list(map(table.__getitem__, items))
    return found  # type: ignore[return-value]  # no None left


def char_wb_grams(word: str, low: int, high: int) -> list[str]:
    """One word's char_wb n-grams, repeats kept, as scikit-learn's analyzer makes them."""
    # As scikit-learn's _char_wb_ngrams: a padded word no longer than n is one n-gram, and the
    # last one taken from that word.
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


# The hash table has at least twice as many slots as n-grams; a key not settled after two
# probes is searched for in the sorted keys.
_SPARE = 2
# Fewer n-grams than this are looked up by a binary search of the sorted keys instead.
_SEARCHED_BELOW = 1024


def code_points(text: str) -> Any:
    """The code points of a text as a uint32 array (a lone surrogate as itself)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class PackedCharGrams:
    """A char_wb vocabulary looked up as integers: many words' known columns in a few array
    operations instead of a Python slice and dictionary lookup per n-gram.

    Each character of the vocabulary is numbered from 1 (any other character gets one number
    more than the last, which no n-gram holds); an n-gram is its characters' numbers side by
    side, `bits` bits each, so that distinct n-grams have distinct keys. A word's n-grams are
    all the windows of `low` to `high` characters inside " word ", as scikit-learn's char_wb
    analyzer takes them when `low` <= 3 (a padded word is never shorter); a test holds the
    columns to the analyzer's.
    """

    def __init__(self, vocabulary: dict[str, int], low: int, high: int) -> None:
        alphabet = sorted(set("".join(vocabulary)))
        self.low, self.high = low, high
        self.bits = 63 // high
        self._shifts = (self.bits * np.arange(high, dtype=np.int64))[:, None]
        self._sizes = np.arange(low, high + 1, dtype=np.int64)[:, None]
        self.other = len(alphabet) + 1
        if self.other >= 1 << self.bits or not 1 <= low <= 3:
            raise ValueError("vocabulary cannot be packed")
        # Characters of the Basic Multilingual Plane by code point (512 kB); the few others
        # (emoji) by a binary search.
        self.bmp = np.full(0x10000, self.other, dtype=np.int64)
        points = np.array([ord(char) for char in alphabet], dtype=np.int64)
        numbers = np.arange(1, len(alphabet) + 1, dtype=np.int64)
        plain = points < 0x10000
        self.bmp[points[plain]] = numbers[plain]
        self.astral, self.astral_numbers = points[~plain], numbers[~plain]
        grams = list(vocabulary)
        lengths = np.fromiter(map(len, grams), np.int64, len(grams))
        if len(grams) and (lengths.min() < low or lengths.max() > high):
            raise ValueError("vocabulary holds n-grams outside the range")
        # The n-grams of each length as rows of an array, a length at a time: no array as long
        # as all their characters together, whose memory the process would go on holding.
        keys = np.zeros(len(grams), dtype=np.int64)
        for n in range(low, high + 1):
            of_length = lengths == n
            if not of_length.any():
                continue
            chars = self._numbers("".join(compress(grams, of_length.tolist()))).reshape(-1, n)
            key = chars[:, 0].copy()
            for place in range(1, n):
                key |= chars[:, place] << (self.bits * place)
            keys[of_length] = key
        columns = np.fromiter(vocabulary.values(), np.int32, len(grams))
        order = np.argsort(keys)
        self.keys, self.columns_of_keys = keys[order], columns[order].astype(np.int64)
        # An open-addressing hash table at most half full, probed linearly: a batch's n-grams
        # are looked up in its first two slots for all of them (a binary search of every one
        # costs twice as much, each step a cache miss).
        size = 1 << max(4, (_SPARE * len(grams)).bit_length())
        self.mask = size - 1
        self.slot_keys = np.zeros(size, dtype=np.int64)  # 0: empty (every key is above 0)
        self.slot_columns = np.full(size, -1, dtype=np.int32)
        slots = self._slots(keys)
        waiting = np.arange(len(keys), dtype=np.int64)
        while len(waiting):
            free = self.slot_keys[slots[waiting]] == 0
            # Of the keys waiting for the same free slot, the first takes it.
            _, first = np.unique(slots[waiting[free]], return_index=True)
            placed = waiting[free][first]
            self.slot_keys[slots[placed]] = keys[placed]
            self.slot_columns[slots[placed]] = columns[placed]
            waiting = np.setdiff1d(waiting, placed, assume_unique=True)
            slots[waiting] = (slots[waiting] + 1) & self.mask

    def _numbers(self, text: str) -> Any:
        """Each character's number (int64), `other` for one outside the vocabulary."""
        if text.isascii():  # the usual text, whose largest code point need not be looked for
            return self.bmp[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        points = code_points(text)
        if not len(points) or points.max() < 0x10000:
            return self.bmp[points]
        numbers = self.bmp[np.minimum(points, 0xFFFF)]
        astral = np.flatnonzero(points >= 0x10000)
        numbers[astral] = self.other
        if len(self.astral):
            wanted = points[astral]
            at = np.minimum(np.searchsorted(self.astral, wanted), len(self.astral) - 1)
            known = self.astral[at] == wanted
            numbers[astral[known]] = self.astral_numbers[at[known]]
        return numbers

    def _slots(self, keys: Any) -> Any:
        # Fibonacci hashing: the key times 2^64 over the golden ratio, its top bits.
        shift = 64 - self.mask.bit_length()
        product = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (product >> np.uint64(shift)).astype(np.int64)

    def _find(self, keys: Any) -> tuple[Any, Any]:
        """Which keys are in the vocabulary (a boolean array), and the columns of those."""
        if len(keys) < _SEARCHED_BELOW and len(self.keys):
            # A few keys: a binary search each, in a handful of array operations where the
            # hash table's probes take thirty.
            at = self.keys.searchsorted(keys)
            np.minimum(at, len(self.keys) - 1, out=at)
            hit = self.keys[at] == keys
            return hit, self.columns_of_keys[at[hit]]
        # Both probes for every key at once: without deletions, a key is in its slot or the
        # next unless both are taken by others; those few are searched for in the sorted keys.
        first = self._slots(keys)
        second = (first + 1) & self.mask
        there = self.slot_keys[first]
        next_there = self.slot_keys[second]
        in_first = there == keys
        found = np.where(
            in_first,
            self.slot_columns[first],
            np.where(next_there == keys, self.slot_columns[second], -1),
        ).astype(np.int64)
        rest = np.flatnonzero((found < 0) & (there != 0) & (next_there != 0))
        if len(rest) and len(self.keys):
            at = np.minimum(self.keys.searchsorted(keys[rest]), len(self.keys) - 1)
            found[rest] = np.where(self.keys[at] == keys[rest], self.columns_of_keys[at], -1)
        hit = found >= 0
        return hit, found[hit]

    def columns(self, words: Sequence[str]) -> list[Any]:
        """Each word's known columns (int64), an n-gram's as often as the word holds it, in the
        order char_wb_grams gives them."""
        if not words:
            return []
        padded = np.fromiter(map(len, words), np.int64, len(words))
        padded += 2
        # high - 1 more characters after the last padded word, so that every position starts
        # a window of each length; those crossing a word's end are dropped below.
        numbers = self._numbers(" " + "  ".join(words) + " " * self.high)
        total = len(numbers) - (self.high - 1)
        # Row k: each position's window of k + 1 characters, then its key (the characters'
        # numbers side by side; their bits do not overlap, so a running sum puts them together).
        # Array methods rather than numpy's functions, which wrap them in Python.
        windows = np.ndarray((self.high, total), np.int64, numbers, strides=(8, 8))
        keys = windows << self._shifts
        keys.cumsum(axis=0, out=keys)
        room = padded.cumsum().repeat(padded)
        room -= np.arange(total)
        # Windows of low to high characters inside their padded word, by length then position.
        inside = self._sizes <= room
        known, columns = self._find(keys[self.low - 1 :][inside])
        # Each position's word, the same for every row.
        word = np.arange(len(words), dtype=np.int64).repeat(padded)
        owner = np.ndarray(inside.shape, np.int64, word, strides=(0, 8))[inside][known]
        order = owner.argsort(kind="stable")
        columns = columns[order]
        bounds = np.bincount(owner, minlength=len(words)).cumsum().tolist()
        # Slices one by one: np.split costs a few µs a piece.
        return [columns[a:b] for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def word_counts(encoded: Encoded, n_words: int) -> Any:
    """(documents x words) counts of encoded documents, repeats not yet summed."""
    indptr = np.concatenate(([0], np.cumsum(encoded.lengths)))
    return sp.csr_matrix(
        (np.ones(len(encoded.ids), dtype=np.float32), encoded.ids, indptr),
        shape=(len(encoded), n_words),
    )


class Transform:
    """Encoded documents to the fitted vectorizer's TF-IDF rows, without its analyzer."""

    def __init__(self, counts: NgramCounts, column: Any, idf: Any) -> None:
        self.width = len(idf)
        self.idf = idf
        self.sublinear_tf = bool(counts.vectorizer.sublinear_tf)
        self.dtype = idf.dtype
        self.char_wb = counts.char_wb
        if self.char_wb:
            # Each word's n-grams renumbered as columns, those left out of the vocabulary
            # dropped; every word keeps its row, however few of its n-grams are kept.
            words = counts._words_by_gram()
            cols = column[words.indices]
            kept = cols >= 0
            per_word: Any = (
                np.add.reduceat(kept.astype(np.int64), words.indptr[:-1]) if len(kept) else []
            )
            indptr = np.concatenate(([0], np.cumsum(per_word))).astype(np.int64)
            self.words = sp.csr_matrix(
                (np.ones(int(indptr[-1]), dtype=np.float32), cols[kept].astype(np.int32), indptr),
                shape=(words.shape[0], self.width),
            )
        else:
            self.low, self.high = counts.low, counts.high
            self.unigram = np.append(column, -1)  # the last: tokens numbered after the fit
            keys = np.array(list(counts._bigrams), dtype=np.int64)
            cols = column[np.array(list(counts._bigrams.values()), dtype=np.int64)]
            known = cols >= 0
            by_key = np.argsort(keys[known])
            self.bigram_keys = keys[known][by_key]
            self.bigram_cols = cols[known][by_key]

    def __call__(self, encoded: Encoded, *, dtype: Any = None) -> Any:
        """TF-IDF rows (CSR, l2-normalised) of the encoded documents, in the idf's dtype or
        `dtype`."""
        if self.char_wb:
            counts = word_counts(encoded, self.words.shape[0]) @ self.words
        else:
            counts = self._word_ngram_counts(encoded)
        counts = counts.tocsr()  # each column once per row; unsorted, which costs nothing here
        values = counts.data.astype(self.dtype if dtype is None else dtype)
        if self.sublinear_tf:
            np.log(values, out=values)
            values += 1.0
        values *= self.idf[counts.indices]
        lengths = np.diff(counts.indptr)
        norms = np.zeros(len(lengths), dtype=values.dtype)
        filled = lengths > 0
        if len(values):
            norms[filled] = np.add.reduceat(values * values, counts.indptr[:-1][filled])
        np.sqrt(norms, out=norms)
        norms[~filled] = 1.0
        values /= np.repeat(norms, lengths)
        return sp.csr_matrix(
            (values, counts.indices, counts.indptr), shape=(counts.shape[0], self.width)
        )

    def _word_ngram_counts(self, encoded: Encoded) -> Any:
        # Tokens first numbered after the fit (never learnt from) share the last, unknown number.
        numbers = np.minimum(encoded.ids.astype(np.int64), len(self.unigram) - 1)
        rows, columns = word_ngram_columns(
            encoded.rows(),
            numbers,
            self.unigram,
            self.bigram_keys,
            self.bigram_cols,
            low=self.low,
            high=self.high,
        )
        return sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, columns)),
            shape=(len(encoded), self.width),
        )


def bigram_keys(rows: Any, numbers: Any) -> tuple[Any, Any]:
    """Each pair of neighbouring tokens within a document: its row, and its key (the first
    token's number times ONE_WORD, plus the second's)."""
    same = rows[:-1] == rows[1:]
    return rows[:-1][same], numbers[:-1][same] * ONE_WORD + numbers[1:][same]


def word_ngram_columns(
    rows: Any,
    numbers: Any,
    unigram_columns: Any,
    keys: Any,
    key_columns: Any,
    *,
    low: int,
    high: int,
) -> tuple[Any, Any]:
    """The known (row, column) of each uni- and bigram of token-numbered documents, repeats kept.

    `unigram_columns[number]` is a token's column or -1; `keys` (sorted, as `bigram_keys`
    makes them) and `key_columns` are the known bigrams.
    """
    found_rows, found_columns = [], []
    if low == 1:
        found_rows.append(rows)
        found_columns.append(unigram_columns[numbers])
    if high == 2 and len(keys):
        pair_rows, pairs = bigram_keys(rows, numbers)
        at = np.minimum(np.searchsorted(keys, pairs), len(keys) - 1)
        found_rows.append(pair_rows)
        found_columns.append(np.where(keys[at] == pairs, key_columns[at], -1))
    if not found_rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    all_rows, all_columns = np.concatenate(found_rows), np.concatenate(found_columns)
    known = all_columns >= 0
    return all_rows[known], all_columns[known]
