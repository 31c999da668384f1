"""Train the ranker: listwise batches of whole queries, Adam with linear warm-up, early stopping on
validation NDCG@10 with the best weights restored. Seeded and deterministic on a given machine.

`fit` is the loop shared with optimize.py (pruning and clustering fine-tune with the same loss).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import tensorflow as tf
import tf_keras

from model import console
from model.config import PipelineConfig, RankerConfig
from model.evaluation.metrics import ranking_metrics
from model.ranker.distribute import replica_batches, strategy_for
from model.ranker.losses import LOSSES, LossFn, loss_denominator
from model.ranker.pretrain import load_encoder_weights
from model.ranker.transformer import build_ranker
from model.text.features import Listwise, to_frame_order, to_listwise
from model.text.tokenizer import Tokenizer

PREDICT_CHUNK = 2048  # candidates per forward pass when scoring a whole split


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    valid_ndcg: float
    seconds: float  # training steps only (validation excluded)
    examples_per_second: float  # real (unpadded) candidates per second


@dataclass(frozen=True)
class FitSettings:
    loss: str
    epochs: int
    batch_queries: int
    learning_rate: float
    warmup_steps: int
    # None: no early stopping, keep the last weights (pruning must reach its final step).
    patience: int | None
    seed: int
    progress: bool = True
    label: str = "train"


@dataclass
class TrainResult:
    model: tf_keras.Model
    history: list[EpochRecord]
    best_epoch: int
    seconds: float  # wall time of train_ranker, tokenization included

    @property
    def examples_per_second(self) -> float:
        train_seconds = sum(r.seconds for r in self.history)
        examples = sum(r.examples_per_second * r.seconds for r in self.history)
        return examples / train_seconds if train_seconds else 0.0

    @property
    def best_valid_ndcg(self) -> float:
        return self.history[self.best_epoch - 1].valid_ndcg


class LinearWarmup(tf_keras.optimizers.schedules.LearningRateSchedule):
    """Ramps linearly from rate / warmup_steps to `rate` over `warmup_steps`, then stays there."""

    def __init__(self, rate: float, warmup_steps: int):
        self.rate, self.warmup_steps = rate, warmup_steps

    def __call__(self, step: Any) -> tf.Tensor:
        progress = (tf.cast(step, tf.float32) + 1.0) / max(self.warmup_steps, 1)
        return self.rate * tf.minimum(1.0, progress)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "warmup_steps": self.warmup_steps}


def seed_everything(seed: int) -> None:
    """Python, numpy and TF seeds plus deterministic TF kernels: same inputs -> same weights."""
    tf_keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def listwise_scores(model: tf_keras.Model, tokens: tf.Tensor, mask: tf.Tensor, training: bool) -> tf.Tensor:
    """Scores [Q, C] for tokens [Q, C, L, K]; only real candidates go through the model (0 elsewhere)."""
    where = tf.where(mask)
    scores = model(tf.gather_nd(tokens, where), training=training)
    return tf.scatter_nd(where, scores, tf.shape(mask, out_type=tf.int64))


def _train_step(model: tf_keras.Model, optimizer: Any, loss_fn: LossFn, strategy: Any) -> Any:
    """One optimizer step on a global batch; each replica gets its slice and a weight (its share of the
    batch's loss denominator), so the summed replica gradients equal the whole batch's on one device."""

    def replica_step(tokens: tf.Tensor, gains: tf.Tensor, mask: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn(listwise_scores(model, tokens, mask, training=True), gains, mask) * weight
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    # reduce_retracing: the last batch of an epoch is smaller; one general trace serves both.
    @tf.function(reduce_retracing=True)
    def step(tokens: Any, gains: Any, mask: Any, weight: Any) -> tf.Tensor:
        per_replica = strategy.run(replica_step, args=(tokens, gains, mask, weight))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return step


def _distribute(strategy: Any, lw: Listwise, idx: npt.NDArray[np.int64], loss: str) -> tuple[Any, ...]:
    """Per-replica (tokens, gains, mask, weight) for the global batch `idx` (plain arrays on one replica)."""
    replicas = strategy.num_replicas_in_sync
    total = loss_denominator(loss, lw.gains[idx], lw.mask[idx])
    parts = []
    for own in np.array_split(idx, replicas):
        share = loss_denominator(loss, lw.gains[own], lw.mask[own]) / total if total else 0.0
        parts.append((lw.tokens[own], lw.gains[own], lw.mask[own], np.array(share, np.float32)))
    if replicas == 1:
        return parts[0]
    return tuple(
        strategy.experimental_distribute_values_from_function(
            lambda ctx, k=k: tf.constant(parts[ctx.replica_id_in_sync_group][k])
        )
        for k in range(4)
    )


def predict_listwise(model: tf_keras.Model, lw: Listwise) -> npt.NDArray[np.float32]:
    """Inference scores [Q, C] for a whole split (0 at padding)."""
    flat = lw.tokens[lw.mask]
    forward = getattr(model, "_rankship_predict", None)
    if forward is None:
        # One trace per model, reused across epochs.
        forward = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
        model._rankship_predict = forward
    parts = [
        forward(tf.constant(flat[i : i + PREDICT_CHUNK])).numpy() for i in range(0, len(flat), PREDICT_CHUNK)
    ]
    out = np.zeros(lw.mask.shape, dtype=np.float32)
    out[lw.mask] = np.concatenate(parts) if parts else []
    return out


def valid_ndcg(model: tf_keras.Model, lw: Listwise, frame: pd.DataFrame) -> float:
    scores = to_frame_order(lw, predict_listwise(model, lw))
    return float(ranking_metrics(frame, scores, k=10)["ndcg@10"])


def _run_epoch(
    step: Any,
    lw: Listwise,
    settings: FitSettings,
    epoch: int,
    callbacks: Sequence[Any],
    strategy: Any,
    bar: Any,
) -> tuple[float, float, int]:
    order = np.random.default_rng(settings.seed + epoch).permutation(lw.queries)
    batches = replica_batches(order, settings.batch_queries, strategy.num_replicas_in_sync)
    losses, examples, start = [], 0, time.perf_counter()
    for b, idx in enumerate(batches):
        for cb in callbacks:
            cb.on_train_batch_begin(b)
        losses.append(float(step(*_distribute(strategy, lw, idx, settings.loss))))
        for cb in callbacks:
            cb.on_train_batch_end(b)
        examples += int(lw.mask[idx].sum())
        bar.set_postfix_str(f"epoch {epoch}/{settings.epochs}, loss {losses[-1]:.4f}", refresh=False)
        bar.update()
    return float(np.mean(losses)), time.perf_counter() - start, examples


def _batches_per_epoch(lw: Listwise, settings: FitSettings, strategy: Any) -> int:
    order = np.arange(lw.queries)
    return len(replica_batches(order, settings.batch_queries, strategy.num_replicas_in_sync))


def fit(
    model: tf_keras.Model,
    train: Listwise,
    valid: tuple[Listwise, pd.DataFrame],
    settings: FitSettings,
    callbacks: Sequence[Any] = (),
    strategy: Any = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> tuple[list[EpochRecord], int]:
    """Train `model` in place; returns the per-epoch history and the 1-based epoch whose weights it keeps.

    `strategy`: the one `model` was built under (None: TF's default, one device). The learning rate is
    scaled by its number of replicas (see TrainConfig). `on_epoch` sees each epoch's record after
    validation (hyperparameter search reports and prunes there; an exception it raises ends training).
    """
    if settings.loss not in LOSSES:
        raise ValueError(f"train.loss: unknown loss {settings.loss!r}; choose one of {sorted(LOSSES)}")
    strategy = strategy or tf.distribute.get_strategy()
    rate = settings.learning_rate * strategy.num_replicas_in_sync
    with strategy.scope():
        optimizer = tf_keras.optimizers.Adam(LinearWarmup(rate, settings.warmup_steps))
    step = _train_step(model, optimizer, LOSSES[settings.loss], strategy)
    for cb in callbacks:
        cb.set_model(model)
        cb.on_train_begin()
    history: list[EpochRecord] = []
    best_epoch, best_ndcg, best_weights = 0, -np.inf, None
    # One display for the whole fit: its ETA assumes every epoch runs (early stopping only shortens it).
    total = settings.epochs * _batches_per_epoch(train, settings, strategy)
    with console.progress(total, settings.label, "batch", settings.progress) as bar:
        for epoch in range(1, settings.epochs + 1):
            loss, seconds, examples = _run_epoch(step, train, settings, epoch, callbacks, strategy, bar)
            for cb in callbacks:
                cb.on_epoch_end(epoch)
            ndcg = valid_ndcg(model, *valid)
            history.append(EpochRecord(epoch, loss, ndcg, seconds, examples / seconds))
            console.note(
                bar,
                f"{settings.label} epoch {epoch}/{settings.epochs}: loss {loss:.4f}, "
                f"valid NDCG@10 {ndcg:.4f}, {seconds:.0f} s",
            )
            if on_epoch is not None:
                on_epoch(history[-1])
            # NaN (no graded validation query) never counts as an improvement; the first epoch always does.
            if settings.patience is None or best_epoch == 0 or ndcg > best_ndcg:
                best_epoch, best_ndcg = epoch, ndcg
                best_weights = model.get_weights() if settings.patience is not None else None
            elif epoch - best_epoch >= settings.patience:
                console.note(bar, f"{settings.label}: early stop, best epoch {best_epoch}")
                break
        bar.total = bar.n  # ends at 100 % after an early stop
    if best_weights is not None and best_epoch != history[-1].epoch:
        model.set_weights(best_weights)
    return history, best_epoch


def train_ranker(
    cfg: PipelineConfig,
    tokenizer: Tokenizer,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    initial: dict[str, list[Any]] | None = None,
    ranker: RankerConfig | None = None,
    targets: Listwise | None = None,
) -> TrainResult:
    """Build and train a ranker from `cfg` on the `train` frame, early-stopping on `valid` NDCG@10.

    `initial`: pre-trained encoder weights by layer name (model/ranker/pretrain.py) to start from;
    `ranker`: another architecture than cfg.ranker (the distillation teacher); `targets`: train on
    this listwise batch with the listwise_distill loss instead of `train`'s grades (the student)."""
    start = time.perf_counter()
    # First: a multi-worker strategy must exist before TensorFlow runs any op.
    strategy = strategy_for(cfg.train.distribute)
    seed_everything(cfg.train.seed)
    train_lw = targets if targets is not None else to_listwise(train, tokenizer)
    valid_lw = to_listwise(valid, tokenizer)
    with strategy.scope():
        model = build_ranker(ranker or cfg.ranker, tokenizer)
        if initial is not None:
            load_encoder_weights(model, initial)
    t = cfg.train
    settings = FitSettings(
        "listwise_distill" if targets is not None else t.loss,
        t.epochs,
        t.batch_queries,
        t.learning_rate,
        t.warmup_steps,
        t.early_stopping_patience,
        t.seed,
        progress,
    )
    history, best_epoch = fit(
        model, train_lw, (valid_lw, valid), settings, strategy=strategy, on_epoch=on_epoch
    )
    return TrainResult(model, history, best_epoch, time.perf_counter() - start)
