"""Ask Prometheus for the numbers of the last `failure_threshold` evaluations of one canary.

One range query per measurement (step = `interval`) answers every evaluation at once; each point is the
value over the `window` that ends at that time. The result is plain data that `decide` judges.

A model with an interleaving predictor (`canary.interleave`) also gets its interleaving outcomes per
evaluation time, over the interleaving's own (longer) window (`infra/canary/interleaving.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from infra.canary.interleaving import InterleavingResult, measure_interleaving
from infra.canary.online import Feedback
from infra.canary.prometheus import PrometheusError, Series
from infra.canary.queries import Query, Target, queries
from infra.settings.serving import CanaryAnalysis, Interleave

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """A Prometheus duration as used in the settings (`30s`, `5m`, `1h`, `2d`) in seconds."""
    match = re.fullmatch(r"([1-9]\d*)([smhd])", duration)
    if match is None:
        raise ValueError(f"not a duration like 30s, 5m, 1h: {duration!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class VersionSample:
    """One version over one window. None: Prometheus has no such series (nothing measured)."""

    requests: float | None = None
    errors: float | None = None
    p99_s: float | None = None
    exec_requests: float | None = None
    exec_errors: float | None = None
    exec_p99_s: float | None = None
    mesh_requests: float | None = None
    mesh_errors: float | None = None
    mesh_p99_s: float | None = None
    scores: Mapping[float, float] = field(default_factory=dict)  # le -> cumulative count
    offline: Mapping[float, float] = field(
        default_factory=dict
    )  # the bundle's offline histogram, same layout
    feedback: Feedback | None = None  # None: no feedback counted in the window


@dataclass(frozen=True)
class Evaluation:
    at: float  # unix time at which the window ends
    window: str
    canary: VersionSample
    stable: VersionSample
    interleaving: InterleavingResult | None = None  # None: the model has no interleaving predictor


class RangeQuerier(Protocol):
    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]: ...


def evaluation_times(analysis: CanaryAnalysis, end: float) -> list[float]:
    """The ends of the evaluation windows, newest first: end, end - interval, ..."""
    step = seconds(analysis.interval)
    return [end - i * step for i in range(analysis.failure_threshold)]


def measure(
    prom: RangeQuerier,
    target: Target,
    analysis: CanaryAnalysis,
    end: float,
    interleave: Interleave | None = None,
) -> list[Evaluation]:
    """Evaluations newest first (raises PrometheusError when Prometheus fails or answers garbage).
    `interleave`: the model's interleaving predictor, whose outcomes each evaluation then carries."""
    times = evaluation_times(analysis, end)
    step = seconds(analysis.interval)
    answers = {
        q.name: (q, prom.range_query(q.expr, times[-1], times[0], step))
        for q in queries(target, analysis.window, analysis.feedback_window)
    }
    interleaved: list[InterleavingResult | None] = (
        list(measure_interleaving(prom, target, interleave, times)) if interleave else [None] * len(times)
    )
    return [
        Evaluation(
            at=t,
            window=analysis.window,
            canary=_sample(answers, t, target, target.canary_version),
            stable=_sample(answers, t, target, target.stable_version),
            interleaving=result,
        )
        for t, result in zip(times, interleaved, strict=True)
    ]


def _sample(
    answers: Mapping[str, tuple[Query, list[Series]]], at: float, target: Target, version: str
) -> VersionSample:
    def values(name: str) -> list[float]:
        query, series = answers[name]
        found = [_point(s, at) for s in series if target.version_of(query, s.labels) == version]
        return [v for v in found if v is not None]

    def scalar(name: str) -> float | None:
        found = values(name)
        if len(found) > 1:
            query = answers[name][0]
            raise PrometheusError(f"query {query.expr!r}: {len(found)} series for {query.key}={version!r}")
        return found[0] if found else None

    def mesh(name: str, combine: Callable[[list[float]], float]) -> float | None:
        # One series per (Service, revision): requests that found no pod ride under revision "unknown".
        found = values(name)
        return combine(found) if found else None

    names = ("requests", "errors", "p99", "exec_requests", "exec_errors", "exec_p99")
    r, e, p, xr, xe, xp = (scalar(n) for n in names)
    mesh_p99_ms = mesh("mesh_p99_ms", max)
    return VersionSample(
        r, e, p, xr, xe, xp,
        mesh_requests=mesh("mesh_requests", sum), mesh_errors=mesh("mesh_errors", sum),
        mesh_p99_s=None if mesh_p99_ms is None else mesh_p99_ms / 1000.0,
        scores=_histogram(answers["scores"], at, version), offline=_histogram(answers["offline"], at, version),
        feedback=_feedback(scalar),
    )  # fmt: skip


def _histogram(answer: tuple[Query, list[Series]], at: float, version: str) -> dict[float, float]:
    query, series = answer
    out = {}
    for s in series:
        value = _point(s, at)
        if s.labels.get(query.key) == version and value is not None:
            out[_bound(query, s.labels.get("le"))] = value
    return out


def _feedback(scalar: Callable[[str], float | None]) -> Feedback | None:
    n = scalar("feedback")
    if not n:
        return None
    # Counters appear with their first increment: a missing one counted nothing.
    return Feedback(n, scalar("clicked") or 0.0, scalar("rr_sum") or 0.0, scalar("rr_sq_sum") or 0.0)


def _point(series: Series, at: float) -> float | None:
    # Prometheus returns the step times it was asked for; compare at millisecond precision.
    for t, value in series.points.items():
        if abs(t - at) < 1e-3:
            return value
    return None


def _bound(query: Query, le: str | None) -> float:
    if le is None:
        raise PrometheusError(f"query {query.expr!r}: a score series has no `le` label")
    try:
        return float(le)
    except ValueError as e:
        raise PrometheusError(f"query {query.expr!r}: bucket bound le={le!r} is not a number") from e
