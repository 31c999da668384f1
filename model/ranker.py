"""The Transformer cross-encoder ranker (tf_keras functional model).

tokens int32 [N, L, K] -> masked mean of the K sub-token embeddings + position + segment embeddings
-> `layers` post-norm Transformer encoder blocks -> [CLS] vector -> Dense -> score float32 [N].

Only standard Embedding / MultiHeadAttention / Dense layers carry weights (plus LayerNormalization), so
tfmot's pruning and clustering reach the embedding and attention kernels. The small custom layers below
are weightless tensor plumbing, which keeps the graph convertible to LiteRT with a dynamic N.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from model.config import RankerConfig  # noqa: E402
from model.tokenizer import PAD_ID, SEP_ID, Tokenizer  # noqa: E402

layers = tf_keras.layers
# Registered so `load_ranker` needs no custom_objects.
_register = tf_keras.saving.register_keras_serializable(package="rankship")


@_register
class SubtokenMean(layers.Layer):
    """Mean of the non-padding sub-token embeddings of each position: [N,L,K,W] -> [N,L,W]."""

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        embedded, tokens = inputs
        mask = tf.cast(tf.not_equal(tokens, PAD_ID), embedded.dtype)
        total = tf.reduce_sum(embedded * mask[..., None], axis=2)
        count = tf.maximum(tf.reduce_sum(mask, axis=2, keepdims=True), 1.0)
        return total / count


@_register
class PositionIds(layers.Layer):
    """0..L-1 for every row: [N,L,K] -> int32 [N,L]."""

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        first = tokens[:, :, 0]
        return tf.zeros_like(first) + tf.range(tf.shape(first)[1], dtype=first.dtype)[None, :]


@_register
class SegmentIds(layers.Layer):
    """0 up to (excluding) [SEP], 1 from [SEP] on: [N,L,K] -> int32 [N,L]."""

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        is_sep = tf.cast(tf.equal(tokens[:, :, 0], SEP_ID), tf.int32)
        return tf.minimum(tf.cumsum(is_sep, axis=1), 1)


@_register
class KeyMask(layers.Layer):
    """Attention mask [N,1,L]: every position may attend to every non-padding position."""

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        return tf.not_equal(tokens[:, :, 0], PAD_ID)[:, None, :]


@_register
class ClsVector(layers.Layer):
    """[N,L,W] -> [N,W], the [CLS] position."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x[:, 0, :]


@_register
class Squeeze(layers.Layer):
    """[N,1] -> [N]."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(x, axis=-1)


def _encoder_block(x: tf.Tensor, mask: tf.Tensor, cfg: RankerConfig, i: int) -> tf.Tensor:
    attention = layers.MultiHeadAttention(
        cfg.heads, cfg.width // cfg.heads, dropout=cfg.dropout, name=f"block{i}_attention"
    )(x, x, attention_mask=mask)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(
        layers.Add()([x, layers.Dropout(cfg.dropout)(attention)])
    )
    # ReLU rather than GELU: it quantizes to int8 with less error and is a cheaper LiteRT kernel.
    hidden = layers.Dense(cfg.width * cfg.ffn_mult, activation="relu", name=f"block{i}_ffn_in")(x)
    hidden = layers.Dense(cfg.width, name=f"block{i}_ffn_out")(hidden)
    return layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ffn_norm")(
        layers.Add()([x, layers.Dropout(cfg.dropout)(hidden)])
    )


def build_ranker(ranker: RankerConfig, tokenizer: Tokenizer) -> tf_keras.Model:
    """A fresh, untrained ranker for `tokenizer`'s token shape and id space. Seed via tf_keras.utils first."""
    tokens = tf_keras.Input(shape=(tokenizer.seq_len, tokenizer.subtokens), dtype=tf.int32, name="tokens")
    embed = layers.Embedding(tokenizer.buckets, ranker.width, name="token_embedding")(tokens)
    words = SubtokenMean(name="subtoken_mean")([embed, tokens])
    position = layers.Embedding(tokenizer.seq_len, ranker.width, name="position_embedding")(
        PositionIds(name="position_ids")(tokens)
    )
    segment = layers.Embedding(2, ranker.width, name="segment_embedding")(SegmentIds(name="segment_ids")(tokens))
    x = layers.Add(name="embedding_sum")([words, position, segment])
    x = layers.Dropout(ranker.dropout)(layers.LayerNormalization(epsilon=1e-6, name="embedding_norm")(x))
    mask = KeyMask(name="key_mask")(tokens)
    for i in range(ranker.layers):
        x = _encoder_block(x, mask, ranker, i)
    cls = layers.Dense(ranker.width, activation="tanh", name="pooler")(ClsVector(name="cls")(x))
    score = Squeeze(name="score")(layers.Dense(1, name="score_dense")(cls))
    return tf_keras.Model(tokens, score, name="ranker")


def serving_function(model: tf_keras.Model) -> Any:
    """A tf.function with the serving signature: tokens int32 [None, L, K] -> {"scores": float32 [None]}."""
    _, seq_len, subtokens = model.input_shape

    @tf.function(input_signature=[tf.TensorSpec([None, seq_len, subtokens], tf.int32, name="tokens")])
    def serve(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": model(tokens, training=False)}

    return serve


def save_ranker(model: tf_keras.Model, path: Path) -> Path:
    """Save as one SavedModel directory that is both a Keras model (for `load_ranker`, pruning,
    clustering) and a plain TF SavedModel whose `serving_default` signature is the fp32 reference.

    Written next to `path` and renamed into place, so a crash never leaves a half-written model.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        model.save(tmp, save_format="tf", signatures={"serving_default": serving_function(model)})
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_ranker(path: Path) -> tf_keras.Model:
    """The Keras model saved by `save_ranker`."""
    try:
        model: tf_keras.Model = tf_keras.models.load_model(Path(path), compile=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot load the ranker: {e}") from e
    return model
