"""Gate the evaluated variants, package the smallest passing one as a bundle, write the report.

The bundle (`bundles/<id>/`) holds what is served and only that, so the same trained model gives the
same id whatever the machine measured: model.tflite, tokenizer.json, config.json, golden.json (served
scores must match them) and lineage.json (the data fingerprint and split membership a later run checks
its comparison against). What this run measured (metrics.json, MODEL_CARD.md: latencies, intervals,
verdicts) lives beside it in `bundles/<id>.run/`, outside the hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import pipeline as pl
from model.config import GateConfig, PipelineConfig
from model.evaluation.gate import Check, Intervals, Verdict, choose_shipped, judge
from model.evaluation.record import RunRecord
from model.release.bundle import LEXICAL_FILE, LINEAGE_FILE, SCORES_FILE, BundleInfo, write_bundle
from model.release.bundle import run_dir as run_dir_of
from model.release.report import write_report
from model.text.lexical import LexicalIndex

# Served scores must match the offline ones this closely (same LiteRT flatbuffer, same tokenizer: any
# larger gap means the serving path changed the input, e.g. a tokenizer or runtime mismatch).
GOLDEN_TOLERANCE = 1e-3


@dataclass(frozen=True)
class PackageResult:
    record: RunRecord
    report: Path
    bundle: BundleInfo | None

    @property
    def passed(self) -> bool:
        return self.bundle is not None


def _intervals(record: RunRecord, variant: str) -> Intervals:
    refs = {"vs_fp32": "fp32", "vs_lexical": record.strongest_lexical, "vs_baseline": "production"}
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for check, ref in refs.items():
        out[check] = {
            d.metric: (d.low, d.high)
            for d in record.deltas
            if d.candidate == variant and d.reference == ref and d.split == record.selection_split
        }
    if variant == "fp32":  # the reference itself: no change, no uncertainty
        out["vs_fp32"] = {m: (0.0, 0.0) for m in ("ndcg@10", "mrr", "recall@10")}
    return out


def _refuse_overlap(verdict: Verdict, record: RunRecord) -> Verdict:
    overlap = record.baseline.overlap if record.baseline else None
    if not overlap or not overlap.get("any"):
        return verdict
    seen = ", ".join(
        f"{overlap[s]['seen_by_production']} of {overlap[s]['queries']} {s}" for s in ("valid", "test")
    )
    check = Check(
        "vs_baseline", "overlap", None, 0.0, "fail", f"production trained/selected on {seen} queries"
    )
    return Verdict(verdict.variant, (*verdict.checks, check))


def changed_bounds(gate: GateConfig) -> list[str]:
    """`gate.<key>: default -> used` for every gate setting that is not the default (the report shows
    them, so a preset that relaxes the gate says so)."""

    def leaves(value: Any, key: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return {k: v for name, sub in value.items() for k, v in leaves(sub, f"{key}.{name}").items()}
        return {key: value}

    default, used = (
        leaves(GateConfig().model_dump(mode="json"), "gate"),
        leaves(gate.model_dump(mode="json"), "gate"),
    )
    return [
        f"{k}: {default.get(k)} -> {used.get(k)}"
        for k in sorted(set(default) | set(used))
        if default.get(k) != used.get(k)
    ]


def gate_record(record: RunRecord, cfg: PipelineConfig) -> RunRecord:
    """Judge every variant on the selection split and choose the smallest passing LiteRT variant."""
    record.notes["relaxed_bounds"] = changed_bounds(cfg.gate)
    fp32 = record.variant("fp32").metrics
    baseline = record.baseline.metrics if record.baseline else None
    lexical = record.metrics_of(record.strongest_lexical, record.selection_split)
    record.verdicts = {}
    for v in record.variants:
        verdict = judge(v.name, v.metrics, cfg.gate, fp32, baseline, lexical, _intervals(record, v.name))
        if cfg.gate.production_overlap == "refuse":
            verdict = _refuse_overlap(verdict, record)
        record.verdicts[v.name] = verdict
    sizes = {v.name: v.metrics["size_gzip_bytes"] for v in record.variants if v.shippable}
    record.shipped = choose_shipped(record.verdicts, sizes)
    return record


def model_card(record: RunRecord, cfg: PipelineConfig) -> str:
    assert record.shipped is not None
    shipped = record.variant(record.shipped)
    m, t = shipped.metrics, shipped.test_metrics
    return "\n".join(
        [
            "# Model card: rankship Transformer cross-encoder",
            "",
            f"- Variant: `{shipped.name}` ({shipped.notes or shipped.kind}); parent `{shipped.parent}`",
            f"- Architecture: {cfg.ranker.layers} encoder layers, width {cfg.ranker.width}, "
            f"{cfg.ranker.heads} heads; hashed word + char n-gram tokenizer ({cfg.tokenizer.buckets} buckets)",
            f"- Training data: `{record.data_source}` (preset `{record.preset}`); loss `{cfg.train.loss}`",
            f"- Test split: NDCG@10 {t.get('ndcg@10', float('nan')):.4f}, MRR {t.get('mrr', float('nan')):.4f}, "
            f"Recall@10 {t.get('recall@10', float('nan')):.4f}; BM25 NDCG@10 {record.bm25['ndcg@10']:.4f}; "
            f"strongest lexical baseline `{record.strongest_lexical}` "
            f"{record.metrics_of(record.strongest_lexical, 'test').get('ndcg@10', float('nan')):.4f}",
            f"- Latency (1 query x {cfg.evaluate.latency_candidates} candidates, LiteRT, "
            f"{cfg.evaluate.threads} thread(s), median of {cfg.evaluate.latency_rounds} rounds): "
            f"p50 {m.get('latency_p50_ms', 0):.2f} ms, p99 {m.get('latency_p99_ms', 0):.2f} ms",
            f"- Served score: model + {shipped.fusion_weight:.3g} × BM25 over the catalog (lexical.json; "
            "w chosen on the validation split, 0 = the model alone)",
            f"- Quantization-aware training: {record.qat_outcome}",
            "- Intended use: re-ranking a few hundred retrieved candidates per query; not a retriever.",
            "- Limits: relevance is learned from the training judgements only; texts are truncated to "
            f"{cfg.tokenizer.max_query_words} query and {cfg.tokenizer.max_product_words} product words.",
            "",
        ]
    )


def shipped_lexical(ws: pl.Workspace, weight: float) -> LexicalIndex | None:
    """The run's catalog statistics with the shipped variant's w (None when fusion was off)."""
    if not ws.lexical.exists():
        return None
    return LexicalIndex.from_json(ws.lexical.read_text(encoding="utf-8"), str(ws.lexical)).with_weight(weight)


def golden_file(
    ws: pl.Workspace, tflite: Path, cfg: PipelineConfig, lexical: LexicalIndex | None = None
) -> bytes:
    """golden.json: a few validation requests with the scores the shipped ranker gave them offline."""
    from model.evaluation.evaluate import encode_split, golden_requests
    from model.evaluation.scoring import open_scorer
    from model.text.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(ws.tokenizer)
    # From the selection split: packaging never reads the test split again.
    valid = encode_split(pl.load_splits(ws).valid, tokenizer)
    score = open_scorer(tflite, "tflite", cfg.evaluate.threads).score
    requests = golden_requests(valid, tokenizer, score, cfg.evaluate.golden_requests, lexical=lexical)
    payload = {"tolerance": {"absolute": GOLDEN_TOLERANCE}, "requests": requests}
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8")


def score_histogram_file(
    ws: pl.Workspace, tflite: Path, cfg: PipelineConfig, lexical: LexicalIndex | None = None
) -> bytes:
    """score_histogram.json: the shipped ranker's scores on the validation split (the split the pipeline
    selects on): `tflite`'s, plus weight * BM25 with `lexical`."""
    from model.evaluation.evaluate import encode_split, score_split
    from model.evaluation.fusion import lexical_scores
    from model.evaluation.scoring import open_scorer
    from model.release.score_histogram import histogram_bytes
    from model.text.tokenizer import Tokenizer

    valid = encode_split(pl.load_splits(ws).valid, Tokenizer.load(ws.tokenizer))
    scorer = open_scorer(tflite, "tflite", cfg.evaluate.threads)
    scores = score_split(valid, scorer.score, progress=False)
    if lexical is not None and lexical.weight:
        # As served: float32 model + float32 weight * float32 BM25 (LexicalIndex.fuse).
        bm25 = lexical_scores(lexical, valid.frame).astype(np.float32)
        scores = (scores.astype(np.float32) + np.float32(lexical.weight) * bm25).astype(np.float64)
    return histogram_bytes(scores, "valid")


def run_dir(bundle: BundleInfo) -> Path:
    """Where a bundle's measured figures live: beside it, outside its hash."""
    return run_dir_of(bundle.path)


def _write_run(directory: Path, record: RunRecord, cfg: PipelineConfig) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("metrics.json", record.to_json()), ("MODEL_CARD.md", model_card(record, cfg))):
        tmp = directory / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(directory / name)


def step_package(
    cfg: PipelineConfig, ws: pl.Workspace, timings: dict[str, float] | None = None
) -> PackageResult:
    """Gate, bundle, report. `timings` (step -> seconds, this process) are added to the record."""
    record = gate_record(RunRecord.load(pl.require(ws.record, "evaluate")), cfg)
    record.timings_s.update(timings or {})
    bundle = None
    if record.shipped is not None:
        shipped = record.variant(record.shipped)
        lexical = shipped_lexical(ws, shipped.fusion_weight)
        contents: dict[str, bytes | Path] = {
            "model.tflite": Path(shipped.path),
            "tokenizer.json": ws.tokenizer,
            "config.json": pl.require(ws.config, "data"),
            "golden.json": golden_file(ws, Path(shipped.path), cfg, lexical),
            SCORES_FILE: score_histogram_file(ws, Path(shipped.path), cfg, lexical),
            LINEAGE_FILE: pl.require(ws.lineage, "data"),
        }
        if lexical is not None:
            contents[LEXICAL_FILE] = lexical.to_json().encode("utf-8")
        bundle = write_bundle(contents, ws.bundles)
        record.bundle_id = bundle.bundle_id
        _write_run(run_dir(bundle), record, cfg)
    report = write_report(record, ws.report)
    (ws.report / "metrics.json").write_text(record.to_json(), encoding="utf-8")
    pl.write_json(
        ws.latest,
        {
            "bundle_id": bundle.bundle_id if bundle else None,
            "version": bundle.version if bundle else None,
            "bundle_path": str(bundle.path) if bundle else None,
            "run_path": str(run_dir(bundle)) if bundle else None,
            "report_path": str(report),
            "gate_passed": bundle is not None,
        },
    )
    return PackageResult(record, report, bundle)
