"""The Transformer ranker: contract, padding, per-candidate independence, save/load."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from model.config import RankerConfig
from model.ranker.transformer import build_ranker, load_ranker, save_ranker
from model.text.tokenizer import PAD_ID, Tokenizer
from tests.model.ranker_toy import toy_config


@pytest.fixture(scope="module")
def setup() -> tuple[Tokenizer, tf_keras.Model]:
    cfg = toy_config()
    tf_keras.utils.set_random_seed(3)
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    return tokenizer, build_ranker(cfg.ranker, tokenizer)


def tokens(tokenizer: Tokenizer) -> np.ndarray:
    return tokenizer.encode("red shoe", ["red shoe deluxe", "blue lamp", "red hat pro", "shoe"])


def test_scores_are_float32_with_dynamic_n(setup: tuple[Tokenizer, tf_keras.Model]) -> None:
    tokenizer, model = setup
    assert model.input_shape == (None, tokenizer.seq_len, tokenizer.subtokens)
    for n in (1, 4):
        scores = model(tokens(tokenizer)[:n], training=False)
        assert scores.shape == (n,) and scores.dtype == tf.float32


def test_a_candidate_score_does_not_depend_on_the_others(setup: tuple[Tokenizer, tf_keras.Model]) -> None:
    tokenizer, model = setup
    batch = tokens(tokenizer)
    together = model(batch, training=False).numpy()
    alone = np.array([model(batch[i : i + 1], training=False).numpy()[0] for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_padding_row_is_zero_and_stays_zero(setup: tuple[Tokenizer, tf_keras.Model]) -> None:
    tokenizer, model = setup
    embedding = model.get_layer("token_embedding").embeddings
    assert not np.any(embedding.numpy()[PAD_ID])
    clone = tf_keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    optimizer = tf_keras.optimizers.Adam(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(clone(tokens(tokenizer), training=True))
    variables = clone.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    moved = clone.get_layer("token_embedding").embeddings.numpy()
    assert not np.any(moved[PAD_ID]) and np.any(moved != embedding.numpy())


def test_segment_ids_follow_the_fixed_slots(setup: tuple[Tokenizer, tf_keras.Model]) -> None:
    tokenizer, model = setup
    ids = model.get_layer("segment_ids").ids
    query_slots = 2 + tokenizer.max_query_words  # [CLS], query words, [SEP]
    assert ids == [0] * query_slots + [1] * tokenizer.max_product_words


def test_weights_live_in_layers_tfmot_can_compress(setup: tuple[Tokenizer, tf_keras.Model]) -> None:
    _, model = setup
    kinds = {type(layer).__name__ for layer in model.layers if layer.weights}
    assert kinds == {"Embedding", "MultiHeadAttention", "Dense", "LayerNormalization"}


def test_width_not_divisible_by_heads_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"must be divisible by ranker\.heads"):
        RankerConfig.model_validate({"width": 30, "heads": 4})


def test_save_and_load_round_trip(setup: tuple[Tokenizer, tf_keras.Model], tmp_path: Path) -> None:
    tokenizer, model = setup
    path = save_ranker(model, tmp_path / "fp32")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    loaded = load_ranker(path)
    batch = tokens(tokenizer)
    np.testing.assert_allclose(loaded(batch).numpy(), model(batch, training=False).numpy(), atol=1e-6)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    np.testing.assert_allclose(
        signature(tokens=tf.constant(batch))["scores"].numpy(), model(batch).numpy(), atol=1e-5
    )
    with pytest.raises(ValueError, match="cannot load the ranker"):
        load_ranker(tmp_path / "missing")
