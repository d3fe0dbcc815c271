"""The shipped model on comments a blog gets: calibrated, bilingual, explained."""

from __future__ import annotations

import numpy as np
import pytest

from moderation import artifacts
from moderation.classifier import SpamClassifier
from moderation.features import TextInput, document
from tests.conftest import MODELS_DIR


@pytest.fixture(scope="module")
def classifier() -> SpamClassifier:
    return artifacts.load_current(MODELS_DIR).classifier


SPAM = [
    TextInput("Buy cheap viagra and cialis online without prescription, fast delivery!",
              "Pharmacy Deals", "https://pharma-deals.example"),
    TextInput("Meilleur casino en ligne : bonus de 500 € et 200 tours gratuits, inscris-toi "
              "vite sur casino-bonus.example"),
    TextInput("I made $45,000 in two weeks with Mr Jensen's crypto trading platform, contact "
              "him on WhatsApp +1 555 0100 for guaranteed profits"),
    TextInput("Prêt entre particuliers sérieux de 5 000 € à 500 000 €, taux 2 %, réponse sous "
              "24h, contactez-moi par email"),
]  # fmt: skip
HAM = [
    TextInput("I was at the council meeting: the vote was on Tuesday, not Monday. "
              "Otherwise a fair summary.", "Camille"),
    TextInput("Merci pour cet article sur la grève des personnels du CROUS, on manque "
              "vraiment d'informations à la fac.", "Inès"),
    TextInput("Does anyone know whether the library will stay open late during finals week?",
              "Tom"),
    TextInput("Je ne suis pas d'accord avec l'auteur : la hausse des loyers touche surtout "
              "les étudiants boursiers, pas l'inverse.", "Julien"),
]  # fmt: skip


def test_spam_scores_high_and_ham_low(classifier: SpamClassifier) -> None:
    spam = classifier.spam_probabilities(SPAM)
    ham = classifier.spam_probabilities(HAM)
    assert min(spam) > 0.7, spam
    assert max(ham) < 0.3, ham


def test_evidence_names_terms_of_the_comment(classifier: SpamClassifier) -> None:
    score = classifier.score(SPAM[0])
    pushing = [e.term for e in score.evidence if e.weight > 0]
    assert pushing
    doc = document(SPAM[0]).lower()
    assert all(term.strip().lower() in doc for term in pushing)


def test_fast_path_agrees_with_the_pipeline(classifier: SpamClassifier) -> None:
    items = [*SPAM, *HAM, TextInput(""), TextInput("ok"), TextInput("Ünïcödé ✓ " * 300)]
    fast = [s.spam_probability for s in classifier.score_many(items)]
    reference = classifier.spam_probabilities(items)
    assert fast == pytest.approx(list(reference), abs=1e-5)
    alone = [classifier.score(item).spam_probability for item in items]
    assert alone == pytest.approx(fast, abs=1e-12)


def test_probabilities_are_probabilities(classifier: SpamClassifier) -> None:
    scores = classifier.spam_probabilities([TextInput(""), TextInput("x" * 20_000)])
    assert all(0.0 <= p <= 1.0 for p in scores)


def test_word_cached_char_ngrams_match_scikit_learn(classifier: SpamClassifier) -> None:
    from moderation.classifier import _CharWbColumns
    from moderation.dataset import read_all, seed_files
    from tests.conftest import ROOT

    vectorizer = classifier.pipeline.named_steps["features"].transformer_list[1][1]
    fast = _CharWbColumns(vectorizer, max_words=50)  # small, so that the cache also empties
    analyzer = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    docs = [document(ex.item) for ex in read_all(seed_files(ROOT / "training" / "data"))]
    docs += ["", " \t\n ", "a", "ab", "I İ ß ﬁ Ünïcödé\u00a0x\u2003y", "x\x00y  z"]
    docs += ["pills" * 20 + " cheap", "x" * 20_000]  # words too long to be kept
    for start in range(0, len(docs), 97):  # batches, as scoring sends them
        batch = docs[start : start + 97]
        rows, idx = fast.batch(batch)
        for number, doc in enumerate(batch):
            expected = sorted(vocabulary[g] for g in analyzer(doc) if g in vocabulary)
            assert sorted(idx[rows == number].tolist()) == expected, doc
    assert all(len(word) <= 64 for word in fast._words)


def test_char_ngram_counts_match_scikit_learn_alone_and_in_batches(
    classifier: SpamClassifier,
) -> None:
    from collections import Counter

    from moderation.classifier import _CharWbColumns
    from moderation.dataset import read_all, seed_files
    from tests.conftest import ROOT

    vectorizer = classifier.pipeline.named_steps["features"].transformer_list[1][1]
    fast = _CharWbColumns(vectorizer, max_words=300)  # small, so that the cache also empties
    analyzer = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    docs = [document(ex.item) for ex in read_all(seed_files(ROOT / "training" / "data"))]
    docs += ["", " \t\n ", "a", "I İ ß ﬁ Ünïcödé\u00a0x\u2003y", "x\x00y  z", "ok ok ok"]
    # One document at a time, a few, and batches large enough for the sparse product.
    for size in (1, 5, 16, 128):
        for start in range(0, min(len(docs), 40 * size), size):
            batch = docs[start : start + size]
            rows, columns, counts = fast.counted(batch)
            assert np.all(np.diff(rows) >= 0)
            for number, doc in enumerate(batch):
                expected = Counter(vocabulary[g] for g in analyzer(doc) if g in vocabulary)
                mine = rows == number
                found = dict(zip(columns[mine].tolist(), counts[mine].tolist(), strict=True))
                assert found == expected, doc


def test_scores_are_the_same_whether_counts_sort_32_or_64_bit_keys(
    classifier: SpamClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counting sorts each (document, column) pair as one integer, in 32 bits when the batch's
    # pairs fit; a vocabulary too large for them must count the same in 64.
    from moderation import classifier as module
    from moderation.classifier import _LeanScorer
    from moderation.dataset import read_all, seed_files
    from moderation.domain import Score
    from tests.conftest import ROOT

    docs = [document(ex.item) for ex in read_all(seed_files(ROOT / "training" / "data"))][:300]
    docs += ["", "ok ok ok", "I İ ß ﬁ Ünïcödé\u00a0x\u2003y"]

    def scores() -> list[Score]:
        scorer = _LeanScorer(classifier._fitted_numbers())  # its own, empty word caches
        out: list[Score] = []
        for size in (1, 5, 16, 128):
            for start in range(0, len(docs), size):
                out += scorer.score_batch(docs[start : start + size])
        return out

    narrow = scores()
    monkeypatch.setattr(module, "_INT32_KEYS", 0)
    assert scores() == narrow


@pytest.mark.parametrize("size", [2, 9])  # below and above _GROUPED_FROM, once subset
def test_evidence_is_ranked_only_from_the_probability_asked_for(
    classifier: SpamClassifier, size: int
) -> None:
    items = [*SPAM, *HAM, TextInput(""), TextInput("buy buy buy cheap cheap pills")][:size]
    full = classifier.score_many(items)
    cut = sorted(s.spam_probability for s in full)[len(full) // 2]
    partial = classifier.score_many(items, evidence_from=cut)
    assert [s.spam_probability for s in partial] == [s.spam_probability for s in full]
    for whole, some in zip(full, partial, strict=True):
        assert some.evidence == (whole.evidence if whole.spam_probability >= cut else ())
    assert any(s.evidence for s in partial)
    assert any(not s.evidence for s in partial)
    none = classifier.score_many(items, evidence_from=float("inf"))
    assert [s.spam_probability for s in none] == [s.spam_probability for s in full]
    assert all(s.evidence == () for s in none)


def test_evidence_is_the_same_alone_and_in_a_batch(classifier: SpamClassifier) -> None:
    items = [*SPAM, *HAM, TextInput(""), TextInput("buy buy buy cheap cheap pills")]
    items = items * 3  # enough for the batch to be counted by the sparse product
    together = classifier.score_many(items)
    alone = [classifier.score(item) for item in items]
    for batched, single in zip(together, alone, strict=True):
        assert batched.spam_probability == pytest.approx(single.spam_probability, abs=1e-12)
        assert [e.term for e in batched.evidence] == [e.term for e in single.evidence]
        assert [e.weight for e in batched.evidence] == pytest.approx(
            [e.weight for e in single.evidence], abs=1e-12
        )
        assert 0 < len(batched.evidence) <= 8


def test_evidence_is_the_largest_contributions_by_the_pipelines_own_features(
    classifier: SpamClassifier,
) -> None:
    from moderation.dataset import read_all, seed_files
    from tests.conftest import ROOT

    features = classifier.pipeline.named_steps["features"]
    fitted = classifier.pipeline.named_steps["classifier"].calibrated_classifiers_[0]
    coef = np.asarray(fitted.estimator.coef_).ravel()
    names = features.get_feature_names_out()
    items = [ex.item for ex in read_all(seed_files(ROOT / "training" / "data"))][:300]
    # Repeated terms and ties: a word and the n-grams it always comes with weigh the same.
    items += [TextInput(""), TextInput("ok ok ok ok"), TextInput("x"), TextInput("€ € $ !")]
    items += [TextInput("pills " * 40 + "cheap"), TextInput("Ünïcödé\u00a0x\u2003y")]
    expected = []
    for item in items:
        row = features.transform([document(item)]).tocsr()
        contribution = row.data * coef[row.indices]
        # Largest magnitude first, equal ones by column; a zero contribution is no evidence.
        order = sorted(
            range(len(contribution)), key=lambda i: (-abs(contribution[i]), row.indices[i])
        )
        top = [i for i in order[:8] if contribution[i] != 0]
        expected.append(([names[row.indices[i]].split("__", 1)[1] for i in top], contribution[top]))
    for size in (1, 3, 16, 128):  # alone, and in batches of every kind the scorer takes
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            for score, (terms, weights) in zip(
                classifier.score_many(batch), expected[start : start + size], strict=True
            ):
                assert [e.term for e in score.evidence] == terms
                assert [e.weight for e in score.evidence] == pytest.approx(weights, rel=1e-5)


def test_word_ngrams_match_scikit_learn(classifier: SpamClassifier) -> None:
    from moderation.classifier import _WordColumns
    from moderation.dataset import read_all, seed_files
    from tests.conftest import ROOT

    vectorizer = classifier.pipeline.named_steps["features"].transformer_list[0][1]
    fast = _WordColumns(vectorizer)
    analyzer = vectorizer.build_analyzer()
    docs = [document(ex.item) for ex in read_all(seed_files(ROOT / "training" / "data"))]
    docs += ["", "one", "two words", "I İ ß ﬁ aujourd'hui l'été $5 €10 !?", "a-b-c  d\u00a0e"]
    for doc in docs:
        assert fast.terms(doc) == analyzer(doc), doc


def test_word_columns_by_number_match_the_terms_looked_up(classifier: SpamClassifier) -> None:
    from collections import Counter

    from moderation.classifier import _WordColumns
    from moderation.dataset import read_all, seed_files
    from tests.conftest import ROOT

    vectorizer = classifier.pipeline.named_steps["features"].transformer_list[0][1]
    fast = _WordColumns(vectorizer, max_words=50)  # small, so that the word cache also empties
    assert fast.by_number
    vocabulary = vectorizer.vocabulary_
    docs = [document(ex.item) for ex in read_all(seed_files(ROOT / "training" / "data"))]
    docs += ["", "one", "zzunknown cheap zzunknown pills", "I İ ß ﬁ aujourd'hui l'été $5 €10 !?"]
    docs += ["cheap\u2003pills\u00a0now\tfree\nbonus\x1cx\x00y", "free-" * 40 + "bonus pills"]
    for start in range(0, len(docs), 64):
        batch = docs[start : start + 64]
        rows, columns = fast.batch(batch)
        for number, doc in enumerate(batch):
            expected = Counter(vocabulary[t] for t in fast.terms(doc) if t in vocabulary)
            assert Counter(columns[rows == number].tolist()) == expected, doc
    assert all(len(word) <= 64 for word in fast._words)


def test_a_token_pattern_that_spans_whitespace_is_counted_by_the_analyzer() -> None:
    from collections import Counter

    from sklearn.feature_extraction.text import TfidfVectorizer

    from moderation.classifier import _WordColumns

    docs = ["cheap pills now", "free bonus cheap pills", "cheap  pills\tnow free"] * 2
    vectorizer = TfidfVectorizer(token_pattern=r"(?u)\w+\s+\w+", ngram_range=(1, 2)).fit(docs)
    fast = _WordColumns(vectorizer)
    assert not fast.by_number
    rows, columns = fast.batch(docs)
    for number, doc in enumerate(docs):
        expected = Counter(vectorizer.vocabulary_[t] for t in vectorizer.build_analyzer()(doc))
        assert Counter(columns[rows == number].tolist()) == expected, doc
