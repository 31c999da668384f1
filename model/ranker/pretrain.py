"""Masked-word pre-training of the ranker's encoder on unlabelled text: the BERT recipe, then the
cross-encoder is fine-tuned from these weights (model/ranker/train.py).

An e-commerce team has far more unlabelled text (the catalog, query logs) than graded pairs. The
pre-training model is the ranker's own embeddings and encoder blocks (same layer names, all positions
computed) plus an MLM head (one hidden layer, softmax over the id space). Sequences are laid out as the ranker
sees them: a product text alone in the product slots, and a training query with one of its logged
candidates (labels unused). A masked word slot loses all its sub-tokens and gets a learned [MASK]
vector instead; the model predicts its first sub-token id (the word hash, or its first WordPiece).

Deterministic given the seed; checkpointed each epoch (resumable); the strategy is train.distribute's.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf
import tf_keras
from tf_keras import layers

from model.config import PretrainConfig, RankerConfig
from model.ranker.transformer import embeddings, encoder_block
from model.text.tokenizer import PAD_ID, RESERVED_IDS, Tokenizer

_register = tf_keras.saving.register_keras_serializable(package="rankship")


@_register
class MaskVector(layers.Layer):
    """flags [N,L] (1.0 where masked) -> flags x a learned [MASK] vector, [N,L,W]."""

    def __init__(self, width: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.width = width

    def build(self, input_shape: Any) -> None:
        self.vector = self.add_weight(name="vector", shape=(self.width,), initializer="random_normal")

    def call(self, flags: tf.Tensor) -> tf.Tensor:
        return flags[..., None] * self.vector

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width}


@_register
class MaskedKeyMask(layers.Layer):
    """Attention mask [N,1,L]: real tokens plus the masked (emptied) word slots."""

    def call(self, inputs: list[tf.Tensor]) -> tf.Tensor:
        tokens, flags = inputs
        return tf.logical_or(tf.not_equal(tokens[:, :, 0], PAD_ID), flags > 0)[:, None, :]


def build_pretrainer(ranker: RankerConfig, tokenizer: Tokenizer) -> tuple[tf_keras.Model, tf_keras.Model]:
    """(encoder [tokens, flags] -> hidden [N,L,W], head hidden [M,W] -> logits [M, buckets])."""
    tokens = tf_keras.Input(shape=(tokenizer.seq_len, tokenizer.subtokens), dtype=tf.int32, name="tokens")
    flags = tf_keras.Input(shape=(tokenizer.seq_len,), dtype=tf.float32, name="flags")
    x = embeddings(tokens, ranker, tokenizer, extra=MaskVector(ranker.width, name="mask_vector")(flags))
    mask = MaskedKeyMask(name="key_mask")([tokens, flags])
    for i in range(ranker.layers):
        x = encoder_block(x, mask, ranker, i, cls_only=False)
    encoder = tf_keras.Model([tokens, flags], x, name="pretrain_encoder")
    hidden = tf_keras.Input(shape=(ranker.width,), name="hidden")
    h = layers.Dense(ranker.width, activation="gelu", name="mlm_transform")(hidden)
    h = layers.LayerNormalization(epsilon=1e-6, name="mlm_norm")(h)
    logits = layers.Dense(tokenizer.buckets, name="mlm_logits")(h)
    return encoder, tf_keras.Model(hidden, logits, name="mlm_head")


def sequences(
    tokenizer: Tokenizer, products: Sequence[str], pairs: Sequence[tuple[str, Sequence[str]]]
) -> Any:
    """int32 [S, L, K]: each product text alone, then each (query, its candidates) as query-product rows."""
    parts = [tokenizer.encode("", list(products))] if products else []
    parts += [tokenizer.encode(query, list(texts)) for query, texts in pairs if texts]
    if not parts:
        raise ValueError("pre-training needs at least one product text")
    return np.concatenate(parts)


def mask_words(tokens: Any, rate: float, rng: np.random.Generator) -> tuple[Any, ...]:
    """(tokens with masked word slots emptied, flags [B,L], targets [B,L] int32, weights [B,L]).

    Word slots are those whose first id is a word id (>= RESERVED_IDS; [CLS] and [SEP] are not). Each
    is masked with probability `rate`; a sequence with words but no draw gets one picked at random."""
    words = tokens[:, :, 0] >= RESERVED_IDS
    chosen = words & (rng.random(words.shape) < rate)
    lacking = words.any(axis=1) & ~chosen.any(axis=1)
    for row in np.flatnonzero(lacking):
        chosen[row, rng.choice(np.flatnonzero(words[row]))] = True
    masked = tokens.copy()
    masked[chosen] = PAD_ID
    targets = np.where(chosen, tokens[:, :, 0], 0).astype(np.int32)
    return masked, chosen.astype(np.float32), targets, chosen.astype(np.float32)


@dataclass(frozen=True)
class PretrainResult:
    weights: dict[str, list[npt.NDArray[np.float32]]]  # encoder layer name -> its weights
    losses: list[float]  # mean masked-word cross-entropy per epoch
    accuracy: float  # last epoch's masked-word top-1 accuracy
    seconds: float


def _step(encoder: tf_keras.Model, head: tf_keras.Model, optimizer: Any, strategy: Any) -> Any:
    variables = [*encoder.trainable_variables, *head.trainable_variables]

    def replica_step(tokens: Any, flags: Any, targets: Any, weights: Any, total: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            hidden = encoder([tokens, flags], training=True)
            where = tf.where(weights > 0)
            logits = head(tf.gather_nd(hidden, where), training=True)
            labels = tf.gather_nd(targets, where)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            loss = tf.reduce_sum(ce) / total
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        hits = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        )
        return loss, hits

    @tf.function(reduce_retracing=True)
    def step(*args: Any) -> tuple[Any, Any]:
        loss, hits = strategy.run(replica_step, args=args)
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, hits, axis=None),
        )

    return step


def _per_replica(strategy: Any, arrays: tuple[Any, ...], total: float) -> tuple[Any, ...]:
    replicas = strategy.num_replicas_in_sync
    parts = [
        (*(a[own] for a in arrays), np.array(total, np.float32))
        for own in np.array_split(np.arange(len(arrays[0])), replicas)
    ]
    if replicas == 1:
        return parts[0]
    return tuple(
        strategy.experimental_distribute_values_from_function(
            lambda ctx, k=k: tf.constant(parts[ctx.replica_id_in_sync_group][k])
        )
        for k in range(len(parts[0]))
    )


def pretrain(
    tokens: Any,
    ranker: RankerConfig,
    tokenizer: Tokenizer,
    cfg: PretrainConfig,
    seed: int,
    strategy: Any,
    checkpoints: Path | None = None,
    progress: bool = False,
) -> PretrainResult:
    """Pre-train on `tokens` [S,L,K] (from `sequences`); resumes from `checkpoints` when it has one."""
    from model.ranker.train import LinearWarmup, seed_everything  # as fine-tuning does

    # Before the layers exist: their initial weights (and the [MASK] vector) come from TensorFlow's
    # global seed. Unseeded, two runs of the same command pre-trained different encoders, and every
    # bundle id downstream differed.
    seed_everything(seed)
    start = time.perf_counter()
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        encoder, head = build_pretrainer(ranker, tokenizer)
        optimizer = tf_keras.optimizers.Adam(LinearWarmup(cfg.learning_rate * replicas, cfg.warmup_steps))
        epoch_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    state = tf.train.Checkpoint(encoder=encoder, head=head, optimizer=optimizer, epoch=epoch_done)
    manager = tf.train.CheckpointManager(state, str(checkpoints), max_to_keep=1) if checkpoints else None
    if manager is not None and manager.latest_checkpoint:
        state.restore(manager.latest_checkpoint)
    step = _step(encoder, head, optimizer, strategy)
    losses: list[float] = []
    accuracy = float("nan")
    batch = cfg.batch_sequences * replicas
    for epoch in range(int(epoch_done.numpy()) + 1, cfg.epochs + 1):
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(tokens))[: cfg.max_sequences]
        total_loss, hits, count = 0.0, 0.0, 0.0
        for i in range(0, len(order), batch):
            masked, flags, targets, weights = mask_words(tokens[order[i : i + batch]], cfg.mask_rate, rng)
            n = float(weights.sum())
            loss, hit = step(*_per_replica(strategy, (masked, flags, targets, weights), n))
            total_loss, hits, count = total_loss + float(loss) * n, hits + float(hit), count + n
        losses.append(total_loss / max(count, 1.0))
        accuracy = hits / max(count, 1.0)
        if progress:
            print(
                f"pretrain epoch {epoch}/{cfg.epochs}: loss {losses[-1]:.3f}, masked accuracy {accuracy:.3f}"
            )
        epoch_done.assign(epoch)
        if manager is not None:
            manager.save()
    weights = {layer.name: layer.get_weights() for layer in encoder.layers if layer.weights}
    return PretrainResult(weights, losses, accuracy, time.perf_counter() - start)


def load_encoder_weights(model: tf_keras.Model, weights: dict[str, list[Any]]) -> list[str]:
    """Copy pre-trained weights into the ranker's layers of the same name; returns the names copied.

    Raises ValueError when a shared layer's shapes differ (a pre-training cache for another config)."""
    copied = []
    for layer in model.layers:
        found = weights.get(layer.name)
        if found is None or not layer.weights:
            continue
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != [tuple(np.shape(w)) for w in found]:
            raise ValueError(
                f"pre-trained layer {layer.name!r} has shapes {[np.shape(w) for w in found]}, ranker {shapes}"
            )
        layer.set_weights(found)
        copied.append(layer.name)
    return copied
