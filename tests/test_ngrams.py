"""Counting n-grams chunk by chunk fits the vectorizers exactly as scikit-learn does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from moderation.classifier import build_pipeline
from moderation.dataset import read_all, seed_files
from moderation.features import document
from moderation.ngrams import Encoded, NgramCounts, PackedCharGrams
from tests.conftest import ROOT

ODD = ["", " \t\n ", "a", "ab", "I İ ß ﬁ Ünïcödé\u00a0x\u2003y", "x\x00y  z", "é" * 40]


@pytest.fixture(scope="module")
def docs() -> list[str]:
    seed = read_all(seed_files(ROOT / "training" / "data"))
    return [document(ex.item) for ex in seed] + ODD


def _pipeline_vectorizers() -> list[tuple[str, TfidfVectorizer]]:
    return list(build_pipeline().named_steps["features"].transformer_list)


def _count(vectorizer: TfidfVectorizer, docs: list[str], *, chunk: int) -> tuple[Any, Any, Any]:
    counts = NgramCounts(vectorizer)
    parts = []
    for start in range(0, len(docs), chunk):
        part = counts.encode(docs[start : start + chunk])
        counts.learn(part)
        parts.append(part)
    fitted, transform = counts.fit()
    return fitted, transform, Encoded.join(parts)


@pytest.mark.parametrize("name", ["words", "chars"])
def test_the_pipelines_vectorizers_fit_as_scikit_learn_fits_them(
    docs: list[str], name: str
) -> None:
    vectorizer = dict(_pipeline_vectorizers())[name]
    reference = TfidfVectorizer(**vectorizer.get_params()).fit(docs)
    fitted, transform, encoded = _count(vectorizer, docs, chunk=333)  # uneven chunks
    assert fitted.vocabulary_ == reference.vocabulary_
    assert fitted.idf_.dtype == reference.idf_.dtype
    np.testing.assert_allclose(fitted.idf_, reference.idf_, rtol=1e-6)
    expected = reference.transform(docs)
    assert abs(transform(encoded) - expected).max() < 1e-6
    # The fitted vectorizer is an ordinary one: its own transform gives the same rows.
    assert abs(fitted.transform(docs) - expected).max() < 1e-6


def test_rows_taken_in_any_order_are_those_documents_rows(docs: list[str]) -> None:
    _, transform, encoded = _count(dict(_pipeline_vectorizers())["chars"], docs, chunk=1000)
    rows = np.array([5, 3, len(docs) - 1, 0, 5, 2000])
    everything = transform(encoded).toarray()
    assert np.array_equal(transform(encoded.take(rows)).toarray(), everything[rows])
    assert transform(encoded.take(np.array([], dtype=np.int64))).shape == (0, transform.width)


def test_max_features_keeps_the_most_frequent_terms(docs: list[str]) -> None:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=500)
    reference = TfidfVectorizer(**vectorizer.get_params()).fit(docs)
    fitted, _, _ = _count(vectorizer, docs, chunk=500)
    assert len(fitted.vocabulary_) == 500
    # Terms tied at the cut may be kept in another order than scikit-learn's unstable sort
    # keeps them; above it the two agree.
    totals = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), use_idf=False, norm=None)
    tf = np.asarray(totals.fit_transform(docs).sum(axis=0)).ravel()
    term_tf = dict(zip(totals.get_feature_names_out(), tf, strict=True))
    cut = min(term_tf[t] for t in reference.vocabulary_)
    above = {t for t in reference.vocabulary_ if term_tf[t] > cut}
    assert above <= set(fitted.vocabulary_)
    assert sorted(fitted.vocabulary_, key=fitted.vocabulary_.__getitem__) == sorted(
        fitted.vocabulary_
    )


def test_documents_counted_apart_add_no_terms() -> None:
    vectorizer = dict(_pipeline_vectorizers())["words"]
    counts = NgramCounts(vectorizer)
    learnt = counts.encode(["cheap pills online", "cheap pills today", "hello there"])
    counts.learn(learnt)
    unseen = counts.encode(["entirely novel vocabulary", ""])  # numbered, never learnt from
    fitted, transform = counts.fit()
    assert set(fitted.vocabulary_) == {"cheap", "pills", "cheap pills"}
    rows = transform(unseen)
    assert rows.nnz == 0
    assert not np.isnan(rows.toarray()).any()


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(stop_words="english"),
        TfidfVectorizer(ngram_range=(1, 3)),
        TfidfVectorizer(analyzer="char"),
        TfidfVectorizer(strip_accents="unicode"),
        TfidfVectorizer(sublinear_tf=True, norm="l1"),
    ],
)
def test_settings_it_cannot_reproduce_are_refused(vectorizer: TfidfVectorizer) -> None:
    with pytest.raises(ValueError, match="cannot count"):
        NgramCounts(vectorizer)


def test_nothing_left_after_pruning_is_scikit_learns_error() -> None:
    counts = NgramCounts(TfidfVectorizer(min_df=2))
    counts.learn(counts.encode(["one two", "three four"]))
    with pytest.raises(ValueError, match="no terms remain"):
        counts.fit()


def _analyzer_columns(vocabulary: dict[str, int], word: str, low: int, high: int) -> list[int]:
    # Words come lowercased already (as scoring cuts them); the analyzer must not do it again.
    analyzer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(low, high), lowercase=False
    ).build_analyzer()
    return [vocabulary[gram] for gram in analyzer(word) if gram in vocabulary]


@pytest.mark.parametrize(("low", "high"), [(2, 5), (1, 3), (3, 6)])
def test_packed_char_grams_find_the_analyzers_columns(docs: list[str], low: int, high: int) -> None:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high), min_df=2)
    vocabulary = vectorizer.fit(docs).vocabulary_
    packed = PackedCharGrams(vocabulary, low, high)
    words = list(dict.fromkeys(" ".join(docs).lower().split()))
    # Unseen characters (astral, a lone surrogate), one letter, and a word longer than a
    # window of the largest n, beside every word of the corpus.
    words += ["😀x😀", "\ud800é", "a", "z" * 300, "x\x00y", "ǆungla", "ﬁn"]
    found = packed.columns(words)
    assert len(found) == len(words)
    for word, columns in zip(words, found, strict=True):
        assert columns.dtype == np.int64
        assert columns.tolist() == _analyzer_columns(vocabulary, word, low, high), word


@given(
    st.lists(
        st.text(alphabet=st.characters(codec=None), min_size=1, max_size=12).filter(
            lambda word: not any(char.isspace() for char in word)
        ),
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_packed_char_grams_hold_for_any_words(words: list[str]) -> None:
    vocabulary = _PACKED_VOCABULARY
    found = PackedCharGrams(vocabulary, 2, 5).columns(words)
    assert [c.tolist() for c in found] == [
        _analyzer_columns(vocabulary, word, 2, 5) for word in words
    ]


# n-grams of a few alphabets, short words included, so that random words hit some of them.
_PACKED_VOCABULARY = {
    gram: number
    for number, gram in enumerate(
        dict.fromkeys(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))
            .fit(["a ab abc abcd é éa 😀 😀a x\x00 \ud800a ǅ ß ss aé"])
            .vocabulary_
        )
    )
}


def test_an_alphabet_too_large_to_pack_is_refused() -> None:
    # 12 bits a character for 5-grams: at most 4,094 distinct characters.
    vocabulary = {chr(0x4E00 + i) + " ": i for i in range(5000)}
    with pytest.raises(ValueError, match="cannot be packed"):
        PackedCharGrams(vocabulary, 2, 5)
    assert PackedCharGrams(vocabulary, 2, 3).columns([chr(0x4E00)])[0].tolist() == [0]
