"""Per-query metrics of every evaluated ranker and the paired deltas between them.

`Table` keeps, for each ranker and split, the per-query NDCG@10 / reciprocal rank / Recall@10 frame of
`metrics.per_query_metrics`; the means are the record's metrics and the rows are what the paired
bootstrap resamples. Rankers are aligned on query_id, so a delta always compares the same queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.evaluation.intervals import paired_bootstrap
from model.evaluation.metrics import per_query_metrics
from model.evaluation.record import QUALITY_KEYS, Delta

# Record metric name -> per-query column.
_COLUMN = {"ndcg@10": "ndcg@10", "mrr": "rr", "recall@10": "recall@10"}


def means(per_query: pd.DataFrame) -> dict[str, float]:
    """The record's quality metrics from a per-query frame (NaN rows left out, as ranking_metrics)."""
    out = {}
    for metric, column in _COLUMN.items():
        values = per_query[column].dropna()
        out[metric] = float(values.mean()) if len(values) else float("nan")
    out["queries"] = float(len(per_query))
    return out


@dataclass
class Table:
    """Per-query metrics by ranker and split."""

    relevant_gain: float
    samples: int
    confidence: float
    seed: int
    rows: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)

    def add(self, name: str, split: str, frame: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
        """Score `name` on `split`; returns its mean metrics."""
        per = per_query_metrics(frame, scores, k=10, relevant_gain=self.relevant_gain)
        self.rows[(name, split)] = per
        return means(per)

    def has(self, name: str, split: str) -> bool:
        return (name, split) in self.rows

    def delta(self, candidate: str, reference: str, split: str, metric: str) -> Delta:
        a, b = self.rows[(candidate, split)], self.rows[(reference, split)]
        column = _COLUMN[metric]
        joined = (
            a[[column]]
            .rename(columns={column: "a"})
            .join(b[[column]].rename(columns={column: "b"}), how="inner")
        )
        x, y = joined["a"].to_numpy(), joined["b"].to_numpy()
        # Seeded per comparison (not one stream for all), so adding a comparison changes no other.
        seed = self.seed + sum(map(ord, f"{candidate}|{reference}|{split}|{metric}"))
        iv = paired_bootstrap(x, y, self.samples, self.confidence, seed)
        finite = np.isfinite(x) & np.isfinite(y)
        return Delta(
            candidate=candidate,
            reference=reference,
            split=split,
            metric=metric,
            candidate_value=float(x[finite].mean()) if finite.any() else float("nan"),
            reference_value=float(y[finite].mean()) if finite.any() else float("nan"),
            estimate=iv.estimate,
            low=iv.low,
            high=iv.high,
            queries=iv.queries,
            confidence=iv.confidence,
        )

    def deltas(
        self, pairs: Iterable[tuple[str, str]], splits: Iterable[str], metrics: Iterable[str] = QUALITY_KEYS
    ) -> list[Delta]:
        """Every (candidate, reference) pair on every split where both were scored."""
        out = []
        for split in splits:
            for candidate, reference in pairs:
                if candidate != reference and self.has(candidate, split) and self.has(reference, split):
                    out += [self.delta(candidate, reference, split, m) for m in metrics]
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long form (ranker, split, query_id, metric columns), for work/per_query.parquet."""
        parts = [
            per.reset_index().assign(ranker=name, split=split) for (name, split), per in self.rows.items()
        ]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
