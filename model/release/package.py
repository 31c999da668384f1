"""Gate the evaluated variants, package the smallest passing one as a bundle, write the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model import pipeline as pl
from model.config import PipelineConfig
from model.evaluation.gate import choose_shipped, judge
from model.evaluation.record import RunRecord
from model.release.bundle import SCORES_FILE, BundleInfo, write_bundle
from model.release.report import write_report

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


def gate_record(record: RunRecord, cfg: PipelineConfig) -> RunRecord:
    fp32 = record.variant("fp32").metrics
    baseline = record.baseline.metrics if record.baseline else None
    record.verdicts = {v.name: judge(v.name, v.metrics, cfg.gate, fp32, baseline) for v in record.variants}
    sizes = {v.name: v.metrics["size_gzip_bytes"] for v in record.variants if v.shippable}
    record.shipped = choose_shipped(record.verdicts, sizes)
    return record


def model_card(record: RunRecord, cfg: PipelineConfig) -> str:
    assert record.shipped is not None
    shipped = record.variant(record.shipped)
    m = shipped.metrics
    return "\n".join(
        [
            "# Model card: rankship Transformer cross-encoder",
            "",
            f"- Variant: `{shipped.name}` ({shipped.notes or shipped.kind}); parent `{shipped.parent}`",
            f"- Architecture: {cfg.ranker.layers} encoder layers, width {cfg.ranker.width}, "
            f"{cfg.ranker.heads} heads; hashed word + char n-gram tokenizer ({cfg.tokenizer.buckets} buckets)",
            f"- Training data: `{record.data_source}` (preset `{record.preset}`); loss `{cfg.train.loss}`",
            f"- Test split: NDCG@10 {m.get('ndcg@10', float('nan')):.4f}, MRR {m.get('mrr', float('nan')):.4f}, "
            f"Recall@10 {m.get('recall@10', float('nan')):.4f}; BM25 NDCG@10 {record.bm25['ndcg@10']:.4f}",
            f"- Latency (1 query x {cfg.evaluate.latency_candidates} candidates, in-process LiteRT): "
            f"p50 {m.get('latency_p50_ms', 0):.2f} ms, p99 {m.get('latency_p99_ms', 0):.2f} ms",
            f"- Quantization-aware training: {record.qat_outcome}",
            "- Intended use: re-ranking a few hundred retrieved candidates per query; not a retriever.",
            "- Limits: relevance is learned from the training judgements only; texts are truncated to "
            f"{cfg.tokenizer.max_query_words} query and {cfg.tokenizer.max_product_words} product words.",
            "",
        ]
    )


def golden_file(ws: pl.Workspace, tflite: Path, cfg: PipelineConfig) -> bytes:
    """golden.json: a few test requests with the scores `tflite` gave them offline."""
    from model.evaluation.evaluate import encode_split, golden_requests
    from model.evaluation.scoring import open_scorer
    from model.text.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(ws.tokenizer)
    test = encode_split(pl.load_splits(ws).test, tokenizer)
    score = open_scorer(tflite, "tflite", cfg.evaluate.litert_threads).score
    requests = golden_requests(test, tokenizer, score, cfg.evaluate.golden_requests)
    payload = {"tolerance": {"absolute": GOLDEN_TOLERANCE}, "requests": requests}
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8")


def score_histogram_file(ws: pl.Workspace, tflite: Path, cfg: PipelineConfig) -> bytes:
    """score_histogram.json: `tflite`'s scores on the validation split (the split the pipeline selects on)."""
    from model.evaluation.evaluate import encode_split, score_split
    from model.evaluation.scoring import open_scorer
    from model.release.score_histogram import histogram_bytes
    from model.text.tokenizer import Tokenizer

    valid = encode_split(pl.load_splits(ws).valid, Tokenizer.load(ws.tokenizer))
    scorer = open_scorer(tflite, "tflite", cfg.evaluate.litert_threads)
    return histogram_bytes(score_split(valid, scorer.score, progress=False), "valid")


def step_package(
    cfg: PipelineConfig, ws: pl.Workspace, timings: dict[str, float] | None = None
) -> PackageResult:
    """Gate, bundle, report. `timings` (step -> seconds, this process) are added to the record."""
    record = gate_record(RunRecord.load(pl.require(ws.record, "evaluate")), cfg)
    record.timings_s.update(timings or {})
    bundle = None
    if record.shipped is not None:
        shipped = record.variant(record.shipped)
        bundle = write_bundle(
            {
                "model.tflite": Path(shipped.path),
                "tokenizer.json": ws.tokenizer,
                "config.json": pl.require(ws.config, "data"),
                # metrics.json inside the bundle cannot name the bundle's own id (it is a hash of it).
                "metrics.json": record.to_json().encode("utf-8"),
                "golden.json": golden_file(ws, Path(shipped.path), cfg),
                SCORES_FILE: score_histogram_file(ws, Path(shipped.path), cfg),
                "MODEL_CARD.md": model_card(record, cfg).encode("utf-8"),
            },
            ws.bundles,
        )
        record.bundle_id = bundle.bundle_id
    report = write_report(record, ws.report)
    (ws.report / "metrics.json").write_text(record.to_json(), encoding="utf-8")
    pl.write_json(
        ws.latest,
        {
            "bundle_id": bundle.bundle_id if bundle else None,
            "version": bundle.version if bundle else None,
            "bundle_path": str(bundle.path) if bundle else None,
            "report_path": str(report),
            "gate_passed": bundle is not None,
        },
    )
    return PackageResult(record, report, bundle)
