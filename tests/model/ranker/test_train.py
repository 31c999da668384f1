"""Listwise features, ranking losses (worked out by hand), training that learns, determinism,
early stopping with the best weights restored."""

from __future__ import annotations

import math
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import model.ranker.train as train_module
from model.evaluation.metrics import ranking_metrics
from model.ranker.losses import listwise_softmax, pairwise_logistic
from model.ranker.train import train_ranker
from model.text.features import to_frame_order, to_listwise
from model.text.tokenizer import Tokenizer, product_text
from tests.model.ranker_toy import toy_config, toy_frame

LN3 = math.log(3.0)


def loss(fn, scores: list[list[float]], gains: list[list[float]], mask: list[list[bool]]) -> float:  # type: ignore[no-untyped-def]
    return float(fn(tf.constant(scores), tf.constant(gains), tf.constant(mask)))


def test_listwise_softmax_by_hand() -> None:
    # Targets (2^g - 1) = [1, 0] -> p = [1, 0]; softmax([0, ln 3]) = [1/4, 3/4]; loss = -ln(1/4) = ln 4.
    assert loss(listwise_softmax, [[0.0, LN3]], [[1.0, 0.0]], [[True, True]]) == pytest.approx(math.log(4))
    # A padded candidate changes nothing, whatever its score and gain.
    padded = loss(listwise_softmax, [[0.0, LN3, 50.0]], [[1.0, 0.0, 3.0]], [[True, True, False]])
    assert padded == pytest.approx(math.log(4))
    # A query with no relevant candidate has no target and is left out of the mean.
    both = loss(listwise_softmax, [[0.0, LN3], [5.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]], [[True] * 2] * 2)
    assert both == pytest.approx(math.log(4))


def test_pairwise_logistic_by_hand() -> None:
    # One ordered pair (gain 1 > 0): log(1 + exp(-(0 - ln 3))) = ln 4.
    assert loss(pairwise_logistic, [[0.0, LN3]], [[1.0, 0.0]], [[True, True]]) == pytest.approx(math.log(4))
    # Three pairs, scores all equal: each costs ln 2; equal gains make no pair.
    flat = loss(pairwise_logistic, [[1.0, 1.0, 1.0, 1.0]], [[2.0, 1.0, 0.0, 0.0]], [[True] * 3 + [False]])
    assert flat == pytest.approx(math.log(2))


def test_listwise_arrays_and_frame_order() -> None:
    cfg = toy_config()
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    frame = pd.DataFrame(
        {
            "query_id": ["b", "a", "b", "a", "a"],
            "query": ["blue lamp", "red shoe", "blue lamp", "red shoe", "red shoe"],
            "product_id": ["p1", "p2", "p3", "p4", "p5"],
            "title": ["blue lamp", "red shoe", "lamp", "shoe", "hat"],
            "description": ["", "", "", "", ""],
            "gain": [3.0, 3.0, 1.0, 1.0, 0.0],
        }
    )
    lw = to_listwise(frame, tokenizer)
    assert lw.query_ids == ("b", "a")  # first appearance, not sorted
    assert lw.tokens.shape == (2, 3, tokenizer.seq_len, tokenizer.subtokens)
    assert lw.mask.tolist() == [[True, True, False], [True, True, True]]
    assert lw.rows.tolist() == [[0, 2, -1], [1, 3, 4]]
    assert lw.gains.tolist() == [[3.0, 1.0, 0.0], [3.0, 1.0, 0.0]]
    assert not lw.tokens[0, 2].any()  # the padded candidate is all padding
    scores = np.array([[10.0, 20.0, 99.0], [30.0, 40.0, 50.0]], dtype=np.float32)
    assert to_frame_order(lw, scores).tolist() == [10.0, 30.0, 20.0, 40.0, 50.0]
    with pytest.raises(ValueError, match="missing column"):
        to_listwise(frame.drop(columns="gain"), tokenizer)


def test_training_tokens_equal_what_a_reloaded_tokenizer_serves() -> None:
    """Parity: serving reloads tokenizer.json and sees title + description per candidate."""
    cfg = toy_config()
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    frame = toy_frame(3, 4, seed=5).assign(description=lambda f: "Great " + f["title"] + " for every day use")
    lw = to_listwise(frame, tokenizer)
    served = Tokenizer.from_json(tokenizer.to_json())
    for q, rows in enumerate(lw.rows):
        part = frame.iloc[rows[rows >= 0]]
        texts = [product_text(t, d) for t, d in zip(part["title"], part["description"], strict=True)]
        np.testing.assert_array_equal(served.encode(part["query"].iloc[0], texts), lw.tokens[q, : len(part)])


def test_training_learns_the_toy_task() -> None:
    cfg = toy_config(epochs=12, early_stopping_patience=12, learning_rate=5e-3)
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    train, valid = toy_frame(64, 9, seed=1), toy_frame(16, 9, seed=2)
    result = train_ranker(cfg, tokenizer, train, valid, progress=False)
    losses = [r.train_loss for r in result.history]
    assert losses[-1] < losses[0] - 0.2
    # Random order on this set scores ~0.69 NDCG@10; word matching ranks (almost) perfectly.
    rng = np.random.default_rng(0)
    random_ndcg = ranking_metrics(valid, rng.random(len(valid)))["ndcg@10"]
    assert result.best_valid_ndcg > 0.9 > random_ndcg + 0.1
    assert (
        result.examples_per_second > 0
        and result.best_epoch == max(result.history, key=lambda r: r.valid_ndcg).epoch
    )


def test_same_seed_same_weights() -> None:
    cfg = toy_config(epochs=2, loss="pairwise_logistic")
    cfg = cfg.model_copy(update={"ranker": cfg.ranker.model_copy(update={"dropout": 0.2})})
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    train, valid = toy_frame(16, 6, seed=1), toy_frame(4, 6, seed=2)
    first, second = (train_ranker(cfg, tokenizer, train, valid, progress=False) for _ in range(2))
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = train_ranker(
        cfg.model_copy(update={"train": cfg.train.model_copy(update={"seed": 8})}),
        tokenizer,
        train,
        valid,
        progress=False,
    )
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(first.model.get_weights(), other.model.get_weights(), strict=True)
    )


def test_early_stopping_restores_the_best_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation NDCG scripted to peak at epoch 2: with patience 2 training stops after epoch 4 and the
    model carries the weights it had at the end of epoch 2."""
    script, snapshots = iter([0.5, 0.7, 0.6, 0.4, 0.9]), []

    def scripted(model, lw, frame) -> float:  # type: ignore[no-untyped-def]
        snapshots.append(model.get_weights())
        return next(script)

    monkeypatch.setattr(train_module, "valid_ndcg", scripted)
    cfg = toy_config(epochs=5, early_stopping_patience=2)
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    result = train_ranker(cfg, tokenizer, toy_frame(16, 6, seed=1), toy_frame(4, 6, seed=2), progress=False)
    assert [r.valid_ndcg for r in result.history] == [0.5, 0.7, 0.6, 0.4]
    assert result.best_epoch == 2 and result.best_valid_ndcg == 0.7
    for kept, best in zip(result.model.get_weights(), snapshots[1], strict=True):
        np.testing.assert_array_equal(kept, best)


def test_unknown_loss_is_named() -> None:
    cfg = toy_config()
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    settings = train_module.FitSettings("hinge", 1, 4, 1e-3, 0, None, 1)
    lw = to_listwise(toy_frame(4, 3, seed=1), tokenizer)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        train_module.fit(None, lw, (lw, toy_frame(4, 3, seed=1)), settings)  # type: ignore[arg-type]
