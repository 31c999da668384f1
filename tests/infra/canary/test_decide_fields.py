"""Every field of a judgement and a decision, as the canary report and the workflow log print them.

Fixture analysis as in test_decide.py (window 2m, >= 100 requests, error rate <= 2 %, p99 <= 200 ms,
PSI <= 0.2, >= 100 feedback impressions, margin 10 %, alpha 0.05). The online bounds are worked out by hand:
CLICKS is 2000 impressions, CTR 0.5 and MRR 0.5 on both sides, so d = 0 and the margin is 0.1 * 0.5 = 0.05;
CTR variance 0.25, MRR sample variance (1000 - 2000 * 0.25) / 1999 = 0.250125;
SE = sqrt(2 * var / 2000) = 0.0158114 (CTR), 0.0158153 (MRR); z(0.95) = 1.644854, so the bounds are
+-0.026007 and +-0.026014, and p = 1 - Phi(0.05 / SE) = 1 - Phi(3.16228) = 0.000783 (CTR), 0.000785 (MRR).
"""

from __future__ import annotations

import pytest

from infra.canary.decide import (
    Check,
    Decision,
    Judgement,
    Outcome,
    Verdict,
    decide,
    hold,
    in_unit,
    judge,
    past_deadline,
)
from infra.canary.measure import VersionSample
from infra.canary.online import Feedback
from infra.settings.serving import CanaryAnalysis, ModelSettings
from infra.settings.stack import StackSettings
from tests.infra.canary.measurements import EVEN_SMALL, evaluation, history, sample

MARGIN_TEXT = "≥ stable − 10% (z-test, α 0.05)"
PSI_TEXT = "≤ 0.2 vs own offline"
STABLE_VERSION, CANARY_VERSION = "a1a1a1a1a1a1", "b2b2b2b2b2b2"


def analysis(settings: StackSettings) -> CanaryAnalysis:
    canary = settings.models[0].canary
    assert canary is not None
    return canary.analysis


def search(settings: StackSettings) -> ModelSettings:
    return settings.models[0]


def test_a_healthy_window_keeps_every_number_and_says_why(settings: StackSettings) -> None:
    ev = evaluation(sample(requests=400, scores=EVEN_SMALL), at=1_800_000_000.0)
    j = judge(analysis(settings), ev)
    ctr_detail = "canary − stable +0.0000, 95% bounds [-0.0260, +0.0260] vs margin −0.0500, p = 0.000783"
    mrr_detail = "canary − stable +0.0000, 95% bounds [-0.0260, +0.0260] vs margin −0.0500, p = 0.000785"
    assert j == Judgement(
        at=1_800_000_000.0,
        outcome=Outcome.PASS,
        requests=Check("requests", "model", 400, 9000, 100, True),
        checks=(
            Check("error rate", "model", 0.0, 0.0, 0.02, True),
            Check("p99 latency", "model", 50.0, 50.0, 200.0, True),
            Check("CTR", "feedback", 0.5, 0.5, pytest.approx(0.05), True, ctr_detail, MARGIN_TEXT),  # type: ignore[arg-type]
            Check("MRR", "feedback", 0.5, 0.5, pytest.approx(0.05), True, mrr_detail, MARGIN_TEXT),  # type: ignore[arg-type]
            # EVEN_SMALL against its own offline EVEN: 0.25 in each bucket on both sides, PSI exactly 0.
            Check("score PSI", "model", 0.0, 0.0, 0.2, True, "", PSI_TEXT),
        ),
        why="within every threshold: error rate 0 %, p99 latency 50 ms, CTR 0.5, MRR 0.5, score PSI 0",
    )
    d = decide(search(settings), [ev])
    assert d.reason == f"healthy: {j.why}"
    assert (d.model, d.stable_version, d.canary_version) == ("search-ranker", STABLE_VERSION, CANARY_VERSION)


def test_unmeasurable_checks_are_listed_with_their_reason(settings: StackSettings) -> None:
    # Canary: 99 impressions, 30 clicked, rr_sum 20 -> CTR 30/99 = 0.30303, MRR 20/99 = 0.20202; stable: 2000,
    # 1000 clicked, rr_sum 800 -> CTR 0.5, MRR 0.4 (CTR != MRR on both sides: each check shows its own metric).
    # No latency anywhere: the p99 check has no source but the model's.
    few, stable = Feedback(99, 30, 20, 20), sample(requests=9000, feedback=Feedback(2000, 1000, 800, 800))
    canary = sample(requests=400, p99_ms=None, scores=EVEN_SMALL, feedback=few)
    j = judge(analysis(settings), evaluation(canary, stable))
    seen = "feedback: canary 99, stable 2000 (need >= 100 each)"
    _, p99, ctr, mrr, _ = j.checks
    assert p99 == Check("p99 latency", "model", None, 50.0, 200.0, None)
    assert ctr == Check("CTR", "feedback", pytest.approx(30 / 99), 0.5, 100, None, seen, MARGIN_TEXT)  # type: ignore[arg-type]
    assert mrr == Check("MRR", "feedback", pytest.approx(20 / 99), 0.4, 100, None, seen, MARGIN_TEXT)  # type: ignore[arg-type]
    assert j.outcome is Outcome.INSUFFICIENT
    assert j.why == f"not measurable: p99 latency; CTR ({seen}); MRR ({seen})"


def test_a_canary_without_an_offline_histogram_cannot_be_judged_on_drift(settings: StackSettings) -> None:
    j = judge(analysis(settings), evaluation(sample(requests=400, scores=EVEN_SMALL, offline={})))
    drift = j.checks[-1]
    no_offline = "canary has no offline histogram (rankship_offline_scores)"
    assert drift == Check("score PSI", "model", None, 0.0, 0.2, None, no_offline, PSI_TEXT)
    assert j.outcome is Outcome.INSUFFICIENT and j.why == f"not measurable: score PSI ({no_offline})"


def test_every_failure_is_named_in_the_reason(settings: StackSettings) -> None:
    # 40 errors in 400 requests (10 %) and p99 450 ms: both fail, in the order of the checks.
    j = judge(analysis(settings), evaluation(sample(requests=400, errors=40, p99_ms=450, scores=EVEN_SMALL)))
    assert j.outcome is Outcome.FAIL
    assert j.why == "error rate 10 % > 2 %; p99 latency 450 ms > 200 ms"


def test_latency_comes_from_the_mesh_first(settings: StackSettings) -> None:
    # Istio saw 400 requests answered in 2 ms at p99; the model's own counters (50 ms) are not used.
    at_mesh = VersionSample(mesh_requests=400, mesh_errors=0, mesh_p99_s=0.002, p99_s=0.05, scores=EVEN_SMALL)
    p99 = judge(analysis(settings), evaluation(at_mesh)).checks[1]
    assert (p99.source, p99.canary) == ("istio", pytest.approx(2.0))


def test_no_traffic_is_never_enough_even_against_a_bound_of_one(settings: StackSettings) -> None:
    one = analysis(settings).model_copy(update={"min_requests_per_version": 1})
    silent = sample(requests=None, errors=None, p99_ms=None)
    j = judge(one, evaluation(silent))
    assert (j.requests.ok, j.outcome) == (False, Outcome.INSUFFICIENT)
    assert j.why.startswith("too little traffic: canary no, stable 9000 requests")
    stable_silent = judge(one, evaluation(sample(requests=400), stable=silent))
    assert stable_silent.requests.ok is False


def test_stable_traffic_at_the_minimum_is_enough(settings: StackSettings) -> None:
    j = judge(analysis(settings), evaluation(sample(requests=100, scores=EVEN_SMALL), sample(requests=100)))
    assert j.requests == Check("requests", "model", 100, 100, 100, True)


def test_a_window_from_before_the_rollout_is_an_empty_judgement(settings: StackSettings) -> None:
    evaluations = history(sample(requests=400, scores=EVEN_SMALL))
    at = evaluations[0].at
    d = decide(search(settings), evaluations, not_before=at - 119)  # the 2m window starts 1 s too early
    assert d.judgements == (
        Judgement(
            at,
            Outcome.INSUFFICIENT,
            Check("requests", "model", None, None, 100, None),
            (),
            "the window starts before this canary was deployed",
        ),
    )
    # A window that starts exactly when the canary went live is wholly the canary's: judged.
    assert decide(search(settings), evaluations, not_before=at - 120).verdict is Verdict.PROMOTE


def test_no_evaluation_is_a_clear_error(settings: StackSettings) -> None:
    with pytest.raises(ValueError, match=r"^decide needs at least one evaluation$"):
        decide(search(settings), [])


def test_a_hold_keeps_the_model_weight_and_versions(settings: StackSettings) -> None:
    d = hold(search(settings), "live weights differ from the settings", unreadable=False)
    assert d == Decision(
        "search-ranker",
        Verdict.HOLD,
        10,
        None,
        "live weights differ from the settings",
        STABLE_VERSION,
        CANARY_VERSION,
        analysis(settings),
        unreadable=False,
    )
    with pytest.raises(ValueError, match=r"^model 'reco-ranker' has no canary to analyse$"):
        hold(settings.models[1], "x", unreadable=True)


def test_the_stalled_reason_counts_minutes(settings: StackSettings) -> None:
    # An hour at 10 %: 3600 s / 60 = 60 min, past the deadline of max_holds 5 x 1m.
    d = past_deadline(hold(search(settings), "feedback missing", unreadable=False), 3600.0)
    assert d.verdict is Verdict.STALLED
    assert d.reason == (
        "no decision after 60 min at 10 % (progress deadline: max_holds 5 x interval 1m); "
        "last hold: feedback missing"
    )


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [("error rate", 0.0125, "1.25 %"), ("p99 latency", 41.3, "41.3 ms"), ("score PSI", 0.013, "0.013"),
     ("CTR", None, "n/a")],
)  # fmt: skip
def test_values_are_shown_in_the_unit_of_their_check(name: str, value: float | None, text: str) -> None:
    assert in_unit(Check(name, "model", value, None, 0.0, None), value) == text
