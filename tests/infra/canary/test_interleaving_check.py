"""The interleaving check inside the canary decision: measured with the analysis, judged with the other checks,
shown in the decision table. Tallies are tiny and every p-value is worked out from binomial coefficients.

Fixture analysis (see test_decide.py): interval 1m, window 2m, rollback after 3 failed evaluations in a row.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from infra.canary.analyze import EXIT_UNREADABLE, analyze_stack, exit_code
from infra.canary.decide import INTERLEAVING, Check, Judgement, Outcome, Verdict, decide, judge
from infra.canary.interleaving import METRIC, Tally, judge_interleaving
from infra.canary.measure import Evaluation
from infra.canary.prometheus import PrometheusError, Series
from infra.canary.report import markdown
from infra.settings.stack import StackSettings, load_stack_settings
from tests.infra.canary.conftest import STACK
from tests.infra.canary.measurements import EVEN_SMALL, history, sample
from tests.infra.canary.test_analyze import END, HealthyPrometheus

HEALTHY = sample(requests=400, scores=EVEN_SMALL)

# 10 canary vs 40 stable wins (5 ties): P(X <= 10) for X ~ Binomial(50, 1/2) is
# (C(50,0) + ... + C(50,10)) / 2^50 = 13,432,735,556 / 2^50; two-sided 2.386e-05.
STABLE_PREFERRED_P = 2 * sum(math.comb(50, k) for k in range(11)) / 2**50


def with_interleaving(evaluations: list[Evaluation], tally: Tally, min_decided: int = 50) -> list[Evaluation]:
    result = judge_interleaving(tally, min_decided, 0.05)
    return [dataclasses.replace(ev, interleaving=result) for ev in evaluations]


def check_of(j: Judgement) -> Check | None:
    return next((c for c in j.checks if c.name == INTERLEAVING), None)


def test_the_hand_worked_p_value() -> None:
    assert sum(math.comb(50, k) for k in range(11)) == 13_432_735_556
    assert f"{STABLE_PREFERRED_P:.4g}" == "2.386e-05"


def test_stable_preferred_rolls_back_a_canary_every_other_check_passes(settings: StackSettings) -> None:
    model = settings.models[0]
    assert decide(model, history(HEALTHY, HEALTHY, HEALTHY)).verdict is Verdict.PROMOTE  # without it
    evaluations = with_interleaving(history(HEALTHY, HEALTHY, HEALTHY), Tally(canary=10, stable=40, tie=5))
    d = decide(model, evaluations)
    assert d.verdict is Verdict.ROLLBACK and d.new_weight == 0
    latest = d.judgements[0]
    assert latest.outcome is Outcome.FAIL
    assert [c.name for c in latest.checks if c.ok is False] == [INTERLEAVING]
    c = check_of(latest)
    assert c is not None and (c.canary, c.stable, c.ok) == (10.0, 40.0, False)
    assert c.limit == 0.05  # the sign test's level, the threshold this judgement used
    p = f"{STABLE_PREFERRED_P:.3g}"
    assert p == "2.39e-05"
    assert c.detail == f"canary won 10, stable 40 of 50 decided (5 ties): users prefer stable, p = {p} < 0.05"
    assert latest.why == f"interleaving: {c.detail}"


def test_one_failed_interleaving_evaluation_holds_like_any_failure(settings: StackSettings) -> None:
    newest, *older = history(HEALTHY, HEALTHY, HEALTHY)
    [failed] = with_interleaving([newest], Tally(canary=10, stable=40, tie=5))
    d = decide(settings.models[0], [failed, *older])
    assert d.verdict is Verdict.HOLD
    assert d.reason.startswith("failed 1 of the last 3 evaluations, rollback after 3 in a row: interleaving:")


def test_canary_preferred_or_no_preference_passes(settings: StackSettings) -> None:
    # 40 vs 10 is the mirror image: same p, canary preferred.
    better = decide(
        settings.models[0], with_interleaving(history(HEALTHY), Tally(canary=40, stable=10, tie=5))
    )
    assert better.verdict is Verdict.PROMOTE
    assert "users prefer the canary, p = 2.39e-05" in better.reason
    # 25 vs 25: p = 2 * P(X <= 25) > 1, capped at 1.
    even = decide(settings.models[0], with_interleaving(history(HEALTHY), Tally(canary=25, stable=25, tie=0)))
    assert even.verdict is Verdict.PROMOTE and "no preference, p = 1" in even.reason


def test_too_few_decided_impressions_do_not_hold_by_themselves(settings: StackSettings) -> None:
    # 0 vs 9 would be p = 2/512 = 0.0039, but 9 decided < 50: not measurable, and the rest passes.
    [ev] = with_interleaving(history(HEALTHY), Tally(canary=0, stable=9, tie=300))
    j = judge(settings.models[0].canary.analysis, ev)  # type: ignore[union-attr]
    c = check_of(j)
    assert c is not None and c.ok is None and not c.required
    assert j.outcome is Outcome.PASS
    assert "interleaving (canary won 0, stable 9 of 9 decided (300 ties): need >= 50 decided" in j.why
    assert decide(settings.models[0], [ev]).verdict is Verdict.PROMOTE


def test_too_few_decided_do_not_hide_another_checks_missing_evidence(settings: StackSettings) -> None:
    no_clicks = sample(requests=400, scores=EVEN_SMALL, feedback=None)
    [ev] = with_interleaving(history(no_clicks), Tally(canary=0, stable=9, tie=300))
    j = judge(settings.models[0].canary.analysis, ev)  # type: ignore[union-attr]
    assert j.outcome is Outcome.INSUFFICIENT
    assert j.why.startswith("not measurable: CTR") and INTERLEAVING not in j.why


def test_the_decision_table_shows_wins_ties_and_p(settings: StackSettings) -> None:
    d = decide(settings.models[0], with_interleaving(history(HEALTHY), Tally(canary=10, stable=40, tie=5)))
    row = (
        "| interleaving | interleaving | 10 | 40 | stable not preferred (sign test, α 0.05, ≥ 50 decided) "
        "| **FAIL** (canary won 10, stable 40 of 50 decided (5 ties): users prefer stable, p = 2.39e-05 < 0.05) |"
    )
    assert row in markdown(STACK, [d]).splitlines()


def interleaved_stack(root: Path) -> StackSettings:
    """The fixture stack with an interleaving predictor at 10 % (taken from stable: 80 / 10 / 10)."""
    path = root / f"Pulumi.{STACK}.yaml"
    text = path.read_text()
    text = text.replace("weight: 90  # the canary takes the rest", "weight: 80", 1)
    text = text.replace(
        "        analysis:\n", "        interleave: {weight: 10, min_decided: 50}\n        analysis:\n", 1
    )
    path.write_text(text)
    settings = load_stack_settings(STACK, root)
    assert settings.models[0].canary is not None and settings.models[0].canary.interleave is not None
    return settings


class Interleaved(HealthyPrometheus):
    """Healthy A/B figures; the interleaving counters answer `winners` (winner -> increase) at every time."""

    def __init__(self, winners: dict[str, float] | None) -> None:
        super().__init__()
        self.winners, self.interleaving_queries = winners, []  # type: ignore[var-annotated]

    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        if METRIC not in expr:
            return super().range_query(expr, start, end, step_s)
        self.interleaving_queries.append(expr)
        if self.winners is None:
            raise PrometheusError("query failed: 503 Service Unavailable")
        times = [start + i * step_s for i in range(int((end - start) // step_s) + 1)]
        return [Series({"winner": w}, dict.fromkeys(times, v)) for w, v in self.winners.items()]


def test_a_model_without_an_interleaving_predictor_has_no_such_check(settings: StackSettings) -> None:
    prom = Interleaved({"canary": 10.0, "stable": 40.0})
    [d] = analyze_stack(settings, prom, END, None)
    assert prom.interleaving_queries == []
    assert d.verdict is Verdict.PROMOTE
    assert all(check_of(j) is None for j in d.judgements)
    assert "interleaving" not in markdown(STACK, [d])


def test_the_analysis_reads_interleaving_with_the_models_settings(stack_root: Path) -> None:
    prom = Interleaved({"canary": 10.0, "stable": 40.0, "tie": 5.0})
    [d] = analyze_stack(interleaved_stack(stack_root), prom, END, None)
    # One range query for every evaluation, over the interleaving's own window (default 1h).
    assert len(prom.interleaving_queries) == 1 and "[1h]" in prom.interleaving_queries[0]
    assert d.verdict is Verdict.ROLLBACK  # stable preferred at all 3 evaluation times
    c = check_of(d.judgements[0])
    assert c is not None and (c.canary, c.stable, c.ok) == (10.0, 40.0, False)


def test_unreadable_interleaving_holds_as_unreadable(stack_root: Path) -> None:
    [d] = analyze_stack(interleaved_stack(stack_root), Interleaved(None), END, None)
    assert d.verdict is Verdict.HOLD and d.unreadable
    assert d.reason == "no measurement, nothing judged: query failed: 503 Service Unavailable"
    assert exit_code([d]) == EXIT_UNREADABLE
    # A winner label the analysis does not know is garbage, not a tie: unreadable as well.
    [bad] = analyze_stack(interleaved_stack(stack_root), Interleaved({"shadow": 3.0}), END, None)
    assert bad.unreadable and "unknown winner label 'shadow'" in bad.reason


def test_the_demo_stack_decides_on_one_evaluation_without_ab_feedback(tmp_path: Path) -> None:
    """`make canary-demo SCENARIO=interleaving`'s own settings, with the measurements it would read."""
    from infra.canary.local import interleave_demo as demo
    from model.release.bundle import BundleInfo

    stable, canary = (BundleInfo(tmp_path, c * 64, ()) for c in "ab")
    model = demo.scenario_model(tmp_path, stable, canary, window_s=345)
    c = model.canary
    assert c is not None and c.interleave is not None
    assert (model.stable.weight, c.weight, c.interleave.weight) == (80, 10, 10)
    assert (c.analysis.window, c.interleave.window, c.analysis.failure_threshold) == ("345s", "345s", 1)
    # The rankers' own figures, no A/B feedback (every demo user sees the interleaved list).
    ranker = sample(requests=5000, scores=EVEN_SMALL, feedback=None)
    [ev] = history(ranker)
    ev = dataclasses.replace(ev, stable=ranker)
    verdicts = {
        winners: decide(model, with_interleaving([ev], Tally(*winners), demo.MIN_DECIDED)).verdict
        for winners in ((80, 20, 5), (20, 80, 5), (60, 60, 40), (3, 1, 0))
    }
    assert verdicts == {
        (80, 20, 5): Verdict.PROMOTE,
        (20, 80, 5): Verdict.ROLLBACK,  # failure_threshold 1: one failed evaluation rolls back
        (60, 60, 40): Verdict.PROMOTE,  # no preference
        (3, 1, 0): Verdict.PROMOTE,  # 4 decided < 100: n/a, and nothing else holds it
    }
