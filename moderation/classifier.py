"""The spam classifier: one scikit-learn Pipeline, calibrated, with the evidence behind a score."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from moderation.domain import Evidence, Score
from moderation.features import TextInput, document

RANDOM_STATE = 42
_EVIDENCE_TERMS = 8
# Words (with inner apostrophes and hyphens, as in "aujourd'hui"), and the symbols money and
# contact spam leans on.
_WORD_TOKENS = r"(?u)\b\w[\w'-]*\w\b|\b\w\b|[$€£%!?@]"


def build_pipeline(*, calibration_folds: int = 5) -> Pipeline:
    """The untrained pipeline: word and character n-grams, logistic regression, sigmoid calibration.

    Character n-grams within word boundaries carry French and English alike (and survive the
    misspellings spammers use to dodge word lists); word uni- and bigrams carry phrases.
    """
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


def _counted(terms: Any, vocabulary: dict[str, int]) -> tuple[Any, Any]:
    """The known columns among `terms` and how often each occurs."""
    # Counter counts in C, and map() asks the vocabulary in C: a Python loop over the few
    # hundred n-grams of a comment would cost more than all the arithmetic.
    counts = Counter(terms)
    idx = np.fromiter(
        map(vocabulary.get, counts.keys(), repeat(-1)), dtype=np.int64, count=len(counts)
    )
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    known = idx >= 0
    return idx[known], tf[known]


class _Columns:
    """A vectorizer's analyzer and vocabulary: document -> (known columns, term counts)."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.analyzer = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_

    def __call__(self, doc: str) -> tuple[Any, Any]:
        return _counted(self.analyzer(doc), self.vocabulary)


class _CharWbColumns(_Columns):
    """char_wb columns assembled word by word, each word's n-grams looked up once.

    char_wb n-grams never cross a word, so a document's n-grams are its words' n-grams put
    together; words recur from comment to comment, so each word's known columns are kept
    (up to `max_words`) and most of a comment costs one dictionary lookup per word instead
    of slicing and looking up every n-gram. A test holds this to scikit-learn's analyzer.
    """

    def __init__(self, vectorizer: TfidfVectorizer, *, max_words: int = 100_000) -> None:
        super().__init__(vectorizer)
        self.low, self.high = vectorizer.ngram_range
        self.lowercase = bool(vectorizer.lowercase)
        self.max_words = max_words
        self._words: dict[str, Any] = {}

    def _word_columns(self, word: str) -> Any:
        padded = f" {word} "
        size = len(padded)
        grams = []
        for n in range(self.low, self.high + 1):
            # As scikit-learn: a padded word no longer than n is one n-gram, and the last.
            if size <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
        found = [self.vocabulary[g] for g in grams if g in self.vocabulary]
        return np.array(found, dtype=np.int64) if found else _EMPTY

    def __call__(self, doc: str) -> tuple[Any, Any]:
        if self.lowercase:
            doc = doc.lower()
        words = self._words
        parts = []
        for word in doc.split():
            columns = words.get(word)
            if columns is None:
                columns = self._word_columns(word)
                if len(words) >= self.max_words:
                    words.clear()  # a flood of unseen words must not grow memory unbounded
                words[word] = columns
            parts.append(columns)
        if not parts:
            return _EMPTY, np.zeros(0)
        idx, tf = np.unique(np.concatenate(parts), return_counts=True)
        return idx, tf.astype(np.float64)


def _columns_for(vectorizer: TfidfVectorizer) -> _Columns:
    plain_char_wb = (
        vectorizer.analyzer == "char_wb"
        and vectorizer.preprocessor is None
        and vectorizer.strip_accents is None
        and vectorizer.ngram_range[0] <= 3  # a padded word is never shorter than the range
    )
    return _CharWbColumns(vectorizer) if plain_char_wb else _Columns(vectorizer)


@dataclass(frozen=True, slots=True)
class _Part:
    """One fitted TF-IDF vectorizer, unpacked for scoring a single document."""

    columns: _Columns
    idf: Any
    weights: Any
    names: Any
    sublinear_tf: bool


class _LeanScorer:
    """The fitted pipeline's arithmetic without scikit-learn's per-call validation.

    `predict_proba` on one document spends most of its ~6 ms checking its input; the same
    TF-IDF, dot product and sigmoid done directly take a fraction of a millisecond. A test
    holds the two paths to the same probabilities.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        union = pipeline.named_steps["features"]
        calibrated = pipeline.named_steps["classifier"].calibrated_classifiers_[0]
        coef = np.asarray(calibrated.estimator.coef_, dtype=np.float64).ravel()
        self.intercept = float(np.asarray(calibrated.estimator.intercept_).ravel()[0])
        calibrator = calibrated.calibrators[0]
        self.a = float(calibrator.a_)
        self.b = float(calibrator.b_)
        self.parts: list[_Part] = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            vocabulary: dict[str, int] = vectorizer.vocabulary_
            size = len(vocabulary)
            names = np.empty(size, dtype=object)
            for term, index in vocabulary.items():
                names[index] = term
            self.parts.append(
                _Part(
                    columns=_columns_for(vectorizer),
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    weights=coef[offset : offset + size],
                    names=names,
                    sublinear_tf=bool(vectorizer.sublinear_tf),
                )
            )
            offset += size

    def score(self, doc: str) -> Score:
        decision = self.intercept
        contributions: list[Any] = []
        names: list[Any] = []
        for part in self.parts:
            idx, tf = part.columns(doc)
            if not len(idx):
                continue
            if part.sublinear_tf:
                tf = 1.0 + np.log(tf)
            values = tf * part.idf[idx]
            # Not np.dot: a BLAS call on a short vector can wake BLAS threads, for nothing.
            values /= math.sqrt(float((values * values).sum()))
            contribution = values * part.weights[idx]
            decision += float(contribution.sum())
            contributions.append(contribution)
            names.append((part.names, idx))
        probability = 1.0 / (1.0 + math.exp(min(700.0, self.a * decision + self.b)))
        return Score(spam_probability=probability, evidence=_evidence(contributions, names))


def _evidence(contributions: list[Any], names: list[Any]) -> tuple[Evidence, ...]:
    """The terms with the largest contributions; names are looked up for those alone."""
    if not contributions:
        return ()
    values = np.concatenate(contributions)
    size = min(_EVIDENCE_TERMS, len(values))
    magnitude = np.abs(values)
    top = np.argpartition(-magnitude, size - 1)[:size] if len(values) > size else np.arange(size)
    top = top[np.argsort(-magnitude[top], kind="stable")]
    bounds = np.cumsum([len(c) for c in contributions]).tolist()
    out = []
    for i in top.tolist():
        if values[i] == 0:
            continue
        part = bisect.bisect_right(bounds, i)
        offset = i - (bounds[part - 1] if part else 0)
        table, idx = names[part]
        out.append(Evidence(term=str(table[idx[offset]]), weight=float(values[i])))
    return tuple(out)


class SpamClassifier:
    """A trained pipeline with the means to explain its scores."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._lean: _LeanScorer | None = None

    def _scorer(self) -> _LeanScorer:
        if self._lean is None:
            self._lean = _LeanScorer(self.pipeline)
        return self._lean

    def spam_probabilities(self, items: Sequence[TextInput]) -> Any:
        """The calibrated spam probability of each item, through the pipeline itself."""
        docs = [document(item) for item in items]
        return self.pipeline.predict_proba(docs)[:, 1]

    def score(self, item: TextInput) -> Score:
        """The spam probability of one comment and the terms that pushed it most."""
        return self._scorer().score(document(item))

    def score_many(self, items: Sequence[TextInput]) -> list[Score]:
        """Score several comments, evidence included."""
        scorer = self._scorer()
        return [scorer.score(document(item)) for item in items]
