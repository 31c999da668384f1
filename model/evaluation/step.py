"""The evaluate step: every ranker of the run on the selection split (valid) and the test split.

Measured, each with the tokenizer and runtime it would be served with:
- the variants of optimize (fp32 SavedModel and the LiteRT files): quality per split, size, latency;
- extra models registered by other steps (model/evaluation/extra.py): quality and latency;
- the lexical baselines (model/evaluation/baselines.py), learned from train, selected on valid;
- the production bundle, when given: quality per split and whether it saw these queries.
Then the paired-bootstrap deltas the report and the gate read. The gate only ever reads the selection
split; the test split is computed here once and only reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from model import console
from model.config import PipelineConfig
from model.data.lineage import overlap
from model.data.schema import Splits
from model.evaluation.baselines import BASELINES, lexical_baselines
from model.evaluation.card import data_card, relevant_gain
from model.evaluation.compare import Table
from model.evaluation.evaluate import EncodedSplit, encode_split, latency_tokens, score_split, size_on_disk
from model.evaluation.extra import ExtraModel
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
from model.text.tokenizer import Tokenizer

EVALUATED = ("valid", "test")
FP32, FP32_TFLITE, PRODUCTION_NAME = "fp32", "fp32_tflite_float32", "production"


@dataclass(frozen=True)
class Production:
    """The production bundle, already verified by the caller (release.bundle sits above this room)."""

    bundle_id: str
    model: Path
    tokenizer: Path
    lineage: dict[str, Any] | None  # None: an older bundle that records no split membership


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
    baseline: BaselineResult | None = None


class _Scoring:
    """Scores rankers on the evaluated splits into one Table, encoding each split once per tokenizer."""

    def __init__(self, inputs: Inputs, table: Table):
        self.frames = {"valid": inputs.splits.valid, "test": inputs.splits.test}
        self.table, self.threads = table, inputs.cfg.evaluate.threads
        self.bar: Any = None  # one display for the step (console.progress), set by evaluate_all
        self._encoded: dict[tuple[str, str], EncodedSplit] = {}
        self._tokenizers: dict[str, Tokenizer] = {}

    def encoded(self, tokenizer_path: str, split: str) -> EncodedSplit:
        key = (tokenizer_path, split)
        if key not in self._encoded:
            if tokenizer_path not in self._tokenizers:
                self._tokenizers[tokenizer_path] = Tokenizer.load(Path(tokenizer_path))
            self._encoded[key] = encode_split(self.frames[split], self._tokenizers[tokenizer_path])
        return self._encoded[key]

    def score(self, name: str, kind: str, path: Path, tokenizer_path: str) -> dict[str, dict[str, float]]:
        with console.native_output():  # LiteRT announces its XNNPACK delegate
            scorer = open_scorer(path, kind, self.threads, name)
        out = {}
        for split in EVALUATED:
            enc = self.encoded(tokenizer_path, split)
            scores = score_split(enc, scorer.score, progress=False)
            out[split] = self.table.add(name, split, enc.frame, scores)
        if self.bar is not None:
            self.bar.set_postfix_str(f"last: {name}", refresh=False)
            self.bar.update()
        return out


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
    metrics = scoring.score(PRODUCTION_NAME, "tflite", prod.model, str(prod.tokenizer))
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
            per_split = scoring.score(v.name, v.kind, Path(v.path), str(run_tokenizer))
            v.metrics = {**_quality(per_split["valid"]), **size_on_disk(Path(v.path))}
            v.test_metrics = _quality(per_split["test"])
        models = [
            ModelResult(
                m.name,
                MODEL,
                {s: _quality(q) for s, q in scoring.score(m.name, m.kind, Path(m.path), m.tokenizer).items()},
                m.notes,
            )
            for m in inputs.extra
        ]
        baseline = _production(inputs, scoring) if inputs.production is not None else None
    scoring.bar = None
    lexical, strongest, lexical_notes = _lexical(inputs, table, relevant)
    latency = _latency(inputs, scoring, str(run_tokenizer))
    for v in inputs.variants:
        v.metrics.update(latency[v.name])
    for m, x in zip(models, inputs.extra, strict=True):
        m.extra = {**latency[m.name], **size_on_disk(Path(x.path))}
    pairs = _pairs(
        (v.name for v in inputs.variants), (m.name for m in inputs.extra), strongest, baseline is not None
    )
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
        baseline=baseline,
    )


def save_per_query(table: Table, path: Path) -> None:
    """Every ranker's per-query metrics (work/per_query.parquet), for plots and later analysis."""
    frame: pd.DataFrame = table.to_frame()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
