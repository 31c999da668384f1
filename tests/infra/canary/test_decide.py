"""`decide` on hand-made measurements: fixture analysis is interval 1m, window 2m, threshold 3, at least
100 requests per version, error rate <= 2 %, p99 <= 200 ms, PSI <= 0.2, steps 10 -> 25 -> 50 -> 100."""

from __future__ import annotations

import pytest

from infra.canary.decide import Outcome, Verdict, decide, judge, next_step
from infra.canary.measure import VersionSample
from infra.canary.online import Feedback
from infra.canary.psi import psi
from infra.settings.edit import set_canary_weight
from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from tests.infra.canary.measurements import ALL_HIGH, EVEN_SMALL, INF, evaluation, history, sample

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
    requests, (errors, p99, *_) = j.requests, j.checks
    assert (requests.canary, requests.source) == (500, "executor")
    assert (errors.canary, errors.source, errors.ok) == (pytest.approx(0.2), "executor", False)
    assert (p99.canary, p99.source, p99.ok) == (pytest.approx(900), "executor", False)
    assert j.outcome is Outcome.FAIL


def test_judgement_keeps_every_number(settings: StackSettings) -> None:
    j = judge(search(settings).canary.analysis, evaluation(ERRORING))  # type: ignore[union-attr]
    errors, p99, *_, drift = j.checks
    assert (errors.canary, errors.stable, errors.limit, errors.ok) == (0.1, 0.0, 0.02, False)
    assert (p99.canary, p99.stable, p99.ok) == (50.0, 50.0, True)
    assert drift.canary == pytest.approx(0.0) and drift.ok is True
    assert j.why == "error rate 10 % > 2 %"


def test_a_model_without_canary_cannot_be_decided(settings: StackSettings) -> None:
    with pytest.raises(ValueError, match="reco-ranker"):
        decide(settings.models[1], history(HEALTHY))


# -- quality from users, drift against each version's own offline histogram ---------------------------------
def test_two_good_models_on_different_score_scales_are_not_rolled_back(settings: StackSettings) -> None:
    # Stable scores around 0 (edges -1/0/1), the retrained canary around 20 (its own edges 10/20/30): each
    # live histogram matches its own offline one, so PSI is 0 for both, although the two barely overlap.
    stable_hist = {-1.0: 25.0, 0.0: 50.0, 1.0: 75.0, INF: 100.0}
    canary_hist = {10.0: 250.0, 20.0: 500.0, 30.0: 750.0, INF: 1000.0}
    canary = sample(requests=400, scores=canary_hist, offline=canary_hist)
    stable = sample(requests=9000, scores=stable_hist, offline=stable_hist)
    assert psi(canary_hist, stable_hist) > 5  # what comparing the two versions' scores said: rollback
    d = decide(search(settings), [evaluation(canary, stable)])
    assert d.verdict is Verdict.PROMOTE
    drift = next(c for c in d.judgements[0].checks if c.name == "score PSI")
    assert (drift.canary, drift.stable) == (pytest.approx(0.0), pytest.approx(0.0))


def test_a_canary_users_click_less_is_rolled_back(settings: StackSettings) -> None:
    # CTR 0.3 vs 0.5 over 2000 impressions each: d = -0.2, SE = sqrt(.21/2000 + .25/2000) = 0.015166,
    # upper bound -0.2 + 1.645 * 0.015166 = -0.175 < -delta = -0.05 (margin 10 % of 0.5): fail.
    worse = sample(requests=400, scores=EVEN_SMALL, feedback=Feedback(2000, 600, 600, 600))
    d = decide(search(settings), history(worse, worse, worse))
    assert d.verdict is Verdict.ROLLBACK
    assert "CTR 0.3 worse than stable 0.5 beyond the margin (canary − stable -0.2000" in d.reason
    ctr = next(c for c in d.judgements[0].checks if c.name == "CTR")
    assert ctr.detail.startswith("canary − stable -0.2000, 95% bounds [-0.2249, -0.1751]")


def test_too_little_feedback_is_not_measurable(settings: StackSettings) -> None:
    few = sample(requests=400, scores=EVEN_SMALL, feedback=Feedback(99, 10, 10, 10))
    d = decide(search(settings), history(few))
    assert d.verdict is Verdict.HOLD
    assert "CTR (feedback: canary 99, stable 2000 (need >= 100 each))" in d.reason


def test_an_inconclusive_comparison_holds_with_its_bound(settings: StackSettings) -> None:
    # 100 impressions each, CTR .45 vs .5: SE = sqrt(.2475/100 + .25/100) = 0.070534; bounds -0.05 -+ 0.116.
    close = sample(requests=400, scores=EVEN_SMALL, feedback=Feedback(100, 45, 45, 45))
    d = decide(
        search(settings), [evaluation(close, sample(requests=9000, feedback=Feedback(100, 50, 50, 50)))]
    )
    assert d.verdict is Verdict.HOLD and "95% bounds [-0.1660, +0.0660] vs margin −0.0500" in d.reason


def test_stables_own_drift_is_reported_not_gated(settings: StackSettings) -> None:
    drifted_stable = sample(requests=9000, scores=ALL_HIGH)
    d = decide(search(settings), [evaluation(HEALTHY, drifted_stable)])
    assert d.verdict is Verdict.PROMOTE
    drift = next(c for c in d.judgements[0].checks if c.name == "score PSI")
    assert drift.stable == pytest.approx(6.906, abs=1e-3) and drift.ok is True


def test_feedback_off_skips_the_online_checks(settings: StackSettings) -> None:
    model = search(settings)
    assert model.canary is not None
    off = model.canary.analysis.model_copy(update={"min_feedback_per_version": 0})
    j = judge(off, evaluation(sample(requests=400, scores=EVEN_SMALL, feedback=None)))
    assert [c.name for c in j.checks] == [
        "error rate",
        "p99 latency",
        "score PSI",
    ] and j.outcome is Outcome.PASS


def test_every_request_failing_at_the_mesh_is_a_failure_not_silence(settings: StackSettings) -> None:
    # The canary's pods are gone: the model and the executor saw nothing, Istio answered 503 to all 400.
    gone = VersionSample(mesh_requests=400, mesh_errors=400, mesh_p99_s=0.002)
    d = decide(search(settings), history(gone, gone, gone))
    assert d.verdict is Verdict.ROLLBACK and "error rate 100 % > 2 %" in d.reason
    assert d.judgements[0].requests.source == "istio"


def test_windows_from_before_the_canary_was_deployed_are_not_judged(settings: StackSettings) -> None:
    # Three failing windows (1m apart, 2m long), but the canary went live 150 s before the newest ended:
    # only the newest window lies wholly after it, so one failure, not three: hold.
    evaluations = history(SLOW, SLOW, SLOW)
    d = decide(search(settings), evaluations, not_before=evaluations[0].at - 150)
    assert d.verdict is Verdict.HOLD and "failed 1 of the last 3" in d.reason
    assert [j.why for j in d.judgements[1:]] == ["the window starts before this canary was deployed"] * 2
