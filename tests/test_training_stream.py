"""Streaming training: the same kind of model as the exact path, from one pass and SGD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

from moderation import artifacts, training, training_stream
from moderation.dataset import Example, content_key, data_hash, read_all, seed_files
from moderation.domain import Label
from moderation.features import TextInput, document
from moderation.training_stream import Streamed, train_streaming
from tests.conftest import ROOT, SHARED_DATA

SMS = SHARED_DATA / "sms-spam-collection" / "SMSSpamCollection"


@pytest.fixture(scope="module")
def seed() -> list[Example]:
    return read_all(seed_files(ROOT / "training" / "data"))


@pytest.fixture(scope="module")
def streamed(seed: list[Example]) -> Streamed:
    return train_streaming(seed, processes=False)


def test_the_model_scores_spam_high_and_ham_low_with_evidence(streamed: Streamed) -> None:
    spam = TextInput("Buy cheap viagra online without prescription, fast delivery!",
                     "Pharmacy Deals", "https://pharma-deals.example")  # fmt: skip
    ham = TextInput("Small correction: the council vote was on Tuesday, not Monday.", "Camille")
    scores = streamed.classifier.score_many([spam, ham])
    assert scores[0].spam_probability > 0.8
    assert scores[1].spam_probability < 0.2
    pushing = [e.term for e in scores[0].evidence if e.weight > 0]
    assert pushing
    assert all(t.strip() in document(spam).lower() for t in pushing)


def test_the_fast_scoring_path_agrees_with_the_pipeline(
    streamed: Streamed, seed: list[Example]
) -> None:
    items = [ex.item for ex in seed[::25]] + [TextInput(""), TextInput("Ünïcödé ✓ " * 300)]
    fast = [s.spam_probability for s in streamed.classifier.score_many(items)]
    assert fast == pytest.approx(list(streamed.classifier.spam_probabilities(items)), abs=1e-5)


def test_validation_is_on_examples_it_did_not_train_on(
    streamed: Streamed, seed: list[Example]
) -> None:
    report = streamed.report
    assert report["method"] == "streaming"
    assert report["held_out"] == len(streamed.validation) > 50
    n = report["training_examples"] + report["calibration_examples"] + report["held_out"]
    assert n == len(seed) == streamed.n_spam + streamed.n_ham
    trained_on = {key.decode() for key in streamed.training_keys}
    assert not trained_on & {content_key(ex.item.content) for ex in streamed.validation}
    assert report["roc_auc"] > 0.95
    bands = report["suggested_thresholds"]
    assert 0.0 < bands["ham_threshold"] <= bands["spam_threshold"] < 1.0
    assert streamed.data_sha256 == data_hash(seed)


def test_copies_of_a_text_stay_on_one_side(seed: list[Example]) -> None:
    doubled = train_streaming([*seed, *seed[:500]], processes=False)
    trained_on = {key.decode() for key in doubled.training_keys}
    held = {content_key(ex.item.content) for ex in doubled.validation}
    assert not trained_on & held


def test_the_counting_processes_give_the_same_model(
    streamed: Streamed, seed: list[Example]
) -> None:
    if not training_stream.can_use_processes():
        pytest.skip("no fork on this platform")
    forked = train_streaming(seed, processes=True)
    np.testing.assert_array_equal(
        forked.validation_probabilities, streamed.validation_probabilities
    )


def test_the_model_saves_and_loads_as_a_verified_version(
    streamed: Streamed, tmp_path: Path
) -> None:
    out = tmp_path / "v-streamed"
    training.save_trained(
        streamed.classifier,
        out,
        report=streamed.report,
        data_sha256=streamed.data_sha256,
        n_spam=streamed.n_spam,
        n_ham=streamed.n_ham,
        training_keys=(key.decode() for key in streamed.training_keys),
        seconds=1.0,
    )
    loaded = artifacts.load(out)
    item = streamed.validation[0].item
    assert loaded.classifier.score(item).spam_probability == pytest.approx(
        streamed.classifier.score(item).spam_probability, abs=1e-12
    )
    assert training.read_training_keys(out) == frozenset(k.decode() for k in streamed.training_keys)


def test_one_label_only_is_a_clear_error(seed: list[Example]) -> None:
    spam_only = [ex for ex in seed if ex.label is Label.SPAM]
    with pytest.raises(ValueError, match="needs at least two examples of both labels"):
        train_streaming(spam_only, processes=False)


@pytest.mark.skipif(not SMS.exists(), reason=f"the SMS Spam Collection is not at {SMS}")
def test_quality_bar_holds_when_streaming() -> None:
    """5-fold cross-validation of the streaming trainer on the SMS Spam Collection: the bar
    of the exact path (accuracy >= 99.0%, spam F1 >= 0.965) holds, though it fits on 90%."""
    examples = read_all([SMS])
    y = np.array([ex.label is Label.SPAM for ex in examples], dtype=int)
    oof = np.zeros(len(examples))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=42).split(examples, y):
        model = train_streaming([examples[i] for i in train], processes=False)
        scores = model.classifier.score_many([examples[i].item for i in test])
        oof[test] = [s.spam_probability for s in scores]
    m = training.metrics(y, oof)
    print(f"\nSMS Spam Collection, streaming, 5-fold CV: accuracy {m['accuracy']:.4f}, "
          f"spam F1 {m['f1']:.4f}, ROC-AUC {m['roc_auc']:.4f}")  # fmt: skip
    assert m["accuracy"] >= 0.990
    assert m["f1"] >= 0.965


def test_merge_stream_gives_what_merge_gives(seed: list[Example]) -> None:
    decisions = [
        Example(seed[0].item, Label.HAM if seed[0].label is Label.SPAM else Label.SPAM),
        Example(seed[1].item, seed[1].label),
        Example(TextInput("A new comment a moderator marked"), Label.SPAM),
        Example(TextInput("A new comment a moderator marked"), Label.HAM),  # the later wins
    ]
    corpus = [*seed[:300], *seed[:10]]  # repeats in the seed are kept once
    merged = training.merge(corpus, decisions)
    counts = training.MergeCounts()
    streamed = list(training.merge_stream(iter(corpus), decisions, counts))
    key = lambda ex: (content_key(ex.item.content), ex.label)  # noqa: E731
    assert sorted(map(key, streamed)) == sorted(map(key, merged.examples))
    assert counts.summary() == merged.summary()
