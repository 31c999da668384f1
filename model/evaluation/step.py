"""The evaluate step: every ranker of the run on the selection split (valid) and the test split.

Measured, each with the tokenizer and runtime it would be served with:
- the variants of optimize (fp32 SavedModel and the LiteRT files): quality per split, size, latency;
- extra models registered by other steps (model/evaluation/extra.py): quality and latency;
- the lexical baselines (model/evaluation/baselines.py), learned from train, selected on valid;
- the production bundle, when given: quality per split and whether it saw these queries.
Every trained ranker is scored as it ships, `model + w * BM25` over the catalog (model/evaluation/
fusion.py), its w chosen on the selection split (0: the model alone, and the only choice with
`fusion.enabled: false`); `fp32_model_alone` shows what the BM25 term adds. The production bundle is
scored with its own lexical.json (none: the model alone).
Then the paired-bootstrap deltas the report and the gate read. The gate only ever reads the selection
split; the test split is computed here once and only reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model import console
from model.config import PipelineConfig
from model.data.lineage import overlap
from model.data.schema import Splits
from model.evaluation.baselines import BASELINES, lexical_baselines
from model.evaluation.card import data_card, relevant_gain
from model.evaluation.compare import Table, means
from model.evaluation.evaluate import EncodedSplit, encode_split, latency_tokens, score_split, size_on_disk
from model.evaluation.extra import ExtraModel
from model.evaluation.fusion import catalog_index, fusion_weight, lexical_scores
from model.evaluation.latency import Setup, Target, measure
from model.evaluation.record import (
    LEXICAL,
    MODEL,
    BaselineResult,
    Delta,
    ModelResult,
    VariantResult,
)
from model.evaluation.scoring import open_scorer
from model.text.lexical import LexicalIndex
from model.text.tokenizer import Tokenizer

EVALUATED = ("valid", "test")
FP32, FP32_TFLITE, PRODUCTION_NAME = "fp32", "fp32_tflite_float32", "production"
MODEL_ALONE = "fp32_model_alone"


@dataclass(frozen=True)
class Production:
    """The production bundle, already verified by the caller (release.bundle sits above this room)."""

    bundle_id: str
    model: Path
    tokenizer: Path
    lineage: dict[str, Any] | None  # None: an older bundle that records no split membership
    lexical: LexicalIndex | None = None  # its lexical.json (statistics and weight); None: the model alone


@dataclass(frozen=True)
class Inputs:
    cfg: PipelineConfig
    splits: Splits
    tokenizer: Tokenizer
    variants: list[VariantResult]
    extra: list[ExtraModel] = field(default_factory=list)
    production: Production | None = None


@dataclass
class Evaluation:
    variants: list[VariantResult]
    models: list[ModelResult]
    deltas: list[Delta]
    strongest_lexical: str
    relevant_gain: float
    card: dict[str, Any]
    notes: dict[str, Any]
    table: Table
    lexical: LexicalIndex | None = None  # the catalog's BM25 statistics (weight 0); None: fusion off
    baseline: BaselineResult | None = None


class _Scoring:
    """Scores rankers on the evaluated splits into one Table, encoding each split once per tokenizer."""

    def __init__(self, inputs: Inputs, table: Table):
        splits, fusion = inputs.splits, inputs.cfg.fusion
        self.frames = {"valid": splits.valid, "test": splits.test}
        self.table, self.threads = table, inputs.cfg.evaluate.threads
        self.grid = fusion.grid
        self.bar: Any = None  # one display for the step (console.progress), set by evaluate_all
        self._encoded: dict[tuple[str, str], EncodedSplit] = {}
        self._tokenizers: dict[str, Tokenizer] = {}
        self.index = (
            catalog_index([splits.train, splits.valid, splits.test], fusion) if fusion.enabled else None
        )
        self.bm25 = {s: lexical_scores(self.index, f) for s, f in self.frames.items()} if self.index else {}

    def encoded(self, tokenizer_path: str, split: str) -> EncodedSplit:
        key = (tokenizer_path, split)
        if key not in self._encoded:
            if tokenizer_path not in self._tokenizers:
                self._tokenizers[tokenizer_path] = Tokenizer.load(Path(tokenizer_path))
            self._encoded[key] = encode_split(self.frames[split], self._tokenizers[tokenizer_path])
        return self._encoded[key]

    def raw(self, name: str, kind: str, path: Path, tokenizer_path: str) -> dict[str, np.ndarray]:
        """The model's own scores per split, aligned with the split's rows."""
        with console.native_output():  # LiteRT announces its XNNPACK delegate
            scorer = open_scorer(path, kind, self.threads, name)
        out = {
            split: score_split(self.encoded(tokenizer_path, split), scorer.score, progress=False)
            for split in EVALUATED
        }
        if self.bar is not None:
            self.bar.set_postfix_str(f"last: {name}", refresh=False)
            self.bar.update()
        return out

    def add(self, name: str, scores: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        return {split: self.table.add(name, split, self.frames[split], scores[split]) for split in EVALUATED}

    def score(
        self, name: str, kind: str, path: Path, tokenizer_path: str
    ) -> tuple[dict[str, dict[str, float]], float]:
        """Metrics per split of `model + w * BM25`, and w (chosen on valid; 0 with fusion off)."""
        raw = self.raw(name, kind, path, tokenizer_path)
        weight = 0.0
        if self.index is not None:
            relevant = self.table.relevant_gain
            weight = fusion_weight(
                self.frames["valid"], raw["valid"], self.bm25["valid"], relevant, self.grid
            )
            if name == FP32:  # what the BM25 term adds: fp32 - this
                self.add(MODEL_ALONE, raw)
        fused = {split: raw[split] + weight * self.bm25[split] for split in EVALUATED} if weight else raw
        return self.add(name, fused), weight

    def score_production(self, prod: Production) -> dict[str, dict[str, float]]:
        """The production bundle as it serves: its model, and its own lexical.json when it has one."""
        raw = self.raw(PRODUCTION_NAME, "tflite", prod.model, str(prod.tokenizer))
        if prod.lexical is not None and prod.lexical.weight:
            own = {s: lexical_scores(prod.lexical, f) for s, f in self.frames.items()}
            raw = {s: raw[s] + prod.lexical.weight * own[s] for s in EVALUATED}
        return self.add(PRODUCTION_NAME, raw)


def _quality(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k != "queries"}


def _lexical(inputs: Inputs, table: Table, relevant: float) -> tuple[list[ModelResult], str, dict[str, Any]]:
    splits = inputs.splits
    lex = lexical_baselines(
        {"train": splits.train, "valid": splits.valid, "test": splits.test},
        relevant,
        inputs.cfg.evaluate.baselines,
        select_on=inputs.cfg.evaluate.selection_split,
    )
    frames = {"valid": splits.valid, "test": splits.test}
    models = [
        ModelResult(
            name,
            LEXICAL,
            {s: _quality(table.add(name, s, frames[s], lex.scores[name][s])) for s in EVALUATED},
        )
        for name in BASELINES
    ]
    strongest = max(models, key=lambda m: m.metrics["valid"]["ndcg@10"]).name
    notes = {
        "expansion_weight": lex.expansion_weight,
        "spelling_corrections": lex.corrections,
        "expanded_words": lex.expanded_words,
    }
    return models, strongest, notes


def _production(inputs: Inputs, scoring: _Scoring) -> BaselineResult:
    prod = inputs.production
    assert prod is not None
    metrics = scoring.score_production(prod)
    seen = overlap(prod.lineage, inputs.splits) if prod.lineage is not None else None
    return BaselineResult(prod.bundle_id, _quality(metrics["valid"]), _quality(metrics["test"]), seen)


def _latency(inputs: Inputs, scoring: _Scoring, run_tokenizer: str) -> dict[str, dict[str, float]]:
    cfg = inputs.cfg.evaluate
    targets = [(Target(v.name, v.kind, v.path), run_tokenizer) for v in inputs.variants]
    targets += [(Target(m.name, m.kind, m.path), m.tokenizer) for m in inputs.extra]
    tokens = {
        t.name: latency_tokens(
            scoring.encoded(tok, cfg.selection_split), cfg.latency_candidates, inputs.cfg.data.seed
        )
        for t, tok in targets
    }
    setup = Setup(cfg.threads, cfg.latency_runs, cfg.latency_warmup, cfg.latency_rounds)
    names = {t.name for t, _ in targets}
    return measure([t for t, _ in targets], tokens, setup, FP32_TFLITE if FP32_TFLITE in names else None)


def _pairs(
    variants: Iterable[str], extras: Iterable[str], strongest: str, production: bool
) -> list[tuple[str, str]]:
    variants, extras = list(variants), list(extras)
    pairs = [(v, FP32) for v in variants] + [(x, FP32) for x in extras]
    pairs += [(x, ref) for x in [*variants, *extras] for ref in dict.fromkeys((strongest, "bm25"))]
    pairs += [(name, ref) for name in BASELINES for ref in dict.fromkeys(("bm25", strongest))]
    if production:
        pairs += [(v, PRODUCTION_NAME) for v in variants]
    return pairs


def evaluate_all(inputs: Inputs, run_tokenizer: Path, progress: bool = True) -> Evaluation:
    cfg = inputs.cfg
    relevant = relevant_gain(cfg.data, inputs.splits.train)
    table = Table(relevant, cfg.evaluate.bootstrap_samples, cfg.evaluate.confidence, cfg.data.seed)
    scoring = _Scoring(inputs, table)
    rankers = len(inputs.variants) + len(inputs.extra) + (inputs.production is not None)
    with console.progress(rankers, "evaluate", "ranker", progress) as scoring.bar:
        for v in inputs.variants:
            per_split, v.fusion_weight = scoring.score(v.name, v.kind, Path(v.path), str(run_tokenizer))
            v.metrics = {**_quality(per_split["valid"]), **size_on_disk(Path(v.path))}
            v.test_metrics = _quality(per_split["test"])
        models = []
        for x in inputs.extra:
            per_split, weight = scoring.score(x.name, x.kind, Path(x.path), x.tokenizer)
            metrics = {s: _quality(q) for s, q in per_split.items()}
            models.append(ModelResult(x.name, MODEL, metrics, x.notes, {"fusion_weight": weight}))
        if table.has(MODEL_ALONE, "valid"):
            alone = {s: _quality(means(table.rows[(MODEL_ALONE, s)])) for s in EVALUATED}
            note = "the fp32 model without the BM25 term (w = 0): fp32 - this is what fusion adds"
            models.append(ModelResult(MODEL_ALONE, MODEL, alone, note))
        baseline = _production(inputs, scoring) if inputs.production is not None else None
    scoring.bar = None
    lexical, strongest, lexical_notes = _lexical(inputs, table, relevant)
    latency = _latency(inputs, scoring, str(run_tokenizer))
    for v in inputs.variants:
        v.metrics.update(latency[v.name])
    for result, x in zip(models, inputs.extra, strict=False):  # MODEL_ALONE, last, has no own latency
        result.extra = {**result.extra, **latency[result.name], **size_on_disk(Path(x.path))}
    extras = [m.name for m in models]
    pairs = _pairs((v.name for v in inputs.variants), extras, strongest, baseline is not None)
    if MODEL_ALONE in extras:
        pairs.append((FP32, MODEL_ALONE))
    ev = cfg.evaluate
    notes = {
        "lexical": lexical_notes,
        "latency": {
            "threads": ev.threads,
            "candidates": ev.latency_candidates,
            "rounds": ev.latency_rounds,
            "runs_per_round": ev.latency_runs,
            "reference": FP32_TFLITE,
            "gate_clock": cfg.gate.latency_clock,
        },
        "bootstrap": {"samples": ev.bootstrap_samples, "confidence": ev.confidence, "unit": "query"},
        "fusion": _fusion_notes(scoring.index, inputs, models),
    }
    return Evaluation(
        variants=inputs.variants,
        models=[*lexical, *models],
        deltas=table.deltas(pairs, EVALUATED),
        strongest_lexical=strongest,
        relevant_gain=relevant,
        card=data_card(inputs.splits, relevant),
        notes=notes,
        table=table,
        lexical=scoring.index,
        baseline=baseline,
    )


def _fusion_notes(index: LexicalIndex | None, inputs: Inputs, models: list[ModelResult]) -> dict[str, Any]:
    if index is None:
        return {"enabled": False}
    weights = {v.name: v.fusion_weight for v in inputs.variants}
    weights.update({m.name: m.extra["fusion_weight"] for m in models if "fusion_weight" in m.extra})
    return {
        "enabled": True,
        "grid": list(inputs.cfg.fusion.grid),
        "documents": index.documents,
        "terms": len(index.df),
        "weights": weights,
    }


def save_per_query(table: Table, path: Path) -> None:
    """Every ranker's per-query metrics (work/per_query.parquet), for plots and later analysis."""
    frame: pd.DataFrame = table.to_frame()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
