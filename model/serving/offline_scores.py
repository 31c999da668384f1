"""The bundle's offline score histogram (`score_histogram.json`, written by `model/release/score_histogram.py`).

The runtime bins live scores with the bundle's own edges and exports the offline counts once per serving
process as the gauge `rankship_offline_scores{bundle_version, le}` (cumulative, like `rankship_scores_total`),
so the canary analysis can compare every version's live scores with its own offline distribution from
Prometheus alone. A bundle without the file (built before it existed) falls back to the edges of
`RANKSHIP_SCORE_BUCKETS` and exports no reference: its drift is then not measurable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from model.release.bundle import SCORES_FILE, BundleInfo
from model.serving import telemetry

OFFLINE = "rankship_offline_scores"


class HistogramError(ValueError):
    """A score_histogram.json that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class OfflineScores:
    edges: tuple[float, ...]
    counts: tuple[int, ...]  # len(edges) + 1, the last above the last edge
    split: str

    def metrics(self, version: str) -> list[telemetry.Metric]:
        """The reference as gauges: cumulative counts per `le` (zero counts omitted, as for live scores)."""
        out, total = [], 0
        for le, count in zip(telemetry.score_bucket_labels(self.edges), self.counts, strict=True):
            total += count
            if total:
                tags = {"bundle_version": version, "le": le}
                out.append({"type": "GAUGE", "key": OFFLINE, "value": total, "tags": tags})
        return out


def load_offline_scores(bundle: BundleInfo) -> OfflineScores | None:
    """The bundle's histogram, None when it has none. Raises HistogramError for a malformed one."""
    if SCORES_FILE not in bundle.files:
        return None
    path = bundle.path / SCORES_FILE
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HistogramError(f"{path}: unreadable: {e}") from e
    edges, counts = (
        doc.get("edges") if isinstance(doc, dict) else None,
        doc.get("counts") if isinstance(doc, dict) else None,
    )
    if not isinstance(edges, list) or not edges or not all(_finite(e) for e in edges):
        raise HistogramError(f"{path}: edges must be a non-empty list of finite numbers")
    if any(b <= a for a, b in pairwise(edges)):
        raise HistogramError(f"{path}: edges must be strictly increasing")
    if not isinstance(counts, list) or len(counts) != len(edges) + 1:
        raise HistogramError(f"{path}: counts must have len(edges) + 1 = {len(edges) + 1} entries")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) or not sum(counts):
        raise HistogramError(f"{path}: counts must be non-negative integers, not all 0")
    return OfflineScores(tuple(float(e) for e in edges), tuple(counts), str(doc.get("split", "")))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
