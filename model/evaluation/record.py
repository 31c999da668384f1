"""What one pipeline run measured: the single record that metrics.json, the report and the gate share."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.evaluation.gate import Check, Verdict


@dataclass
class VariantResult:
    """One model variant and what evaluation measured for it."""

    name: str
    kind: str  # "savedmodel" | "tflite"
    path: str
    parent: str | None = None
    notes: str = ""
    # ndcg@10, mrr, recall@10, size_bytes, size_gzip_bytes, latency_p50_ms, latency_p99_ms
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def shippable(self) -> bool:
        return self.kind == "tflite"


@dataclass
class BaselineResult:
    """The model in production, re-scored on this run's test split so the comparison is like for like."""

    bundle_id: str
    metrics: dict[str, float]


@dataclass
class RunRecord:
    preset: str
    data_source: str
    splits: dict[str, dict[str, int]]
    variants: list[VariantResult]
    bm25: dict[str, float]
    history: dict[str, list[float]]
    qat_outcome: str
    baseline: BaselineResult | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    shipped: str | None = None
    bundle_id: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def variant(self, name: str) -> VariantResult:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"no variant named {name!r}; have {[v.name for v in self.variants]}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        raw: dict[str, Any] = json.loads(text)
        raw["variants"] = [VariantResult(**v) for v in raw["variants"]]
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
