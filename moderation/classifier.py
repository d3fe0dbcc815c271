"""The spam classifier: one scikit-learn Pipeline, calibrated, with the evidence behind a score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Linear:
    coef: Any
    names: Any


class SpamClassifier:
    """A trained pipeline with the means to explain its scores."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._linear: _Linear | None = None

    def _linear_part(self) -> _Linear:
        if self._linear is None:
            calibrated = self.pipeline.named_steps["classifier"].calibrated_classifiers_[0]
            coef = np.asarray(calibrated.estimator.coef_).ravel()
            names = self.pipeline.named_steps["features"].get_feature_names_out()
            self._linear = _Linear(coef=coef, names=names)
        return self._linear

    def spam_probabilities(self, items: Sequence[TextInput]) -> Any:
        """The calibrated spam probability of each item, as a float array."""
        docs = [document(item) for item in items]
        return self.pipeline.predict_proba(docs)[:, 1]

    def score(self, item: TextInput) -> Score:
        """The spam probability of one comment and the terms that pushed it most."""
        return self.score_many([item])[0]

    def score_many(self, items: Sequence[TextInput]) -> list[Score]:
        """Score a batch in one pass through the pipeline, evidence included."""
        if not items:
            return []
        docs = [document(item) for item in items]
        features = self.pipeline.named_steps["features"].transform(docs)
        probabilities = self.pipeline.named_steps["classifier"].predict_proba(features)[:, 1]
        linear = self._linear_part()
        scores = []
        for row, p in enumerate(probabilities):
            start, end = features.indptr[row], features.indptr[row + 1]
            idx = features.indices[start:end]
            contributions = features.data[start:end] * linear.coef[idx]
            order = np.argsort(-np.abs(contributions))[:_EVIDENCE_TERMS]
            evidence = tuple(
                Evidence(term=_readable(str(linear.names[idx[i]])), weight=float(contributions[i]))
                for i in order
                if contributions[i] != 0
            )
            scores.append(Score(spam_probability=float(p), evidence=evidence))
        return scores


def _readable(name: str) -> str:
    """Feature names come as `words__cheap pills` or `chars__ pill`: keep the term itself."""
    _, _, term = name.partition("__")
    return term
