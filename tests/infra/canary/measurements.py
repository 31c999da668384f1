"""Hand-made measurements for the decision tests (numbers chosen so that every threshold is easy to check)."""

from __future__ import annotations

import math

from infra.canary.measure import Evaluation, VersionSample
from infra.canary.online import Feedback

INF = math.inf
# 1000 scores: 250 in each of four buckets (cumulative counts at -1, 0, 1, +Inf).
EVEN = {-1.0: 250.0, 0.0: 500.0, 1.0: 750.0, INF: 1000.0}
# The same shape scaled: identical proportions, so PSI is exactly 0.
EVEN_SMALL = {-1.0: 25.0, 0.0: 50.0, 1.0: 75.0, INF: 100.0}
# Every score in the top bucket: what an untrained model with a constant output looks like.
ALL_HIGH = {1.0: 0.0, INF: 1000.0}
# Users: 2000 impressions, half clicked, every click at position 1 (CTR 0.5, MRR 0.5, s^2 = 0.25).
CLICKS = Feedback(2000, 1000, 1000, 1000)


def sample(
    requests: float | None = 1000,
    errors: float | None = 0,
    p99_ms: float | None = 50,
    scores: dict[float, float] | None = None,
    executor: tuple[float, float, float] | None = None,
    feedback: Feedback | None = CLICKS,
    offline: dict[float, float] | None = None,
) -> VersionSample:
    """A version's window; `executor` is (requests, errors, p99 ms) as the Seldon executor saw them."""
    ex_req, ex_err, ex_p99 = executor if executor else (None, None, None)
    return VersionSample(
        requests=requests,
        errors=errors,
        p99_s=None if p99_ms is None else p99_ms / 1000,
        exec_requests=ex_req,
        exec_errors=ex_err,
        exec_p99_s=None if ex_p99 is None else ex_p99 / 1000,
        scores=EVEN if scores is None else scores,
        offline=EVEN if offline is None else offline,  # the version's own offline histogram
        feedback=feedback,
    )


def evaluation(canary: VersionSample, stable: VersionSample | None = None, at: float = 0.0) -> Evaluation:
    return Evaluation(at=at, window="2m", canary=canary, stable=stable or sample(requests=9000))


def history(*canaries: VersionSample, end: float = 1_800_000_000.0, step: float = 60.0) -> list[Evaluation]:
    """Evaluations newest first, one `step` apart, each against a healthy stable."""
    return [evaluation(c, at=end - i * step) for i, c in enumerate(canaries)]
