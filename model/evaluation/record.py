"""What one pipeline run measured: the single record that metrics.json, the report and the gate share.

Two splits are measured and kept apart: the selection split (`selection_split`, valid) is what the gate
judges and what picks the shipped variant; the test split is scored once and only reported. So a
variant's `metrics` holds selection-split quality plus size and latency (the gate's inputs), and
`test_metrics` its test quality.

Everything evaluated that is not a shippable variant is a `ModelResult` in `models`, with its metrics
per split: the lexical baselines, the production bundle, and any extra model another step registers
(model/evaluation/extra.py: a teacher, a distilled student, a from-scratch student...). Every delta
the report or the gate shows is a `Delta` with its paired-bootstrap interval.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.evaluation.gate import Check, Verdict

QUALITY_KEYS = ("ndcg@10", "mrr", "recall@10")
# Roles of a ModelResult; "model" is a learned ranker that is not a shippable variant.
LEXICAL, PRODUCTION, MODEL = "lexical", "production", "model"


@dataclass
class VariantResult:
    """One model variant and what evaluation measured for it."""

    name: str
    kind: str  # "savedmodel" | "tflite"
    path: str
    parent: str | None = None
    notes: str = ""
    # Selection-split ndcg@10, mrr, recall@10; size_bytes, size_gzip_bytes; latency_* (median of rounds)
    metrics: dict[str, float] = field(default_factory=dict)
    # Test-split ndcg@10, mrr, recall@10 (reported, never judged)
    test_metrics: dict[str, float] = field(default_factory=dict)
    # w of the ranker's score = model + w * BM25 (model/evaluation/fusion.py), chosen on the selection
    # split; the quality metrics above are those of that sum. 0: the model alone.
    fusion_weight: float = 0.0

    @property
    def shippable(self) -> bool:
        return self.kind == "tflite"


@dataclass
class ModelResult:
    """A ranker evaluated beside the variants: metrics per split ("valid", "test") plus latency/size."""

    name: str
    role: str  # LEXICAL | PRODUCTION | MODEL
    metrics: dict[str, dict[str, float]]
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)  # latency_*, size_* where measured


@dataclass
class BaselineResult:
    """The model in production, re-scored on this run's splits so the comparison is like for like.

    `metrics` are on the selection split (the gate's reference), `test_metrics` on the test split.
    `overlap` says how many of this run's evaluation queries production was trained on (None: the
    bundle records no split membership, so the comparison's fairness is unknown)."""

    bundle_id: str
    metrics: dict[str, float]
    test_metrics: dict[str, float] = field(default_factory=dict)
    overlap: dict[str, Any] | None = None


@dataclass
class Delta:
    """candidate - reference on one split and metric, with its paired-bootstrap interval."""

    candidate: str
    reference: str
    split: str
    metric: str
    candidate_value: float
    reference_value: float
    estimate: float
    low: float
    high: float
    queries: int
    confidence: float


@dataclass
class RunRecord:
    preset: str
    data_source: str
    splits: dict[str, dict[str, int]]
    variants: list[VariantResult]
    history: dict[str, list[float]]
    qat_outcome: str
    models: list[ModelResult] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    selection_split: str = "valid"
    relevant_gain: float = 2.0
    strongest_lexical: str = "bm25"
    baseline: BaselineResult | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    shipped: str | None = None
    bundle_id: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    # Data card (model/data/card.py), lexical-baseline facts, latency setup, lineage fingerprint.
    data_card: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"no variant named {name!r}; have {[v.name for v in self.variants]}")

    def model(self, name: str) -> ModelResult:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(f"no evaluated model named {name!r}; have {[m.name for m in self.models]}")

    @property
    def bm25(self) -> dict[str, float]:
        """BM25's test metrics (what the report's headline compares with)."""
        return self.model("bm25").metrics.get("test", {})

    def metrics_of(self, name: str, split: str) -> dict[str, float]:
        """Quality of a variant or a model on a split ("test" or the selection split)."""
        for v in self.variants:
            if v.name == name:
                return v.test_metrics if split == "test" else v.metrics
        return self.model(name).metrics.get(split, {})

    def delta(self, candidate: str, reference: str, split: str, metric: str) -> Delta | None:
        for d in self.deltas:
            if (d.candidate, d.reference, d.split, d.metric) == (candidate, reference, split, metric):
                return d
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        raw: dict[str, Any] = json.loads(text)
        raw["variants"] = [VariantResult(**v) for v in raw["variants"]]
        raw["models"] = [ModelResult(**m) for m in raw.get("models", [])]
        raw["deltas"] = [Delta(**d) for d in raw.get("deltas", [])]
        if raw.get("baseline"):
            raw["baseline"] = BaselineResult(**raw["baseline"])
        raw["verdicts"] = {
            name: Verdict(variant=v["variant"], checks=tuple(Check(**c) for c in v["checks"]))
            for name, v in raw.get("verdicts", {}).items()
        }
        return cls(**raw)

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
