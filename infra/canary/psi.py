"""Population stability index of the canary's score distribution against stable's.

    PSI = sum over buckets of (p_canary - p_stable) * ln(p_canary / p_stable)

The buckets are the serving runtime's score histogram (`rankship_scores_total{le}`, cumulative counts, one
series per upper bound, the last `+Inf`). Both versions share the edges (a deployment setting), so their
buckets line up. An empty bucket gets probability EPSILON instead of 0, which keeps the logarithm finite
and still makes a bucket that one version fills and the other never touches count heavily.

Rules of thumb (credit scoring, where PSI comes from): < 0.1 no shift, 0.1-0.25 moderate, > 0.25 large.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

EPSILON = 1e-4


def bucket_counts(cumulative: Mapping[float, float], edges: list[float]) -> list[float]:
    """Per-bucket counts from cumulative counts at `edges` (ascending, +inf last).

    An edge missing from `cumulative` had no observation at or below it: the runtime emits a bucket's series
    with its first count, so absence means 0 (below the smallest edge present) or "same as the edge below".
    Counts measured with `increase()` can dip by extrapolation; a negative difference is read as 0.
    """
    counts, below = [], 0.0
    for edge in edges:
        at_or_below = cumulative.get(edge, below)
        counts.append(max(at_or_below - below, 0.0))
        below = max(at_or_below, below)
    return counts


def psi(canary: Mapping[float, float], stable: Mapping[float, float]) -> float | None:
    """PSI of two cumulative histograms keyed by upper bound; None when either is empty."""
    edges = sorted({*canary, *stable})
    c, s = bucket_counts(canary, edges), bucket_counts(stable, edges)
    c_total, s_total = sum(c), sum(s)
    if c_total <= 0 or s_total <= 0:
        return None
    total = 0.0
    for c_n, s_n in zip(c, s, strict=True):
        p_c, p_s = max(c_n / c_total, EPSILON), max(s_n / s_total, EPSILON)
        total += (p_c - p_s) * math.log(p_c / p_s)
    return total
