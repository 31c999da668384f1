"""The shipped model's own offline score histogram (`score_histogram.json` in the bundle).

    {"split": "valid", "scores": <how many>, "edges": [e1, ..., ek], "counts": [c1, ..., ck, c_inf]}

`edges` are upper bounds (a score s falls in the first bucket with s <= edge, Prometheus `le` semantics),
chosen from this model's own score quantiles, so every bucket holds about the same share offline whatever
the model's scale; `counts` has one more entry, for scores above the last edge. The serving runtime uses
these edges for its live histogram (`rankship_scores_total{le}`) and exports the counts
(`rankship_offline_scores{le}`), so the canary analysis compares each version's live scores with its own
offline ones (training-serving skew), never one model's scale with another's.
"""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt

BUCKETS = 10  # deciles: PSI's usual resolution, and at least ~50 offline scores a bucket on the tiny preset


def score_histogram(scores: npt.ArrayLike, split: str, buckets: int = BUCKETS) -> dict[str, object]:
    """The histogram payload of `scores` with `buckets` equal-mass buckets (fewer when scores repeat)."""
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if values.size < buckets or not np.isfinite(values).all():
        raise ValueError(f"need >= {buckets} finite scores for the offline histogram, got {values.size}")
    inner = np.quantile(values, np.arange(1, buckets) / buckets)
    # float32 round trip: the served scores are float32, and an edge must compare the same way online.
    edges = np.unique(inner.astype(np.float32).astype(np.float64))
    at_or_below = np.searchsorted(np.sort(values), edges, side="right")
    counts = np.diff(np.concatenate([[0], at_or_below, [values.size]]))
    return {"split": split, "scores": int(values.size), "edges": edges.tolist(), "counts": counts.tolist()}


def histogram_bytes(scores: npt.ArrayLike, split: str) -> bytes:
    return (json.dumps(score_histogram(scores, split), indent=2) + "\n").encode("utf-8")
