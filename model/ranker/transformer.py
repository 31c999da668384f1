"""The Transformer cross-encoder ranker (tf_keras functional model).

tokens int32 [N, L, K] -> sum of the K sub-token embeddings + position + segment embeddings
-> `layers` post-norm Transformer encoder blocks -> [CLS] vector -> Dense -> score float32 [N].

Only standard Embedding / MultiHeadAttention / Dense layers carry weights (plus LayerNormalization), so
tfmot's pruning and clustering reach the embedding and attention kernels. The small custom layers below
are weightless tensor plumbing, which keeps the graph convertible to LiteRT with a dynamic N.

Inference cost was the design constraint (100 candidates per request, one CPU thread):
- the PAD row of the token embedding is held at zero, so the sub-token sum needs no mask;
- the tokenizer's fixed slots make position and segment ids constants, which the converter folds;
- the last block computes only the [CLS] position (all the score reads), about a third of the work;
- ReLU rather than GELU in the FFN: cheaper and quantizes with less error.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import shutil
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf
import tf_keras
from tf_keras import layers

from model.config import RankerConfig
from model.text.tokenizer import PAD_ID, Tokenizer

# Registered so `load_ranker` needs no custom_objects.
_register = tf_keras.saving.register_keras_serializable(package="rankship")


@_register
class ZeroPadRow(tf_keras.constraints.Constraint):
    """Keeps embedding row PAD_ID at zero after every optimizer step: padding adds nothing to a sum."""

    def __call__(self, w: tf.Tensor) -> tf.Tensor:
        keep = tf.one_hot(PAD_ID, tf.shape(w)[0], on_value=0.0, off_value=1.0, dtype=w.dtype)
        return w * keep[:, None]


@_register
class SubtokenSum(layers.Layer):
    """[N,L,K,W] -> [N,L,W]. PAD sub-tokens embed to zero (ZeroPadRow), so no mask is needed."""

    def call(self, embedded: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(embedded, axis=2)


@_register
class ConstantIds(layers.Layer):
    """The same ids [1, L] for every request (positions, segments); `tokens` only anchors the graph."""

    def __init__(self, ids: list[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.ids = [int(i) for i in ids]

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        return tf.constant([self.ids], dtype=tf.int32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ids": self.ids}


@_register
class KeyMask(layers.Layer):
    """Attention mask [N,1,L]: every position may attend to every non-padding position."""

    def call(self, tokens: tf.Tensor) -> tf.Tensor:
        return tf.not_equal(tokens[:, :, 0], PAD_ID)[:, None, :]


@_register
class ClsVector(layers.Layer):
    """[N,L,W] -> [N,W] (or [N,1,W] with keep_axis), the [CLS] position."""

    def __init__(self, keep_axis: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.keep_axis = keep_axis

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x[:, :1, :] if self.keep_axis else x[:, 0, :]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keep_axis": self.keep_axis}


@_register
class Squeeze(layers.Layer):
    """[N,1] -> [N]."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(x, axis=-1)


def encoder_block(x: tf.Tensor, mask: tf.Tensor, cfg: RankerConfig, i: int, cls_only: bool) -> tf.Tensor:
    """Post-norm Transformer block. With `cls_only`, only the [CLS] position is computed ([N,1,W]): it
    attends to all positions as usual, but nothing else of the last block is ever read."""
    query = ClsVector(keep_axis=True, name=f"block{i}_cls")(x) if cls_only else x
    attention = layers.MultiHeadAttention(
        cfg.heads, cfg.width // cfg.heads, dropout=cfg.dropout, name=f"block{i}_attention"
    )(query, x, attention_mask=mask)
    x = layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_attention_norm")(
        layers.Add()([query, layers.Dropout(cfg.dropout)(attention)])
    )
    hidden = layers.Dense(cfg.width * cfg.ffn_mult, activation="relu", name=f"block{i}_ffn_in")(x)
    hidden = layers.Dense(cfg.width, name=f"block{i}_ffn_out")(hidden)
    return layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_ffn_norm")(
        layers.Add()([x, layers.Dropout(cfg.dropout)(hidden)])
    )


def embeddings(
    tokens: tf.Tensor, ranker: RankerConfig, tokenizer: Tokenizer, extra: tf.Tensor | None = None
) -> tf.Tensor:
    """Summed sub-token + position + segment embeddings, normalised. `extra` [N,L,W] is added to the
    word vectors (pre-training's [MASK] vector); layer names are what pre-trained weights map onto."""
    token_embedding = layers.Embedding(
        tokenizer.buckets, ranker.width, embeddings_constraint=ZeroPadRow(), name="token_embedding"
    )
    words = SubtokenSum(name="subtoken_sum")(token_embedding(tokens))
    if extra is not None:
        words = layers.Add(name="masked_words")([words, extra])
    length, query_slots = tokenizer.seq_len, tokenizer.max_query_words + 2
    position = layers.Embedding(length, ranker.width, name="position_embedding")(
        ConstantIds(list(range(length)), name="position_ids")(tokens)
    )
    segment = layers.Embedding(2, ranker.width, name="segment_embedding")(
        ConstantIds([0] * query_slots + [1] * (length - query_slots), name="segment_ids")(tokens)
    )
    token_embedding.embeddings.assign(ZeroPadRow()(token_embedding.embeddings))
    x = layers.Add(name="embedding_sum")([words, position, segment])
    return layers.Dropout(ranker.dropout)(layers.LayerNormalization(epsilon=1e-6, name="embedding_norm")(x))


def build_ranker(ranker: RankerConfig, tokenizer: Tokenizer) -> tf_keras.Model:
    """A fresh, untrained ranker for `tokenizer`'s token shape and id space. Seed via tf_keras.utils first."""
    tokens = tf_keras.Input(shape=(tokenizer.seq_len, tokenizer.subtokens), dtype=tf.int32, name="tokens")
    x = embeddings(tokens, ranker, tokenizer)
    mask = KeyMask(name="key_mask")(tokens)
    for i in range(ranker.layers):
        x = encoder_block(x, mask, ranker, i, cls_only=i == ranker.layers - 1)
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
