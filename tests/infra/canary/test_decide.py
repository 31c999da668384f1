"""`decide` on hand-made measurements: fixture analysis is interval 1m, window 2m, threshold 3, at least
100 requests per version, error rate <= 2 %, p99 <= 200 ms, PSI <= 0.2, steps 10 -> 25 -> 50 -> 100."""

from __future__ import annotations

import pytest

from infra.canary.decide import Outcome, Verdict, decide, judge, next_step
from infra.settings.edit import set_canary_weight
from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from tests.infra.canary.measurements import ALL_HIGH, EVEN_SMALL, evaluation, history, sample

HEALTHY = sample(requests=400, scores=EVEN_SMALL)
SLOW = sample(requests=400, p99_ms=450)
ERRORING = sample(requests=400, errors=40)  # 10 %
DRIFTING = sample(requests=400, scores=ALL_HIGH)
QUIET = sample(requests=99)


def search(settings: StackSettings, weight: int | None = None) -> ModelSettings:
    if weight is not None:
        settings = set_canary_weight(settings, "search-ranker", weight)
    return settings.models[0]


@pytest.mark.parametrize(
    ("weight", "verdict", "new"), [(10, "promote", 25), (25, "promote", 50), (50, "complete", 100)]
)
def test_a_healthy_canary_climbs_the_steps(
    settings: StackSettings, weight: int, verdict: str, new: int
) -> None:
    d = decide(search(settings, weight), history(HEALTHY))
    assert (d.verdict, d.weight, d.new_weight) == (Verdict(verdict), weight, new)


def test_a_weight_between_steps_goes_to_the_next_step_above(settings: StackSettings) -> None:
    assert next_step((10, 25, 50, 100), 30) == 50
    assert decide(search(settings, 30), history(HEALTHY)).new_weight == 50


@pytest.mark.parametrize(("bad", "check"), [(SLOW, "p99"), (ERRORING, "error rate"), (DRIFTING, "score PSI")])
def test_threshold_failures_in_a_row_roll_back(settings: StackSettings, bad: object, check: str) -> None:
    d = decide(search(settings), history(bad, bad, bad))
    assert d.verdict is Verdict.ROLLBACK and d.new_weight == 0
    assert check in d.reason


def test_fewer_failures_than_the_threshold_hold(settings: StackSettings) -> None:
    d = decide(search(settings), history(SLOW, SLOW, HEALTHY))
    assert d.verdict is Verdict.HOLD
    assert "failed 2 of the last 3" in d.reason


def test_a_failure_too_young_to_have_history_holds(settings: StackSettings) -> None:
    # Only two windows have data: two failures are not three.
    d = decide(search(settings), history(SLOW, SLOW, sample(requests=None, p99_ms=None, scores={})))
    assert d.verdict is Verdict.HOLD


def test_a_pass_after_failures_promotes(settings: StackSettings) -> None:
    assert decide(search(settings), history(HEALTHY, SLOW, SLOW)).verdict is Verdict.PROMOTE


def test_too_little_canary_traffic_is_never_a_promotion(settings: StackSettings) -> None:
    d = decide(search(settings), history(QUIET, QUIET, QUIET))
    assert d.verdict is Verdict.HOLD
    assert "too little traffic: canary 99, stable 9000 requests in 2m (need >= 100 each)" in d.reason


def test_too_little_traffic_is_not_a_failure_even_when_the_numbers_are_bad(settings: StackSettings) -> None:
    quiet_and_slow = sample(requests=50, p99_ms=900)
    assert decide(search(settings), history(*[quiet_and_slow] * 3)).verdict is Verdict.HOLD


def test_too_little_stable_traffic_holds(settings: StackSettings) -> None:
    ev = evaluation(HEALTHY, stable=sample(requests=80))
    assert judge(search(settings).canary.analysis, ev).outcome is Outcome.INSUFFICIENT  # type: ignore[union-attr]


def test_no_data_at_all_holds(settings: StackSettings) -> None:
    nothing = sample(requests=None, errors=None, p99_ms=None, scores={})
    d = decide(search(settings), history(nothing, nothing, nothing))
    assert d.verdict is Verdict.HOLD and "canary no, stable 9000" in d.reason


def test_thresholds_are_inclusive(settings: StackSettings) -> None:
    # Exactly 100 requests, 2 errors (2 %), p99 exactly 200 ms: every check is at its limit and passes.
    edge = sample(requests=100, errors=2, p99_ms=200, scores=EVEN_SMALL)
    assert decide(search(settings), history(edge)).verdict is Verdict.PROMOTE


def test_an_unmeasurable_check_is_inconclusive_not_a_pass(settings: StackSettings) -> None:
    no_latency = sample(requests=400, p99_ms=None)
    d = decide(search(settings), history(no_latency))
    assert d.verdict is Verdict.HOLD and "not measurable: p99 latency" in d.reason


def test_the_executor_is_preferred_when_it_reports(settings: StackSettings) -> None:
    # The model saw 400 clean fast requests; the executor also saw 100 it answered 500 after 900 ms.
    behind_executor = sample(requests=400, executor=(500, 100, 900), scores=EVEN_SMALL)
    j = judge(search(settings).canary.analysis, evaluation(behind_executor))  # type: ignore[union-attr]
    requests, (errors, p99, _) = j.requests, j.checks
    assert (requests.canary, requests.source) == (500, "executor")
    assert (errors.canary, errors.source, errors.ok) == (pytest.approx(0.2), "executor", False)
    assert (p99.canary, p99.source, p99.ok) == (pytest.approx(900), "executor", False)
    assert j.outcome is Outcome.FAIL


def test_judgement_keeps_every_number(settings: StackSettings) -> None:
    j = judge(search(settings).canary.analysis, evaluation(ERRORING))  # type: ignore[union-attr]
    errors, p99, drift = j.checks
    assert (errors.canary, errors.stable, errors.limit, errors.ok) == (0.1, 0.0, 0.02, False)
    assert (p99.canary, p99.stable, p99.ok) == (50.0, 50.0, True)
    assert drift.canary == pytest.approx(0.0) and drift.ok is True
    assert j.why == "error rate 10 % > 2 %"


def test_a_model_without_canary_cannot_be_decided(settings: StackSettings) -> None:
    with pytest.raises(ValueError, match="reco-ranker"):
        decide(settings.models[1], history(HEALTHY))
