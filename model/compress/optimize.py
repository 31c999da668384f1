"""Shrink the trained ranker with tensorflow-model-optimization and export LiteRT variants.

    fp32                               SavedModel, the reference
    pruned                             magnitude pruning (PolynomialDecay to the target sparsity) of every
                                       Dense, MultiHeadAttention and Embedding kernel, fine-tuned
    pruned_clustered                   + sparsity-preserving weight clustering, fine-tuned
    fp32_tflite_float32                LiteRT export of fp32 (the float baseline for size and latency)
    pruned_clustered_tflite_{float32,float16,dynamic_int8,int8}

Only pruned_clustered gets the quantized exports: pruning and clustering are what make the int8 file
compress, and each conversion costs seconds of the pipeline budget. Quantization-aware training is
attempted and its outcome recorded (tfmot 0.8 cannot quantize this model; see `try_qat`). Seeded like
training, so the same trained model and settings give the same variants.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import tensorflow_model_optimization as tfmot
import tf_keras

from model import console
from model.compress.litert import MODE_NOTES, MODES, Mode, convert, write_atomic
from model.config import PipelineConfig
from model.ranker.train import EpochRecord, FitSettings, fit, seed_everything
from model.ranker.transformer import save_ranker
from model.text.features import Listwise, to_listwise
from model.text.tokenizer import Tokenizer

# The layer types whose kernels tfmot prunes and clusters (attention and embeddings included).
COMPRESSIBLE = (tf_keras.layers.Dense, tf_keras.layers.MultiHeadAttention, tf_keras.layers.Embedding)
PRUNING_UPDATES = 10  # sparsity steps from 0 to the target
Data = tuple[Listwise, Listwise, pd.DataFrame]  # train, valid, valid frame (for NDCG@10)


@dataclass(frozen=True)
class Variant:
    name: str
    kind: Literal["savedmodel", "tflite"]
    path: Path
    parent: str | None  # the variant it was derived from
    notes: str = ""


@dataclass
class OptimizeResult:
    variants: list[Variant]
    qat: str  # what quantization-aware training did (error text when tfmot refused)
    sparsity: dict[str, float]  # weight name -> fraction of zeros, in the pruned model
    clusters: dict[str, int]  # weight name -> distinct values, in the clustered model
    history: dict[str, list[EpochRecord]] = field(default_factory=dict)  # fine-tune curves


def compressible_weights(model: tf_keras.Model) -> dict[str, Any]:
    """Kernel/embedding arrays of the layers tfmot prunes and clusters, keyed "layer/weight"."""
    out: dict[str, Any] = {}
    for layer in model.layers:
        if not isinstance(layer, COMPRESSIBLE):
            continue
        for w in layer.weights:
            name = w.name.split(":")[0].removeprefix(f"{layer.name}/")
            if name.split("/")[-1] in ("kernel", "embeddings"):
                out[f"{layer.name}/{name}"] = w.numpy()
    return out


def _fine_tune(cfg: PipelineConfig, label: str, epochs: int, progress: bool) -> FitSettings:
    o, t = cfg.optimize, cfg.train
    return FitSettings(
        t.loss, epochs, t.batch_queries, o.fine_tune_learning_rate, 0, None, t.seed, progress, label
    )


def _wrap_compressible(model: tf_keras.Model, wrap: Any) -> tf_keras.Model:
    """A new model whose compressible layers are wrapped by `wrap`.

    tfmot wrappers hold the layer they wrap, so wrap a private copy: fine-tuning must not touch `model`.
    """
    base = tf_keras.models.clone_model(model)
    base.set_weights(model.get_weights())
    return tf_keras.models.clone_model(
        base, clone_function=lambda layer: wrap(layer) if isinstance(layer, COMPRESSIBLE) else layer
    )


def pruning_schedule(steps: int, target: float) -> Any:
    """0 -> target sparsity in PRUNING_UPDATES steps over the first ~70% of `steps` fine-tune steps;
    the rest train with the final mask. end_step is a multiple of the frequency so the target is hit."""
    frequency = max(1, int(0.7 * steps) // PRUNING_UPDATES)
    end_step = frequency * min(PRUNING_UPDATES, max(steps - 1, 0) // frequency)
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=target, begin_step=0, end_step=end_step, frequency=frequency
    )


def prune(
    model: tf_keras.Model, cfg: PipelineConfig, data: Data, progress: bool
) -> tuple[tf_keras.Model, list[EpochRecord]]:
    """A copy of `model` magnitude-pruned to cfg.optimize.prune_target_sparsity while fine-tuning."""
    train, valid, valid_frame = data
    steps = cfg.optimize.prune_epochs * -(-train.queries // cfg.train.batch_queries)
    schedule = pruning_schedule(steps, cfg.optimize.prune_target_sparsity)
    wrapped = _wrap_compressible(
        model, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
    )
    settings = _fine_tune(cfg, "prune", cfg.optimize.prune_epochs, progress)
    history, _ = fit(
        wrapped, train, (valid, valid_frame), settings, [tfmot.sparsity.keras.UpdatePruningStep()]
    )
    return tfmot.sparsity.keras.strip_pruning(wrapped), history


def cluster(
    model: tf_keras.Model, cfg: PipelineConfig, data: Data, progress: bool
) -> tuple[tf_keras.Model, list[EpochRecord]]:
    """A copy of (pruned) `model` with every compressible kernel clustered to cfg.optimize.cluster_count
    values, zeros kept (sparsity-preserving), centroids fine-tuned."""
    train, valid, valid_frame = data
    params = {
        "number_of_clusters": cfg.optimize.cluster_count,
        "cluster_centroids_init": tfmot.clustering.keras.CentroidInitialization.KMEANS_PLUS_PLUS,
        "preserve_sparsity": True,
    }
    wrapped = _wrap_compressible(model, lambda layer: tfmot.clustering.keras.cluster_weights(layer, **params))
    settings = _fine_tune(cfg, "cluster", cfg.optimize.cluster_epochs, progress)
    history, _ = fit(wrapped, train, (valid, valid_frame), settings)
    return tfmot.clustering.keras.strip_clustering(wrapped), history


def _qat_attempt(label: str, build: Any) -> str:
    try:
        build()
    except Exception as e:  # tfmot raises TypeError/ValueError/RuntimeError depending on the layer
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if "Error" in line), lines[0] if lines else "")
        detail = reason if reason.startswith(type(e).__name__) else f"{type(e).__name__}: {reason}"
        return f"{label}: failed ({detail[:300]})"
    return f"{label}: builds"


def try_qat(model: tf_keras.Model) -> str:
    """Try to set up quantization-aware training with tfmot; returns what happened, for the report.

    Two attempts: `quantize_model` on the whole ranker, then `quantize_apply` with only the
    MultiHeadAttention layers annotated. On tfmot 0.8 both fail (the first on the int32 token input, the
    second because MultiHeadAttention has no QuantizeConfig, TFMOT #661), so the shipped int8 model comes
    from post-training quantization, which keeps fp32 quality on this ranker.
    """
    quantize = tfmot.quantization.keras

    def attention_only() -> Any:
        def annotate(layer: Any) -> Any:
            if isinstance(layer, tf_keras.layers.MultiHeadAttention):
                return quantize.quantize_annotate_layer(layer)
            return layer

        return quantize.quantize_apply(tf_keras.models.clone_model(model, clone_function=annotate))

    whole = _qat_attempt("quantize_model(ranker)", lambda: quantize.quantize_model(model))
    attention = _qat_attempt("quantize_apply(MultiHeadAttention annotated)", attention_only)
    return f"{whole}; {attention}; shipped int8 uses post-training quantization"


def _samples(train: Listwise, count: int, seed: int) -> list[Any]:
    picks = np.random.default_rng(seed).choice(train.queries, size=min(count, train.queries), replace=False)
    return [train.tokens[q][train.mask[q]] for q in sorted(picks)]


def _export(
    jobs: list[tuple[tf_keras.Model, str, Mode]], out: Path, samples: list[Any], progress: bool
) -> list[Variant]:
    """One LiteRT file per (model, parent name, mode); the converter's own output is held back."""
    variants = []
    with console.progress(len(jobs), "export", "model", progress) as bar:
        for model, parent, mode in jobs:
            name = f"{parent}_tflite_{mode}"
            with console.native_output():
                flatbuffer = convert(model, mode, samples)
            path = write_atomic(out / f"{name}.tflite", flatbuffer)
            variants.append(Variant(name, "tflite", path, parent, MODE_NOTES[mode]))
            bar.set_postfix_str(f"last: {name}", refresh=False)
            bar.update()
    return variants


def optimize_ranker(
    cfg: PipelineConfig,
    tokenizer: Tokenizer,
    model: tf_keras.Model,
    frames: tuple[pd.DataFrame, pd.DataFrame],
    out_dir: Path,
    progress: bool = True,
) -> OptimizeResult:
    """Write every variant of the trained fp32 `model` under `out_dir`; `frames` = (train, valid)."""
    out_dir = Path(out_dir)
    seed_everything(cfg.train.seed)
    train_frame, valid_frame = frames
    data: Data = (to_listwise(train_frame, tokenizer), to_listwise(valid_frame, tokenizer), valid_frame)
    o = cfg.optimize
    with console.native_output():
        qat = try_qat(model) if o.try_qat else "not attempted (optimize.try_qat is false)"
    pruned, prune_history = prune(model, cfg, data, progress)
    clustered, cluster_history = cluster(pruned, cfg, data, progress)
    target = f"{o.prune_target_sparsity:.0%} sparsity"
    variants = [
        Variant("fp32", "savedmodel", save_ranker(model, out_dir / "fp32"), None, "reference"),
        Variant("pruned", "savedmodel", save_ranker(pruned, out_dir / "pruned"), "fp32", target),
        Variant(
            "pruned_clustered",
            "savedmodel",
            save_ranker(clustered, out_dir / "pruned_clustered"),
            "pruned",
            f"{o.cluster_count} clusters per kernel, sparsity preserved",
        ),
    ]
    samples = _samples(data[0], o.representative_queries, cfg.train.seed)
    jobs: list[tuple[tf_keras.Model, str, Mode]] = [(model, "fp32", "float32")]
    jobs += [(clustered, "pruned_clustered", mode) for mode in MODES]
    variants += _export(jobs, out_dir, samples, progress)
    return OptimizeResult(
        variants=variants,
        qat=qat,
        sparsity={k: float(np.mean(v == 0)) for k, v in compressible_weights(pruned).items()},
        clusters={k: len(np.unique(v)) for k, v in compressible_weights(clustered).items()},
        history={"prune": prune_history, "cluster": cluster_history},
    )
