"""Hand-made series for a real Prometheus (backfilled with promtool): each version's counters grow at a
constant rate, so every number the analyzer reads over a window is worked out by hand.

Every 15 s (rates per second in brackets), for a version with `rps` requests per second:
- rankship_requests_total     += 15 * rps
- rankship_errors_total{code="500"} += 15 * rps * error_ratio
- rankship_inference_seconds_bucket: every request lands in the bucket `latency_le` (0.05 or 0.5),
  so histogram_quantile(0.99) is 0.99 of the way through that bucket: 49.5 ms or 497.5 ms
- rankship_scores_total{le}: 4 scores per request, spread over the buckets in `score_shares`
- rankship_feedback_total += 15 * rps (every answer gets feedback); a share `ctr` of them is clicked, every
  click at position 1 (reciprocal rank 1): clicked, reciprocal-rank and squared sums all += 15 * rps * ctr
- rankship_offline_scores{le}: the bundle's offline histogram, 1000 scores spread EVEN (a constant gauge)
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE, MODEL = "rankship-serving", "search-ranker"
STEP_S = 15
LATENCY_BOUNDS = ("0.05", "0.25", "0.5", "+Inf")
SCORE_BOUNDS = ("-1.0", "0.0", "1.0", "+Inf")
EVEN = (0.25, 0.25, 0.25, 0.25)
ALL_HIGH = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Version:
    version: str
    rps: float
    error_ratio: float = 0.0
    latency_le: str = "0.05"
    score_shares: tuple[float, float, float, float] = EVEN
    ctr: float = 0.5


def _line(name: str, labels: dict[str, str], value: float, at: float) -> str:
    text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{text}}} {value:g} {at:.3f}"


def openmetrics(versions: list[Version], start: float, end: float) -> str:
    """Samples every STEP_S seconds from `start` to `end` (both included) for each version."""
    lines = []
    steps = int((end - start) // STEP_S)
    for v in versions:
        base = {"namespace": NAMESPACE, "rankship_model": MODEL, "bundle_version": v.version}
        for i in range(steps + 1):
            at = start + i * STEP_S
            requests = i * STEP_S * v.rps
            lines.append(_line("rankship_requests_total", base, requests, at))
            lines.append(
                _line("rankship_errors_total", {**base, "code": "500"}, requests * v.error_ratio, at)
            )
            seen = False
            for le in LATENCY_BOUNDS:
                seen = seen or le == v.latency_le
                labels = {**base, "le": le}
                lines.append(_line("rankship_inference_seconds_bucket", labels, requests if seen else 0, at))
            cumulative = offline = 0.0
            for le, share, even in zip(SCORE_BOUNDS, v.score_shares, EVEN, strict=True):
                cumulative, offline = cumulative + share, offline + even
                lines.append(
                    _line("rankship_scores_total", {**base, "le": le}, 4 * requests * cumulative, at)
                )
                lines.append(_line("rankship_offline_scores", {**base, "le": le}, 1000 * offline, at))
            lines.append(_line("rankship_feedback_total", base, requests, at))
            for name in ("clicked", "reciprocal_rank", "reciprocal_rank_squared"):
                lines.append(_line(f"rankship_feedback_{name}_total", base, requests * v.ctr, at))
    # OpenMetrics wants each series' samples together and in time order; sorting by name keeps that.
    lines.sort(key=lambda line: (line.rsplit(" ", 2)[0], float(line.rsplit(" ", 1)[1])))
    return "\n".join(lines) + "\n# EOF\n"
