"""One function per pipeline step; see pipeline.py for what each reads and writes."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pandas as pd

from model import console
from model import pipeline as pl
from model.config import PipelineConfig
from model.data import load
from model.data.schema import Splits
from model.data.splits import split_by_query
from model.evaluation.bm25 import bm25_scores
from model.evaluation.evaluate import (
    QUALITY_KEYS,
    encode_split,
    evaluate_variant,
    latency_tokens,
    score_split,
)
from model.evaluation.metrics import ranking_metrics
from model.evaluation.record import BaselineResult, RunRecord, VariantResult
from model.release.bundle import verify_bundle
from model.text.features import catalog_texts, fit_texts, query_lists
from model.text.tokenizer import Tokenizer
from model.text.vocabulary import fit_tokenizer


def step_data(cfg: PipelineConfig, ws: pl.Workspace) -> dict[str, dict[str, int]]:
    frame = load(cfg.data)
    splits = split_by_query(frame, cfg.data.split, cfg.data.seed)
    source = cfg.data.source if cfg.data.path is None else f"{cfg.data.source}:{cfg.data.path}"
    pl.save_config(ws, cfg)
    return pl.save_splits(ws, splits, source)


def step_pretrain(cfg: PipelineConfig, ws: pl.Workspace, progress: bool = True) -> dict[str, object]:
    """Fit the tokenizer and pre-train the encoder on the catalog (cached by data hash); see
    model/ranker/pretrain.py. With pretrain.enabled false it only records that there is none."""
    if not cfg.pretrain.enabled:
        pl.write_json(ws.pretrain, {"enabled": False})
        return {"enabled": False}
    from model.ranker.cache import cached_pretrain
    from model.ranker.distribute import strategy_for
    from model.ranker.pretrain import sequences

    strategy = strategy_for(cfg.train.distribute)  # before any TensorFlow op
    splits = pl.load_splits(ws)
    tokenizer = fit_tokenizer(cfg.tokenizer, fit_texts(splits.train, splits.valid, splits.test))
    catalog = pd.concat([splits.train, splits.valid, splits.test])
    tokens = sequences(tokenizer, catalog_texts(catalog), query_lists(splits.train))
    _, summary = cached_pretrain(
        tokens, tokenizer, cfg.ranker, cfg.pretrain, cfg.train.seed, strategy, ws.pretrain_cache, progress
    )
    tokenizer.save(ws.pretrain_cache / str(summary["key"]) / "tokenizer.json")
    record = {"enabled": True, **summary}
    pl.write_json(ws.pretrain, record)
    return record


def _start(
    cfg: PipelineConfig, ws: pl.Workspace, splits: Splits
) -> tuple[Tokenizer, dict[str, list[Any]] | None]:
    """The tokenizer and initial encoder weights: the pre-training step's, or a freshly fitted tokenizer."""
    from model.ranker.cache import WEIGHTS, load_weights

    if cfg.pretrain.enabled:
        record = json.loads(pl.require(ws.pretrain, "pretrain").read_text())
        if not record.get("enabled"):
            raise pl.StepOrderError(
                f"{ws.pretrain} says pre-training was off: run `python -m model pretrain`"
            )
        where = ws.pretrain_cache / str(record["key"])
        return Tokenizer.load(where / "tokenizer.json"), load_weights(pl.require(where / WEIGHTS, "pretrain"))
    return fit_tokenizer(cfg.tokenizer, fit_texts(splits.train, splits.valid, splits.test)), None


def step_train(cfg: PipelineConfig, ws: pl.Workspace, progress: bool = True) -> dict[str, list[float]]:
    from model.ranker.distribute import strategy_for
    from model.ranker.recipe import train_recipe
    from model.ranker.transformer import save_ranker

    strategy_for(cfg.train.distribute)  # before any TensorFlow op
    splits = pl.load_splits(ws)
    tokenizer, initial = _start(cfg, ws, splits)
    catalog = pd.concat([splits.train, splits.valid, splits.test])
    trained = train_recipe(cfg, tokenizer, splits.train, splits.valid, catalog, initial, progress)
    result = trained.ranker
    # An earlier run's teacher must not be reported as this one's.
    shutil.rmtree(ws.others, ignore_errors=True)
    save_ranker(result.model, ws.fp32)
    for name, other in trained.others.items():
        save_ranker(other.model, ws.others / name)
    tokenizer.save(ws.tokenizer)
    history = {
        "loss": [r.train_loss for r in result.history],
        "val_ndcg@10": [r.valid_ndcg for r in result.history],
        "examples_per_second": [r.examples_per_second for r in result.history],
        "best_epoch": [float(result.best_epoch)],
        **{f"{name}_val_ndcg@10": [r.valid_ndcg for r in o.history] for name, o in trained.others.items()},
        **{f"{name}_seconds": [s] for name, s in trained.seconds.items()},
    }
    pl.write_json(ws.history, history)
    return history


def step_optimize(cfg: PipelineConfig, ws: pl.Workspace, progress: bool = True) -> list[VariantResult]:
    from model.compress.optimize import optimize_ranker
    from model.ranker.transformer import load_ranker

    splits = pl.load_splits(ws)
    tokenizer = Tokenizer.load(pl.require(ws.tokenizer, "train"))
    model = load_ranker(pl.require(ws.fp32, "train"))
    result = optimize_ranker(cfg, tokenizer, model, (splits.train, splits.valid), ws.variants_dir, progress)
    variants = [VariantResult(v.name, v.kind, str(v.path), v.parent, v.notes) for v in result.variants]
    variants += _comparison_models(ws)
    pl.write_json(
        ws.variants,
        {
            "variants": [asdict(v) for v in variants],
            "qat": result.qat,
            "sparsity": result.sparsity,
            "clusters": result.clusters,
        },
    )
    return variants


_COMPARISON_NOTES = {
    "teacher": "distillation teacher (distill.teacher), trained on the grades; comparison only, never shipped",
    "scratch": "the shipped architecture trained on the grades from a random start; comparison only",
}


def _comparison_models(ws: pl.Workspace) -> list[VariantResult]:
    """The models trained only to be compared with the shipped one (SavedModels, so never shippable)."""
    if not ws.others.exists():
        return []
    return [
        VariantResult(
            path.name, "savedmodel", str(path), None, _COMPARISON_NOTES.get(path.name, "comparison only")
        )
        for path in sorted(ws.others.iterdir())
        if path.is_dir()
    ]


def _baseline(path: Path, test_frame, threads: int) -> BaselineResult:  # type: ignore[no-untyped-def]
    """Re-score the production bundle on this run's test split with its own tokenizer and model."""
    from model.evaluation.scoring import open_scorer

    info = verify_bundle(path)
    tokenizer = Tokenizer.load(info.path / "tokenizer.json")
    scores = score_split(
        encode_split(test_frame, tokenizer),
        open_scorer(info.path / "model.tflite", "tflite", threads).score,
        desc="scoring production baseline",
    )
    metrics = ranking_metrics(test_frame, scores, k=10)
    return BaselineResult(info.bundle_id, {k: float(metrics[k]) for k in QUALITY_KEYS})


def step_evaluate(
    cfg: PipelineConfig,
    ws: pl.Workspace,
    baseline: Path | None = None,
    timings: dict[str, float] | None = None,
    progress: bool = True,
) -> RunRecord:
    from model.evaluation.scoring import open_scorer

    splits = pl.load_splits(ws)
    tokenizer = Tokenizer.load(pl.require(ws.tokenizer, "train"))
    optimized = json.loads(pl.require(ws.variants, "optimize").read_text())
    test = encode_split(splits.test, tokenizer)
    bench = latency_tokens(test, cfg.evaluate.latency_candidates, cfg.data.seed)
    variants = []
    with console.progress(len(optimized["variants"]), "evaluate", "variant", progress) as bar:
        for raw in optimized["variants"]:
            variant = VariantResult(**raw)
            kind, threads = variant.kind, cfg.evaluate.litert_threads
            with console.native_output():  # LiteRT announces its XNNPACK delegate on the first call
                scorer = open_scorer(Path(variant.path), kind, threads, variant.name)
                variants.append(evaluate_variant(variant, scorer.score, test, bench, cfg.evaluate, False))
            bar.set_postfix_str(f"last: {variant.name}", refresh=False)
            bar.update()
    bm25 = ranking_metrics(splits.test, bm25_scores(splits.test), k=10)
    summary = pl.data_summary(ws)
    record = RunRecord(
        preset=cfg.preset,
        data_source=str(summary["source"]),
        splits=summary["splits"],  # type: ignore[arg-type]
        variants=variants,
        bm25={k: float(bm25[k]) for k in QUALITY_KEYS},
        history=json.loads(pl.require(ws.history, "train").read_text()),
        qat_outcome=str(optimized["qat"]),
        baseline=_baseline(baseline, splits.test, cfg.evaluate.litert_threads) if baseline else None,
        timings_s=dict(timings or {}),
    )
    ws.record.write_text(record.to_json(), encoding="utf-8")
    return record
