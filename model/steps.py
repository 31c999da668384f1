"""One function per pipeline step; see pipeline.py for what each reads and writes."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from model import pipeline as pl
from model.config import PipelineConfig
from model.data import load
from model.data.lineage import lineage
from model.data.splits import split_by_query
from model.evaluation.extra import registered
from model.evaluation.record import RunRecord, VariantResult
from model.evaluation.step import Production
from model.release.bundle import LINEAGE_FILE, MODEL_FILE, TOKENIZER_FILE, verify_bundle
from model.text.tokenizer import Tokenizer


def step_data(cfg: PipelineConfig, ws: pl.Workspace) -> dict[str, dict[str, int]]:
    frame = load(cfg.data)
    splits = split_by_query(frame, cfg.data.split, cfg.data.seed)
    source = cfg.data.source if cfg.data.path is None else f"{cfg.data.source}:{cfg.data.path}"
    pl.save_config(ws, cfg)
    summary = pl.save_splits(ws, splits, source)
    pl.write_json(ws.lineage, lineage(splits, source))
    return summary


def step_train(cfg: PipelineConfig, ws: pl.Workspace, progress: bool = True) -> dict[str, list[float]]:
    from model.ranker.train import train_ranker
    from model.ranker.transformer import save_ranker

    splits = pl.load_splits(ws)
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    result = train_ranker(cfg, tokenizer, splits.train, splits.valid, progress=progress)
    save_ranker(result.model, ws.fp32)
    tokenizer.save(ws.tokenizer)
    history = {
        "loss": [r.train_loss for r in result.history],
        "val_ndcg@10": [r.valid_ndcg for r in result.history],
        "examples_per_second": [r.examples_per_second for r in result.history],
        "best_epoch": [float(result.best_epoch)],
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


def _production(path: Path) -> Production:
    """Verify the production bundle here: release sits above evaluation, which only gets the files."""
    info = verify_bundle(path)
    lineage_file = info.path / LINEAGE_FILE
    return Production(
        bundle_id=info.bundle_id,
        model=info.path / MODEL_FILE,
        tokenizer=info.path / TOKENIZER_FILE,
        lineage=json.loads(lineage_file.read_text(encoding="utf-8")) if lineage_file.exists() else None,
    )


def step_evaluate(
    cfg: PipelineConfig,
    ws: pl.Workspace,
    baseline: Path | None = None,
    timings: dict[str, float] | None = None,
    progress: bool = True,
) -> RunRecord:
    from model.evaluation.step import Inputs, evaluate_all, save_per_query

    splits = pl.load_splits(ws)
    optimized = json.loads(pl.require(ws.variants, "optimize").read_text())
    inputs = Inputs(
        cfg=cfg,
        splits=splits,
        tokenizer=Tokenizer.load(pl.require(ws.tokenizer, "train")),
        variants=[VariantResult(**raw) for raw in optimized["variants"]],
        extra=registered(ws.extra_models),
        production=_production(baseline) if baseline else None,
    )
    result = evaluate_all(inputs, ws.tokenizer, progress)
    save_per_query(result.table, ws.per_query)
    summary = pl.data_summary(ws)
    lineage = json.loads(ws.lineage.read_text(encoding="utf-8")) if ws.lineage.exists() else {}
    record = RunRecord(
        preset=cfg.preset,
        data_source=str(summary["source"]),
        splits=summary["splits"],  # type: ignore[arg-type]
        variants=result.variants,
        models=result.models,
        deltas=result.deltas,
        selection_split=cfg.evaluate.selection_split,
        relevant_gain=result.relevant_gain,
        strongest_lexical=result.strongest_lexical,
        history=json.loads(pl.require(ws.history, "train").read_text()),
        qat_outcome=str(optimized["qat"]),
        baseline=result.baseline,
        timings_s=dict(timings or {}),
        data_card=result.card,
        notes={**result.notes, "data_fingerprint": lineage.get("data_fingerprint")},
    )
    ws.record.write_text(record.to_json(), encoding="utf-8")
    return record
