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

from model import pipeline as pl
from model.config import PipelineConfig
from model.data import load
from model.data.lineage import lineage
from model.data.schema import Splits
from model.data.splits import split_by_query
from model.evaluation.extra import ExtraModel, register, registered
from model.evaluation.record import RunRecord, VariantResult
from model.evaluation.step import Production
from model.release.bundle import LEXICAL_FILE, LINEAGE_FILE, MODEL_FILE, TOKENIZER_FILE, verify_bundle
from model.text.features import catalog_texts, fit_texts, query_lists
from model.text.tokenizer import Tokenizer
from model.text.vocabulary import fit_tokenizer

_COMPARISON_NOTES = {
    "teacher": "distillation teacher (distill.teacher), trained on the grades; comparison only, never shipped",
    "scratch": "the shipped architecture trained on the grades from a random start; comparison only",
    "no_pretrain": "the shipped recipe from a random start instead of the pre-trained encoder; comparison only",
    "no_distill": "the shipped architecture from the pre-trained encoder, trained on the grades without the "
    "teacher; comparison only",
}


def step_data(cfg: PipelineConfig, ws: pl.Workspace) -> dict[str, dict[str, int]]:
    frame = load(cfg.data)
    splits = split_by_query(frame, cfg.data.split, cfg.data.seed)
    source = cfg.data.source if cfg.data.path is None else f"{cfg.data.source}:{cfg.data.path}"
    pl.save_config(ws, cfg)
    summary = pl.save_splits(ws, splits, source)
    pl.write_json(ws.lineage, lineage(splits, source))
    return summary


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
    ws.extra_models.unlink(missing_ok=True)
    save_ranker(result.model, ws.fp32)
    for name, other in trained.others.items():
        save_ranker(other.model, ws.others / name)
        # Measured beside the variants by the evaluate step (model/evaluation/extra.py), never shipped.
        register(
            ws.extra_models,
            ExtraModel(
                name, "savedmodel", str(ws.others / name), str(ws.tokenizer), _COMPARISON_NOTES.get(name, "")
            ),
        )
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
    from model.text.lexical import LexicalIndex

    info = verify_bundle(path)
    lineage_file, lexical_file = info.path / LINEAGE_FILE, info.path / LEXICAL_FILE
    return Production(
        bundle_id=info.bundle_id,
        model=info.path / MODEL_FILE,
        tokenizer=info.path / TOKENIZER_FILE,
        lineage=json.loads(lineage_file.read_text(encoding="utf-8")) if lineage_file.exists() else None,
        lexical=(
            LexicalIndex.from_json(lexical_file.read_text(encoding="utf-8"), str(lexical_file))
            if LEXICAL_FILE in info.files
            else None
        ),
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
    if result.lexical is not None:
        ws.lexical.write_text(result.lexical.to_json(), encoding="utf-8")
    else:  # fusion off: packaging must not pick up an earlier run's statistics
        ws.lexical.unlink(missing_ok=True)
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
