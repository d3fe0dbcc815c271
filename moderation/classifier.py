"""The spam classifier: one scikit-learn Pipeline, calibrated, with the evidence behind a score."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import is_
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from moderation.domain import Evidence, Score
from moderation.features import TextInput, document
from moderation.ngrams import (
    ONE_WORD,
    Encoded,
    PackedCharGrams,
    char_wb_grams,
    word_counts,
    word_ngram_columns,
)

RANDOM_STATE = 42
_EVIDENCE_TERMS = 8
_EVIDENCE_GROUPS = 16  # per part and document; at least _EVIDENCE_TERMS
_GROUPED_FROM = 4  # documents in a batch from which evidence is ranked by groups
_SCORE_BATCH = 128
_PRODUCT_FROM = 16  # documents in a batch from which _CharWbColumns counts by a sparse product
# Characters of unseen words from which _CharWbColumns looks their n-grams up as integers.
_PACKED_FROM = 16
# Words (with inner apostrophes and hyphens, as in "aujourd'hui"), and the symbols money and
# contact spam leans on.
_WORD_TOKENS = r"(?u)\b\w[\w'-]*\w\b|\b\w\b|[$€£%!?@]"
# Token patterns that never match whitespace (this one and scikit-learn's default): only with
# them can a word bigram's two tokens be found again by splitting it on its space.
_SPACELESS_TOKENS = frozenset({_WORD_TOKENS, r"(?u)\b\w\w+\b"})
# Longer words are counted but not kept: a flood of long unseen ones would otherwise hold up
# to max_words of them, tens of kilobytes each.
_CACHED_CHARS = 64
_INT32_KEYS = 2**31 - 1  # the largest key a signed 32-bit integer holds
# The version of `SpamClassifier.scorer_state`'s layout.
SCORER_STATE_FORMAT = 1

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline


def build_pipeline(*, calibration_folds: int = 5) -> Pipeline:
    """The untrained pipeline: word and character n-grams, logistic regression, sigmoid calibration.

    Character n-grams within word boundaries carry French and English alike (and survive the
    misspellings spammers use to dodge word lists); word uni- and bigrams carry phrases.
    """
    # Imported here: scoring needs none of scikit-learn, whose import is most of a cold start.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    lowercase=True,
                    token_pattern=_WORD_TOKENS,
                    ngram_range=(1, 2),
                    min_df=2,
                    max_df=0.9,
                    sublinear_tf=True,
                    max_features=200_000,
                    dtype=np.float32,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    lowercase=True,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=300_000,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    # ensemble=False: one regression fitted on all the data (whose weights are the evidence),
    # calibrated on out-of-fold scores.
    classifier = CalibratedClassifierCV(
        LogisticRegression(C=20.0, max_iter=2000, solver="liblinear", random_state=RANDOM_STATE),
        method="sigmoid",
        cv=calibration_folds,
        ensemble=False,
    )
    return Pipeline([("features", features), ("classifier", classifier)])


_EMPTY = np.zeros(0, dtype=np.int64)


def _cached(
    cache: dict[str, Any],
    words: list[str],
    make: Callable[[list[str]], list[Any]],
    limit: int,
) -> list[Any]:
    """The item of each word, from `cache` or made (`make` of all the missing words at once)
    and kept there (words up to _CACHED_CHARS long, `limit` of them at most)."""
    found: list[Any] = list(map(cache.get, words))
    # The misses found in C: a Python loop over every word would cost more than the lookups.
    missing = list(compress(range(len(found)), map(is_, found, repeat(None))))
    if not missing:
        return found
    for i, made in zip(missing, make([words[i] for i in missing]), strict=True):
        found[i] = made
        if len(words[i]) <= _CACHED_CHARS:
            if len(cache) >= limit:
                cache.clear()  # a flood of unseen words must not grow memory unbounded
            cache[words[i]] = made
    return found


@dataclass(frozen=True, slots=True)
class _Words:
    """A batch's whitespace-separated words: each distinct one once, and every document's
    words, in order, as numbers into them. Cut once per batch for every part that reads
    words."""

    distinct: list[str]
    ids: list[int]  # every document's word numbers, one document after the other
    per_doc: list[int]  # how many words each document has

    @classmethod
    def of(cls, docs: Sequence[str], lowercase: bool) -> _Words:
        split = [(doc.lower() if lowercase else doc).split() for doc in docs]
        words = list(chain.from_iterable(split))
        distinct = list(dict.fromkeys(words))
        local = dict(zip(distinct, range(len(distinct)), strict=True))
        return cls(distinct, list(map(local.__getitem__, words)), list(map(len, split)))

    def spread(self, per_word: list[Any]) -> tuple[list[Any], Any]:
        """Each word occurrence's item, in order, from each distinct word's `per_word` (a
        sized item: columns, token numbers), and for each of their elements its document."""
        # Lists and map() rather than array arithmetic: a single comment, the usual batch at
        # low load, would otherwise pay a dozen array calls for a few dozen words.
        items = list(map(per_word.__getitem__, self.ids))
        if len(self.per_doc) == 1:
            return items, np.zeros(sum(map(len, items)), dtype=np.int64)
        rows = np.repeat(
            np.repeat(np.arange(len(self.per_doc), dtype=np.int64), self.per_doc),
            np.fromiter(map(len, items), np.int64, len(items)),
        )
        return items, rows


class _Columns:
    """A vectorizer's analyzer and vocabulary: documents -> the known columns of their terms."""

    # Whether the part reads a batch's `_Words`, lowercased (True) or as they are (False).
    words_lowercase: bool | None = None

    def __init__(self, vectorizer: TfidfVectorizer | FittedVectorizer) -> None:
        self.vectorizer = vectorizer
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._analyzer: Callable[[str], list[str]] | None = None

    def terms(self, doc: str) -> list[str]:
        """The terms (n-grams) of one document, as the vectorizer's analyzer finds them."""
        if self._analyzer is None:  # built when first needed: the parts below seldom need it
            self._analyzer = self.vectorizer.build_analyzer()
        return self._analyzer(doc)

    def batch(self, docs: Sequence[str], words: _Words | None = None) -> tuple[Any, Any]:
        """Every known column occurrence of `docs`: (document number, column), repeats kept;
        `words`, if given, are the documents' words as `words_lowercase` says."""
        terms: list[str] = []
        lengths = np.empty(len(docs), dtype=np.int64)
        for i, doc in enumerate(docs):
            found = self.terms(doc)
            terms.extend(found)
            lengths[i] = len(found)
        # map() asks the vocabulary in C: a Python loop over the few hundred n-grams of a
        # comment would cost more than all the arithmetic.
        idx = np.fromiter(
            map(self.vocabulary.get, terms, repeat(-1)), dtype=np.int64, count=len(terms)
        )
        rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        known = idx >= 0
        return rows[known], idx[known]

    def counted(self, docs: Sequence[str], words: _Words | None = None) -> tuple[Any, Any, Any]:
        """Each document's known columns, once each, with their counts: (rows, columns,
        counts), rows ascending; the order of a row's columns is unspecified."""
        rows, idx = self.batch(docs, words)
        width = len(self.vocabulary)
        # Each (row, column) as one integer to sort: sorting takes most of the time here.
        # numpy sorts 32-bit integers in about half the time of 64-bit ones. The few distinct
        # keys go back to 64 bits: indexing with any other integers copies them first.
        keys = idx if len(docs) == 1 else rows * width + idx
        if len(docs) * width <= _INT32_KEYS:
            keys = keys.astype(np.int32)
        keys, counts = np.unique(keys, return_counts=True)
        keys = keys.astype(np.int64, copy=False)
        if len(docs) == 1:  # every row is 0: the columns alone tell the terms apart
            return rows[: len(keys)], keys, counts
        return keys // width, keys % width, counts


class _WordColumns(_Columns):
    """Word n-grams without scikit-learn's Python loop.

    The same tokens (the vectorizer's own pattern, on the lowercased text) and the same
    n-grams: `terms` builds them with C-level joins (a test holds it to scikit-learn's
    analyzer); `batch` finds uni- and bigrams' columns from token numbers, each word's
    numbers kept as `_CharWbColumns` keeps its columns (a test holds it to `terms`).
    """

    def __init__(
        self, vectorizer: TfidfVectorizer | FittedVectorizer, *, max_words: int = 100_000
    ) -> None:
        super().__init__(vectorizer)
        self.tokens = re.compile(vectorizer.token_pattern).findall
        self.max_words = max_words
        self._words: dict[str, tuple[int, ...]] = {}
        self.low, self.high = (int(n) for n in vectorizer.ngram_range)
        self.lowercase = bool(vectorizer.lowercase)

        # Uni- and bigrams by number: each token of a known term numbered, a bigram's column
        # found from its two numbers, so that no bigram string is built to be looked up.
        self.by_number = self.high <= 2 and vectorizer.token_pattern in _SPACELESS_TOKENS
        self.token_numbers: dict[str, int] = {}
        unigram_columns: list[int] = []
        keys: list[int] = []
        key_columns: list[int] = []
        for term, column in self.vocabulary.items() if self.by_number else ():
            parts = term.split(" ")
            numbers = [self._number(part, unigram_columns) for part in parts]
            if len(parts) == 1:
                unigram_columns[numbers[0]] = column
            else:
                keys.append(numbers[0] * ONE_WORD + numbers[1])
                key_columns.append(column)
        self.unigram_columns = np.array([*unigram_columns, -1], dtype=np.int64)
        self.unknown = len(unigram_columns)  # its column is -1, and no bigram has it
        self.words_lowercase = self.lowercase if self.by_number else None
        order = np.argsort(np.array(keys, dtype=np.int64))
        self.bigram_keys = np.array(keys, dtype=np.int64)[order]
        self.bigram_columns = np.array(key_columns, dtype=np.int64)[order]

    def _number(self, token: str, unigram_columns: list[int]) -> int:
        number = self.token_numbers.get(token)
        if number is None:
            number = self.token_numbers[token] = len(unigram_columns)
            unigram_columns.append(-1)
        return number

    def terms(self, doc: str) -> list[str]:
        tokens = self.tokens(doc.lower() if self.lowercase else doc)
        out: list[str] = tokens[:] if self.low == 1 else []
        for n in range(max(2, self.low), self.high + 1):
            if len(tokens) < n:
                break
            out.extend(map(" ".join, zip(*(tokens[i:] for i in range(n)), strict=False)))
        return out

    def _word_numbers(self, word: str) -> tuple[int, ...]:
        return tuple(map(self.token_numbers.get, self.tokens(word), repeat(self.unknown)))

    def _words_numbers(self, words: list[str]) -> list[tuple[int, ...]]:
        return list(map(self._word_numbers, words))

    def batch(self, docs: Sequence[str], words: _Words | None = None) -> tuple[Any, Any]:
        if not self.by_number:
            return super().batch(docs)
        # Tokens never hold whitespace, and whitespace is no word character for the pattern's
        # boundaries: a document's tokens are those of its whitespace-separated words, one
        # after the other. Words recur from comment to comment, so each word's token numbers
        # are kept rather than the pattern run over every document.
        if words is None:
            words = _Words.of(docs, self.lowercase)
        per_word = _cached(self._words, words.distinct, self._words_numbers, self.max_words)
        occurrences, rows = words.spread(per_word)
        return word_ngram_columns(
            rows,
            np.fromiter(chain.from_iterable(occurrences), np.int64, len(rows)),
            self.unigram_columns,
            self.bigram_keys,
            self.bigram_columns,
            low=self.low,
            high=self.high,
        )


class _CharWbColumns(_Columns):
    """char_wb columns assembled word by word, each word's n-grams looked up once.

    char_wb n-grams never cross a word, so a document's n-grams are its words' n-grams put
    together; words recur from comment to comment, so each word's known columns are kept
    (up to `max_words`) and most of a comment costs one dictionary lookup per word instead
    of slicing and looking up every n-gram. A test holds this to scikit-learn's analyzer.
    """

    def __init__(
        self, vectorizer: TfidfVectorizer | FittedVectorizer, *, max_words: int = 100_000
    ) -> None:
        super().__init__(vectorizer)
        self.low, self.high = (int(n) for n in vectorizer.ngram_range)
        self.lowercase = bool(vectorizer.lowercase)
        self.words_lowercase = self.lowercase
        self.max_words = max_words
        self._words: dict[str, Any] = {}
        try:
            self.packed: PackedCharGrams | None = PackedCharGrams(
                self.vocabulary, self.low, self.high
            )
        except ValueError:  # too many distinct characters to pack: word by word
            self.packed = None

    def _word_columns(self, word: str) -> Any:
        grams = char_wb_grams(word, self.low, self.high)
        found = [self.vocabulary[g] for g in grams if g in self.vocabulary]
        return np.array(found, dtype=np.int64) if found else _EMPTY

    def _words_columns(self, words: list[str]) -> list[Any]:
        # The array operations cost about as much as slicing and looking up, one by one, the
        # n-grams of 16 characters' worth of words (two short words).
        if self.packed is not None and sum(map(len, words)) >= _PACKED_FROM:
            return self.packed.columns(words)
        return list(map(self._word_columns, words))

    def _columns_of(self, words: list[str]) -> list[Any]:
        """Each word's known columns, from the cache or found and cached."""
        return _cached(self._words, words, self._words_columns, self.max_words)

    def batch(self, docs: Sequence[str], words: _Words | None = None) -> tuple[Any, Any]:
        if words is None:
            words = _Words.of(docs, self.lowercase)
        occurrences, rows = words.spread(self._columns_of(words.distinct))
        return rows, np.concatenate(occurrences) if occurrences else _EMPTY

    def counted(self, docs: Sequence[str], words: _Words | None = None) -> tuple[Any, Any, Any]:
        if len(docs) < _PRODUCT_FROM:
            return super().counted(docs, words)
        # A batch's counts as a sparse product, (documents x its distinct words) times (those
        # words x their columns): summed in C with no sort of every n-gram of the batch, at
        # about half the cost from a few dozen comments on. Below _PRODUCT_FROM documents,
        # building the matrices costs more than it saves.
        if words is None:
            words = _Words.of(docs, self.lowercase)
        if not words.distinct:
            return _EMPTY, _EMPTY, _EMPTY
        columns = self._columns_of(words.distinct)
        word_starts = np.zeros(len(columns) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, columns), np.int64, len(columns)), out=word_starts[1:])
        by_word = sp.csr_matrix(
            (np.ones(int(word_starts[-1])), np.concatenate(columns), word_starts),
            shape=(len(columns), len(self.vocabulary)),
        )
        encoded = Encoded(
            np.fromiter(words.ids, np.int64, len(words.ids)),
            np.fromiter(words.per_doc, np.int64, len(words.per_doc)),
        )
        counts = word_counts(encoded, len(columns)) @ by_word
        rows = np.repeat(np.arange(len(docs), dtype=np.int64), np.diff(counts.indptr))
        return rows, counts.indices.astype(np.int64), counts.data


def _columns_class(vectorizer: TfidfVectorizer | FittedVectorizer) -> type[_Columns]:
    """The columns that score a vectorizer's part: ours for the plain analyzers, scikit-learn's
    analyzer (`_Columns`) for any other."""
    plain_char_wb = (
        vectorizer.analyzer == "char_wb"
        and vectorizer.preprocessor is None
        and vectorizer.strip_accents is None
        and vectorizer.ngram_range[0] <= 3  # a padded word is never shorter than the range
    )
    if plain_char_wb:
        return _CharWbColumns
    plain_words = (
        vectorizer.analyzer == "word"
        and vectorizer.preprocessor is None
        and vectorizer.tokenizer is None
        and vectorizer.strip_accents is None
        and vectorizer.stop_words is None
    )
    return _WordColumns if plain_words else _Columns


def _columns_for(vectorizer: TfidfVectorizer | FittedVectorizer) -> _Columns:
    return _columns_class(vectorizer)(vectorizer)


@dataclass(frozen=True, slots=True)
class _Part:
    """One fitted TF-IDF vectorizer, unpacked for scoring a single document."""

    columns: _Columns
    idf: Any
    weights: Any
    offset: int  # of its first column among all the parts' columns
    sublinear_tf: bool


@dataclass(frozen=True, slots=True)
class FittedVectorizer:
    """What scoring reads of a fitted TfidfVectorizer, as plain data: a model's scorer state
    gives it without scikit-learn. Only the analyzers the lean columns implement themselves
    (`char_wb`, and `word` with no tokenizer, preprocessor or stop words) are ever made so."""

    analyzer: str
    ngram_range: tuple[int, int]
    lowercase: bool
    token_pattern: str
    sublinear_tf: bool
    vocabulary_: dict[str, int]
    idf_: Any
    # As a plain vectorizer has them; `_columns_for` checks them.
    preprocessor: None = None
    strip_accents: None = None
    tokenizer: None = None
    stop_words: None = None

    def build_analyzer(self) -> Callable[[str], list[str]]:
        raise NotImplementedError("a model's scorer state keeps no scikit-learn analyzer")


def _terms_in_column_order(vocabulary: Mapping[str, int]) -> list[str]:
    """A vectorizer's terms listed by their column, as its vocabulary numbers them."""
    terms = [""] * len(vocabulary)
    for term, column in vocabulary.items():
        terms[column] = term
    return terms


def _state_array(value: Any) -> Any:
    if not isinstance(value, bytes):
        raise ValueError("an array of the scorer state is not bytes")
    return np.frombuffer(value, dtype="<f8")


@dataclass(frozen=True, slots=True)
class _Fitted:
    """The fitted numbers a `_LeanScorer` computes with, from a pipeline or a scorer state."""

    vectorizers: Sequence[TfidfVectorizer | FittedVectorizer]
    coef: Any
    intercept: float
    a: float
    b: float

    @classmethod
    def of_pipeline(cls, pipeline: Pipeline) -> _Fitted:
        """From a fitted pipeline of `build_pipeline`'s shape; ValueError for another."""
        try:
            calibrated = pipeline.named_steps["classifier"].calibrated_classifiers_[0]
            calibrator = calibrated.calibrators[0]
            return cls(
                vectorizers=[v for _, v in pipeline.named_steps["features"].transformer_list],
                coef=np.asarray(calibrated.estimator.coef_, dtype=np.float64).ravel(),
                intercept=float(np.asarray(calibrated.estimator.intercept_).ravel()[0]),
                a=float(calibrator.a_),
                b=float(calibrator.b_),
            )
        except (AttributeError, KeyError, IndexError) as exc:
            raise ValueError(f"not a fitted pipeline of build_pipeline's shape: {exc!r}") from exc

    @classmethod
    def of_state(cls, state: Mapping[str, Any]) -> _Fitted:
        """From `SpamClassifier.scorer_state`'s plain data; ValueError if it is not that."""
        try:
            if state["format"] != SCORER_STATE_FORMAT:
                raise ValueError(f"scorer state format {state['format']!r} is not supported")
            vectorizers = []
            for part in state["parts"]:
                terms = part["terms"]
                if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                    raise ValueError("a part's terms are not a list of strings")
                low, high = part["ngram_range"]
                vectorizer = FittedVectorizer(
                    analyzer=str(part["analyzer"]),
                    ngram_range=(int(low), int(high)),
                    lowercase=bool(part["lowercase"]),
                    token_pattern=str(part["token_pattern"]),
                    sublinear_tf=bool(part["sublinear_tf"]),
                    vocabulary_=dict(zip(terms, range(len(terms)), strict=True)),
                    idf_=_state_array(part["idf"]),
                )
                if len(vectorizer.vocabulary_) != len(terms) or len(vectorizer.idf_) != len(terms):
                    raise ValueError("a part's terms and weights do not match")
                if _columns_class(vectorizer) is _Columns:
                    raise ValueError(f"analyzer {vectorizer.analyzer!r} needs scikit-learn")
                vectorizers.append(vectorizer)
            fitted = cls(
                vectorizers=vectorizers,
                coef=_state_array(state["coef"]),
                intercept=float(state["intercept"]),
                a=float(state["a"]),
                b=float(state["b"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a scorer state: {exc!r}") from exc
        if len(fitted.coef) != sum(len(v.vocabulary_) for v in vectorizers):
            raise ValueError("the scorer state's weights do not match its terms")
        return fitted


class _LeanScorer:
    """The fitted pipeline's arithmetic without scikit-learn's per-call validation.

    `predict_proba` on one document spends most of its ~6 ms checking its input; the same
    TF-IDF, dot product and sigmoid done directly take a fraction of a millisecond. A test
    holds the two paths to the same probabilities.
    """

    def __init__(self, fitted: _Fitted) -> None:
        coef = fitted.coef
        self.intercept = fitted.intercept
        self.a = fitted.a
        self.b = fitted.b
        self.parts: list[_Part] = []
        # Every part's terms in one array, indexed by column across the parts.
        self.names = np.empty(len(coef), dtype=object)
        offset = 0
        for vectorizer in fitted.vectorizers:
            vocabulary: dict[str, int] = vectorizer.vocabulary_
            size = len(vocabulary)
            self.names[offset : offset + size] = _terms_in_column_order(vocabulary)
            self.parts.append(
                _Part(
                    columns=_columns_for(vectorizer),
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    weights=coef[offset : offset + size],
                    offset=offset,
                    sublinear_tf=bool(vectorizer.sublinear_tf),
                )
            )
            offset += size

    def score_batch(self, docs: Sequence[str], *, evidence_from: float = 0.0) -> list[Score]:
        """`score` of each document, with the arithmetic done once for the whole batch; the
        evidence of those whose probability is at least `evidence_from` (math.inf: of none).

        Per document, only the tokenising and the vocabulary lookups remain in Python; the
        term counts, TF-IDF weighting, norms, dot products and evidence ranking are array
        operations over every document at once.
        """
        n = len(docs)
        if n == 0:
            return []
        decision = np.full(n, self.intercept)
        contributions: list[tuple[Any, Any, Any]] = []
        cut: dict[bool, _Words] = {}  # the batch's words, cut once for the parts that read them
        for part in self.parts:
            lowercase = part.columns.words_lowercase
            if lowercase is not None and lowercase not in cut:
                cut[lowercase] = _Words.of(docs, lowercase)
            words = None if lowercase is None else cut[lowercase]
            rows, idx, tf = part.columns.counted(docs, words)
            counts = tf.astype(np.float64)
            if part.sublinear_tf:
                counts = 1.0 + np.log(counts)
            values = counts * part.idf[idx]
            norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n))
            values /= norms[rows]
            contribution = values * part.weights[idx]
            decision += np.bincount(rows, weights=contribution, minlength=n)
            contributions.append((rows, contribution, idx + part.offset))
        probabilities = 1.0 / (1.0 + np.exp(np.minimum(700.0, self.a * decision + self.b)))
        evidence = self._evidence_from(probabilities, contributions, evidence_from)
        return [
            Score(spam_probability=float(p), evidence=e)
            for p, e in zip(probabilities.tolist(), evidence, strict=True)
        ]

    def _evidence_from(
        self, probabilities: Any, contributions: list[tuple[Any, Any, Any]], evidence_from: float
    ) -> list[tuple[Evidence, ...]]:
        """`_evidence` of the documents whose probability is at least `evidence_from`; none
        (an empty tuple) for the others."""
        n = len(probabilities)
        if evidence_from <= 0.0:  # a probability is never below 0: every document's
            return self._evidence(n, contributions)
        wanted = probabilities >= evidence_from
        out: list[tuple[Evidence, ...]] = [()] * n
        if not wanted.any():
            return out
        # The wanted documents' entries alone, their rows numbered among them: each document's
        # evidence is its own entries' ranking, whichever documents are ranked with it.
        renumbered = np.cumsum(wanted) - 1
        subset = []
        for rows, values, columns in contributions:
            keep = wanted[rows]
            subset.append((renumbered[rows[keep]], values[keep], columns[keep]))
        picked = np.flatnonzero(wanted).tolist()
        for doc, found in zip(picked, self._evidence(len(picked), subset), strict=True):
            out[doc] = found
        return out

    def _evidence(
        self, n: int, contributions: list[tuple[Any, Any, Any]]
    ) -> list[tuple[Evidence, ...]]:
        """Each document's terms with the largest contributions, largest first.

        `contributions` holds each part's (rows, contributions, columns), rows ascending.
        """
        if n < _GROUPED_FROM:
            return self._evidence_each(n, contributions)
        # Ranking every term of a batch would sort tens of thousands of them to keep eight a
        # document. Each part's terms of a document are first split into disjoint groups: the
        # eighth largest of the groups' maxima is the magnitude of eight distinct terms, so no
        # term below it can be among the eight largest, and only the few at or above it are
        # ranked.
        magnitudes = [np.abs(values) for _, values, _ in contributions]
        maxima = np.concatenate(
            [
                _group_maxima(n, rows, magnitude)
                for (rows, _, _), magnitude in zip(contributions, magnitudes, strict=True)
            ],
            axis=1,
        )
        kth = maxima.shape[1] - _EVIDENCE_TERMS
        threshold = np.partition(maxima, kth, axis=1)[:, kth]
        kept: list[tuple[Any, Any, Any, Any]] = []
        for (rows, values, columns), magnitude in zip(contributions, magnitudes, strict=True):
            # A zero contribution is no evidence, whatever its rank.
            keep = np.flatnonzero((magnitude >= threshold[rows]) & (values != 0))
            kept.append((rows[keep], magnitude[keep], columns[keep], values[keep]))
        rows, magnitude, columns, values = (
            np.concatenate(arrays) for arrays in zip(*kept, strict=True)
        )
        # Equal contributions are common (terms that always occur together get equal weights):
        # they are ranked by column (words, then characters), so that a comment's evidence
        # does not depend on the order its terms were counted in, nor on which comments it
        # was scored with.
        ranked = np.lexsort((columns, -magnitude, rows))
        ranked_rows = rows[ranked]
        place = np.arange(len(ranked)) - np.searchsorted(ranked_rows, ranked_rows)
        picked = ranked[place < _EVIDENCE_TERMS]
        found = list(map(Evidence, self.names[columns[picked]].tolist(), values[picked].tolist()))
        out: list[tuple[Evidence, ...]] = []
        at = 0
        for size in np.bincount(rows[picked], minlength=n).tolist():
            out.append(tuple(found[at : at + size]))
            at += size
        return out

    def _evidence_each(
        self, n: int, contributions: list[tuple[Any, Any, Any]]
    ) -> list[tuple[Evidence, ...]]:
        """`_evidence` one document at a time: fewer array operations for one or two."""
        values = np.concatenate([part[1] for part in contributions])
        columns = np.concatenate([part[2] for part in contributions])
        rows = np.concatenate([part[0] for part in contributions]) if n > 1 else None
        out: list[tuple[Evidence, ...]] = []
        for doc in range(n):
            # A zero contribution is no evidence, whatever its rank.
            mine = np.flatnonzero(values if rows is None else (rows == doc) & (values != 0))
            if len(mine) > _EVIDENCE_TERMS:
                magnitude = np.abs(values[mine])
                kth = len(mine) - _EVIDENCE_TERMS
                mine = mine[magnitude >= np.partition(magnitude, kth)[kth]]
            # The few left (ties at the eighth kept) ranked in Python, largest first and equal
            # ones by column, as `_evidence` ranks them.
            entries = zip(columns[mine].tolist(), values[mine].tolist(), strict=True)
            ranked = sorted(entries, key=_rank)[:_EVIDENCE_TERMS]
            out.append(tuple(Evidence(self.names[c], v) for c, v in ranked))
        return out


def _rank(entry: tuple[int, float]) -> tuple[float, int]:
    column, value = entry
    return -abs(value), column


def _group_maxima(n: int, rows: Any, magnitude: Any) -> Any:
    """(n, _EVIDENCE_GROUPS): the largest magnitude in each of _EVIDENCE_GROUPS disjoint groups
    of each document's entries, -1 for an empty group; `rows` ascending."""
    bounds = np.searchsorted(rows, np.arange(n + 1))
    lengths = np.diff(bounds)
    starts = bounds[:-1, None] + (lengths[:, None] * np.arange(_EVIDENCE_GROUPS + 1)) // (
        _EVIDENCE_GROUPS
    )
    # The appended 0 lets the last document's end be an index; each document's last start
    # (its end) reduces a span that is dropped.
    reduced = np.maximum.reduceat(np.append(magnitude, 0.0), starts.ravel())
    maxima = reduced.reshape(n, _EVIDENCE_GROUPS + 1)[:, :_EVIDENCE_GROUPS]
    maxima[starts[:, :-1] == starts[:, 1:]] = -1.0
    return maxima


class SpamClassifier:
    """A trained pipeline with the means to explain its scores.

    Made from the pipeline itself, or from its scorer state (`scorer_state`, which a saved
    model keeps beside it) and a way to load the pipeline: scoring then needs no scikit-learn,
    and the pipeline is loaded only when something asks for it (evaluation, saving).
    """

    def __init__(
        self,
        pipeline: Pipeline | None,
        *,
        fitted: _Fitted | None = None,
        load_pipeline: Callable[[], Pipeline] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._load_pipeline = load_pipeline
        self._fitted = fitted
        self._lean: _LeanScorer | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], load_pipeline: Callable[[], Pipeline]
    ) -> SpamClassifier:
        """A classifier that scores from `state` and loads its pipeline only when asked for;
        ValueError if `state` is not a scorer state."""
        return cls(None, fitted=_Fitted.of_state(state), load_pipeline=load_pipeline)

    @property
    def pipeline(self) -> Pipeline:
        """The scikit-learn pipeline (loaded now if it was not)."""
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    assert self._load_pipeline is not None
                    self._pipeline = self._load_pipeline()
        return self._pipeline

    def _fitted_numbers(self) -> _Fitted:
        """What the scorer computes with: from the state, or taken from the pipeline once."""
        if self._fitted is None:
            self._fitted = _Fitted.of_pipeline(self.pipeline)
        return self._fitted

    def _scorer(self) -> _LeanScorer:
        if self._lean is None:
            self._lean = _LeanScorer(self._fitted_numbers())
        return self._lean

    def scorer_state(self) -> dict[str, Any] | None:
        """What scoring needs, as plain data (str, int, float, bool, bytes, lists and dicts):
        each part's settings, terms in column order and inverse document frequencies, then
        the weights, intercept and calibration. None when a part's analyzer is scikit-learn's
        own, which only the pipeline holds, or when the pipeline is not `build_pipeline`'s."""
        try:
            fitted = self._fitted_numbers()
        except ValueError:
            return None
        if any(_columns_class(v) is _Columns for v in fitted.vectorizers):
            return None
        parts: list[dict[str, Any]] = []
        for vectorizer in fitted.vectorizers:
            low, high = vectorizer.ngram_range
            parts.append(
                {
                    "analyzer": str(vectorizer.analyzer),
                    "ngram_range": [int(low), int(high)],
                    "lowercase": bool(vectorizer.lowercase),
                    "token_pattern": str(vectorizer.token_pattern),
                    "sublinear_tf": bool(vectorizer.sublinear_tf),
                    "terms": _terms_in_column_order(vectorizer.vocabulary_),
                    "idf": np.ascontiguousarray(vectorizer.idf_, dtype="<f8").tobytes(),
                }
            )
        return {
            "format": SCORER_STATE_FORMAT,
            "parts": parts,
            "coef": np.ascontiguousarray(fitted.coef, dtype="<f8").tobytes(),
            "intercept": fitted.intercept,
            "a": fitted.a,
            "b": fitted.b,
        }

    def spam_probabilities(self, items: Sequence[TextInput]) -> Any:
        """The calibrated spam probability of each item, through the pipeline itself."""
        docs = [document(item) for item in items]
        return self.pipeline.predict_proba(docs)[:, 1]

    def score(self, item: TextInput) -> Score:
        """The spam probability of one comment and the terms that pushed it most."""
        return self._scorer().score_batch([document(item)])[0]

    def score_many(self, items: Sequence[TextInput], *, evidence_from: float = 0.0) -> list[Score]:
        """Score several comments, with the evidence of those whose spam probability is at
        least `evidence_from` (by default every one; math.inf: none). Ranking the evidence
        costs about a tenth of scoring: a caller that shows it only for some comments (a
        reason names the terms only from the unsure band up) asks only for those."""
        scorer = self._scorer()
        docs = [document(item) for item in items]
        # Batches of a few hundred keep the arrays in cache; larger ones only sort longer.
        out: list[Score] = []
        for start in range(0, len(docs), _SCORE_BATCH):
            batch = docs[start : start + _SCORE_BATCH]
            out.extend(scorer.score_batch(batch, evidence_from=evidence_from))
        return out
