"""Seldon custom metrics of one request, as the `meta.metrics` list that Seldon turns into Prometheus.

seldon-core 1.17.1 (seldon_core/metrics.py) exposes, per key, on the metrics port:

    COUNTER key k -> `k_total`      (value added up per worker)
    TIMER   key k -> `k_bucket{le}`, `k_sum`, `k_count` (value in ms; seconds buckets 0.001..30)

and adds its own labels to every series: method="predict", worker_id, deployment_name, model_name,
model_image, model_version (the *image* tag), predictor_name, predictor_version, and the 1.3-compat
copies. Because Seldon's `model_version` label overrides a tag of the same name, ours is called
`bundle_version` (the bundle version, the same 12 hex chars as `meta.tags.model_version`).

Series (each also labelled bundle_version):

    rankship_requests_total                  prediction requests answered (ok or not)
    rankship_errors_total{reason,code}       failed requests: contract.BadRequest reason and HTTP status
                                             (4xx: the client's input; 5xx: ours, incl. reason="internal")
    rankship_candidates_total                candidates scored (mean per request = ratio to ok requests)
    rankship_inference_seconds_bucket{le}    time inside the model class per scored request
    rankship_scores_total{le}                cumulative count of scores <= le (a Prometheus histogram
                                             layout: histogram_quantile and PSI work on it)
    rankship_product_cache_hits_total        candidates whose product tokens came from the cache
    rankship_product_cache_misses_total      candidates tokenized afresh (hit rate = hits / both)

The interleaving combiner (`model/serving/combiner.py`) and, for feedback that reaches another predictor,
the ranker count one outcome per interleaved impression with feedback (labelled by the pair instead):

    rankship_interleaving_total{stable_version, canary_version, winner}   winner: stable, canary or tie

Seldon drops a metric whose value is 0 in the gRPC path (proto3 omits zeros and Seldon then fails on
the missing value), so zero increments are never emitted: a score bucket's series appears with its
first count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client.utils import floatToGoString

REQUESTS = "rankship_requests"
ERRORS = "rankship_errors"
CANDIDATES = "rankship_candidates"
INFERENCE = "rankship_inference_seconds"
SCORES = "rankship_scores"
INTERLEAVING = "rankship_interleaving"
CACHE_HITS = "rankship_product_cache_hits"
CACHE_MISSES = "rankship_product_cache_misses"
UNKNOWN_VERSION = "unknown"

Metric = dict[str, Any]


def _counter(key: str, value: float, tags: dict[str, str]) -> Metric:
    return {"type": "COUNTER", "key": key, "value": value, "tags": tags}


def score_bucket_labels(edges: Sequence[float]) -> list[str]:
    """The `le` label values: Prometheus's own float formatting, then +Inf."""
    return [floatToGoString(e) for e in edges] + ["+Inf"]


def request_metrics(
    version: str, elapsed_ms: float, scores: npt.NDArray[np.float32], edges: Sequence[float]
) -> list[Metric]:
    """Metrics of one scored request."""
    base = {"bundle_version": version}
    out = [
        _counter(REQUESTS, 1, dict(base)),
        _counter(CANDIDATES, int(scores.size), dict(base)),
        {"type": "TIMER", "key": INFERENCE, "value": elapsed_ms, "tags": dict(base)},
    ]
    # Cumulative counts: scores <= each edge, found with one sort instead of one pass per edge.
    at_or_below = np.searchsorted(np.sort(scores), np.asarray(edges, dtype=np.float64), side="right")
    counts = [*at_or_below.tolist(), int(scores.size)]
    for le, count in zip(score_bucket_labels(edges), counts, strict=True):
        if count:
            out.append(_counter(SCORES, count, {**base, "le": le}))
    return out


def error_metrics(version: str, failures: Mapping[tuple[str, int], int]) -> list[Metric]:
    """Metrics of failed requests: (reason, HTTP status) -> how many; each also counts as a request."""
    base = {"bundle_version": version}
    out = [
        _counter(ERRORS, n, {**base, "reason": reason, "code": str(status)})
        for (reason, status), n in sorted(failures.items())
        if n
    ]
    total = sum(failures.values())
    if total:
        out.append(_counter(REQUESTS, total, dict(base)))
    return out


def interleaving_metrics(stable_version: str, canary_version: str, winner: str) -> list[Metric]:
    """One interleaved impression's outcome (see `model.serving.interleaving.credit`)."""
    tags = {"stable_version": stable_version, "canary_version": canary_version, "winner": winner}
    return [_counter(INTERLEAVING, 1, tags)]


def cache_metrics(version: str, hits: int, misses: int) -> list[Metric]:
    """The product cache's hits and misses since the last report (zero increments are not emitted)."""
    base = {"bundle_version": version}
    pairs = ((CACHE_HITS, hits), (CACHE_MISSES, misses))
    return [_counter(key, n, dict(base)) for key, n in pairs if n]
