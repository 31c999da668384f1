"""Masked-word pre-training: masking rules, the cache and resume, weights landing in the ranker."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from model.config import PretrainConfig
from model.ranker.cache import cached_pretrain
from model.ranker.pretrain import load_encoder_weights, mask_words, pretrain, sequences
from model.ranker.transformer import build_ranker
from model.text.features import catalog_texts, query_lists
from model.text.tokenizer import CLS_ID, PAD_ID, SEP_ID, Tokenizer
from tests.model.ranker_toy import toy_config, toy_frame

FAST = PretrainConfig(epochs=2, batch_sequences=32, warmup_steps=2, learning_rate=3e-3)


def _setup() -> tuple[object, Tokenizer, np.ndarray]:
    cfg = toy_config()
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    frame = toy_frame(queries=24, candidates=6, seed=1)
    return cfg, tokenizer, sequences(tokenizer, catalog_texts(frame), query_lists(frame))


def test_sequences_hold_products_alone_then_query_candidate_pairs() -> None:
    _cfg, tokenizer, tokens = _setup()
    assert tokens.shape == (24 * 6 + 24 * 6, tokenizer.seq_len, tokenizer.subtokens)
    alone, paired = tokens[: 24 * 6], tokens[24 * 6 :]
    assert (alone[:, 1 : 1 + tokenizer.max_query_words] == PAD_ID).all()  # no query words
    assert (paired[:, 1, 0] != PAD_ID).all()  # every pair has its query


def test_masking_empties_whole_word_slots_and_keeps_their_ids_as_targets() -> None:
    _, _, tokens = _setup()
    masked, flags, targets, weights = mask_words(tokens, rate=1e-9, rng=np.random.default_rng(0))
    # A rate near zero still masks exactly one word per sequence (each has words).
    assert (flags.sum(axis=1) == 1).all() and (weights == flags).all()
    rows, cols = np.nonzero(flags)
    assert (masked[rows, cols] == PAD_ID).all()
    assert (targets[rows, cols] == tokens[rows, cols, 0]).all() and (targets[flags == 0] == 0).all()
    assert not np.isin(tokens[rows, cols, 0], [PAD_ID, CLS_ID, SEP_ID]).any()  # only word slots
    untouched = flags == 0
    assert (masked[untouched] == tokens[untouched]).all()
    full = mask_words(tokens, rate=0.999999, rng=np.random.default_rng(0))[1]
    assert (full.sum(axis=1) == (tokens[:, :, 0] >= 5).sum(axis=1)).all()


@pytest.mark.slow
def test_pretraining_learns_caches_and_resumes(tmp_path: Path) -> None:
    cfg, tokenizer, tokens = _setup()
    strategy = tf.distribute.get_strategy()
    tf_keras.utils.set_random_seed(0)
    weights, summary = cached_pretrain(tokens, tokenizer, cfg.ranker, FAST, 0, strategy, tmp_path)  # type: ignore[attr-defined]
    assert summary["cached"] is False and summary["losses"][1] < summary["losses"][0]
    again, second = cached_pretrain(tokens, tokenizer, cfg.ranker, FAST, 0, strategy, tmp_path)  # type: ignore[attr-defined]
    assert second["cached"] is True and second["key"] == summary["key"]
    assert all(
        np.array_equal(a, b) for name in weights for a, b in zip(weights[name], again[name], strict=True)
    )
    # Other data -> another key -> trained again.
    _, third = cached_pretrain(tokens[:-1], tokenizer, cfg.ranker, FAST, 0, strategy, tmp_path)  # type: ignore[attr-defined]
    assert third["cached"] is False and third["key"] != summary["key"]
    # Resume: a run stopped after epoch 1 continues with epoch 2 only.
    one = FAST.model_copy(update={"epochs": 1})
    pretrain(tokens, cfg.ranker, tokenizer, one, 0, strategy, tmp_path / "ckpt")  # type: ignore[attr-defined]
    resumed = pretrain(tokens, cfg.ranker, tokenizer, FAST, 0, strategy, tmp_path / "ckpt")  # type: ignore[attr-defined]
    assert len(resumed.losses) == 1
    # The weights land in the ranker's layers of the same names.
    ranker = build_ranker(cfg.ranker, tokenizer)  # type: ignore[attr-defined]
    copied = load_encoder_weights(ranker, weights)
    assert {"token_embedding", "position_embedding", "block0_attention"} <= set(copied)
    assert "pooler" not in copied and "mask_vector" not in copied
    np.testing.assert_array_equal(
        ranker.get_layer("token_embedding").get_weights()[0], weights["token_embedding"][0]
    )


@pytest.mark.slow
def test_pretraining_twice_with_one_seed_gives_the_same_encoder() -> None:
    # Whatever ran before (here: a model built and random numbers drawn), the seed alone fixes the
    # initial weights and the masks, so a second run of the same command pre-trains the same encoder.
    cfg, tokenizer, tokens = _setup()
    strategy = tf.distribute.get_strategy()
    one = FAST.model_copy(update={"epochs": 1})
    first = pretrain(tokens, cfg.ranker, tokenizer, one, 3, strategy)  # type: ignore[attr-defined]
    build_ranker(cfg.ranker, tokenizer)  # type: ignore[attr-defined]
    tf.random.uniform((5,))
    second = pretrain(tokens, cfg.ranker, tokenizer, one, 3, strategy)  # type: ignore[attr-defined]
    assert first.losses == second.losses
    for name, arrays in first.weights.items():
        for a, b in zip(arrays, second.weights[name], strict=True):
            np.testing.assert_array_equal(a, b)
    other = pretrain(tokens, cfg.ranker, tokenizer, one, 4, strategy)  # type: ignore[attr-defined]
    assert other.losses != first.losses  # the seed is what decides


def test_weights_of_another_shape_are_refused() -> None:
    cfg, tokenizer, _ = _setup()
    ranker = build_ranker(cfg.ranker, tokenizer)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="pre-trained layer 'token_embedding' has shapes"):
        load_encoder_weights(ranker, {"token_embedding": [np.zeros((3, 3), np.float32)]})
