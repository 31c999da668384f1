"""The decision, a pure function of the settings and the measured evaluations (see the package docstring).

Traffic, error rate and p99 latency come from the closest source to the client that reports: Istio's request
metrics (they also count the 503s of a canary with no pod left), else the executor's (requests the model never
answered), else the model's own counters. Quality comes from users: CTR and MRR of the click, canary vs
stable, non-inferiority z-tests (`infra/canary/online.py`). Drift compares each version's live scores with
its *own* offline histogram (`rankship_offline_scores`), never canary with stable: two good models of
different score scales are both undrifted. Stable's own drift is reported beside the canary's, not gated on.

With an interleaving predictor (`canary.interleave`) one more quality check, `interleaving`: the sign test
on the interleaved impressions' winners (`infra/canary/interleaving.py`). It fails the evaluation like CTR
or MRR do when users prefer stable significantly. Short of `min_decided` decided impressions it is not
measurable (ok None) but, unlike the other checks, that alone does not make the evaluation insufficient:
the interleaving check is an addition to the A/B checks, which already decide whether there is evidence
enough, and a quiet interleaving share must not hold a canary that those pass. A model without an
interleaving predictor has no such check at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from infra.canary.interleaving import InterleavingResult
from infra.canary.measure import Evaluation, VersionSample, seconds
from infra.canary.online import Comparison, Feedback, compare_ctr, compare_mrr
from infra.canary.psi import psi
from infra.settings.serving import CanaryAnalysis, ModelSettings


class Verdict(StrEnum):
    PROMOTE = "promote"  # to the next traffic step
    COMPLETE = "complete"  # the next step is 100 %: the canary becomes stable
    ROLLBACK = "rollback"  # canary removed, stable takes all traffic
    HOLD = "hold"  # change nothing
    STALLED = "stalled"  # a hold past the progress deadline (max_holds intervals at one step): fail loudly


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True)
class Check:
    name: str
    source: str  # "executor" or "model"
    canary: float | None
    stable: float | None
    limit: float
    ok: bool | None  # None: not measurable in this window
    detail: str = ""  # e.g. the test's bound and p-value
    limit_text: str = ""  # the threshold in words when it is not "<= limit"
    gating: bool = True  # False: reported only (stable's own drift)
    required: bool = True  # False: not measurable (ok None) does not hold the evaluation (interleaving)


@dataclass(frozen=True)
class Judgement:
    at: float
    outcome: Outcome
    requests: Check
    checks: tuple[Check, ...]
    why: str


@dataclass(frozen=True)
class Decision:
    model: str
    verdict: Verdict
    weight: int  # the canary's weight in the settings that were judged
    new_weight: int | None  # after the decision; None for hold
    reason: str
    stable_version: str
    canary_version: str
    analysis: CanaryAnalysis
    judgements: tuple[Judgement, ...] = ()
    unreadable: bool = False  # a hold because Prometheus or the cluster could not be read

    @property
    def changes_settings(self) -> bool:
        return self.verdict not in (Verdict.HOLD, Verdict.STALLED)


def _traffic(v: VersionSample) -> tuple[float | None, str]:
    if v.mesh_requests:
        return v.mesh_requests, "istio"
    return (v.exec_requests, "executor") if v.exec_requests else (v.requests, "model")


def _error_rate(v: VersionSample) -> tuple[float | None, str]:
    requests, source = _traffic(v)
    errors = {"istio": v.mesh_errors, "executor": v.exec_errors, "model": v.errors}[source]
    if not requests:
        return None, source
    return (errors or 0.0) / requests, source


def _p99_ms(v: VersionSample) -> tuple[float | None, str]:
    for p99_s, source in ((v.mesh_p99_s, "istio"), (v.exec_p99_s, "executor"), (v.p99_s, "model")):
        if p99_s is not None and not math.isnan(p99_s):
            return p99_s * 1000.0, source
    return None, "model"


def _online_checks(a: CanaryAnalysis, ev: Evaluation) -> tuple[Check, ...]:
    """CTR and MRR of the click, canary vs stable; not measurable below min_feedback_per_version."""
    if a.min_feedback_per_version == 0:
        return ()
    c, s, need = ev.canary.feedback, ev.stable.feedback, a.min_feedback_per_version
    checks = []
    for name, test in (("CTR", compare_ctr), ("MRR", compare_mrr)):
        if c is None or s is None or min(c.impressions, s.impressions) < need:
            seen = f"feedback: canary {_count(c.impressions if c else None)}, stable {_count(s.impressions if s else None)}"
            checks.append(Check(name, "feedback", _metric(c, name), _metric(s, name), need, None,
                                f"{seen} (need >= {need} each)", _margin_text(a)))  # fmt: skip
            continue
        cmp = test(c, s, a.online_margin, a.online_alpha)
        ok = {"pass": True, "fail": False}.get(cmp.outcome)
        checks.append(Check(name, "feedback", cmp.canary, cmp.stable, cmp.margin, ok, _bound(cmp, a),
                            _margin_text(a)))  # fmt: skip
    return tuple(checks)


def _metric(f: Feedback | None, name: str) -> float | None:
    if f is None:
        return None
    return f.ctr if name == "CTR" else f.mrr


def _margin_text(a: CanaryAnalysis) -> str:
    return f"≥ stable − {a.online_margin:.0%} (z-test, α {a.online_alpha:g})"


def _bound(cmp: Comparison, a: CanaryAnalysis) -> str:
    conf = f"{1 - a.online_alpha:.0%}"
    return (
        f"canary − stable {cmp.canary - cmp.stable:+.4f}, {conf} bounds [{cmp.lower:+.4f}, {cmp.upper:+.4f}] "
        f"vs margin −{cmp.margin:.4f}, p = {cmp.p_value:.3g}"
    )


def _drift(a: CanaryAnalysis, ev: Evaluation) -> tuple[Check, ...]:
    """Each version's live scores vs its own offline histogram; stable's is reported, not gated on."""
    c_psi, s_psi = psi(ev.canary.scores, ev.canary.offline), psi(ev.stable.scores, ev.stable.offline)
    text = f"≤ {a.max_score_psi:g} vs own offline"
    return (
        Check("score PSI", "model", c_psi, s_psi, a.max_score_psi, _within(c_psi, a.max_score_psi),
              "" if ev.canary.offline else "canary has no offline histogram (rankship_offline_scores)", text),
    )  # fmt: skip


INTERLEAVING = "interleaving"


def _interleaving(result: InterleavingResult | None) -> tuple[Check, ...]:
    """Wins per team in interleaved lists, sign test: fails when stable is preferred significantly; not
    measurable below min_decided, which does not hold the evaluation (`required=False`, module docstring)."""
    if result is None:
        return ()
    t = result.tally
    text = f"stable not preferred (sign test, α {result.alpha:g}, ≥ {result.min_decided} decided)"
    return (
        Check(INTERLEAVING, "interleaving", float(t.canary), float(t.stable), result.alpha, result.ok,
              result.why, text, required=False),
    )  # fmt: skip


def _within(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def judge(a: CanaryAnalysis, ev: Evaluation) -> Judgement:
    """One evaluation: pass, fail or insufficient, with every check's numbers."""
    (c_req, source), (s_req, _) = _traffic(ev.canary), _traffic(ev.stable)
    enough = (c_req or 0) >= a.min_requests_per_version and (s_req or 0) >= a.min_requests_per_version
    requests = Check("requests", source, c_req, s_req, a.min_requests_per_version, enough)
    (c_err, err_src), (s_err, _) = _error_rate(ev.canary), _error_rate(ev.stable)
    (c_p99, p99_src), (s_p99, _) = _p99_ms(ev.canary), _p99_ms(ev.stable)
    checks = (
        Check("error rate", err_src, c_err, s_err, a.max_error_rate, _within(c_err, a.max_error_rate)),
        Check("p99 latency", p99_src, c_p99, s_p99, a.max_p99_latency_ms,
              _within(c_p99, a.max_p99_latency_ms)),
        *_online_checks(a, ev),
        *_drift(a, ev),
        *_interleaving(ev.interleaving),
    )  # fmt: skip
    failed = [c for c in checks if c.gating and c.ok is False]
    unknown = [c for c in checks if c.gating and c.required and c.ok is None]
    if not enough:
        outcome = Outcome.INSUFFICIENT
        why = (
            f"too little traffic: canary {_count(c_req)}, stable {_count(s_req)} requests in {ev.window} "
            f"(need >= {a.min_requests_per_version} each)"
        )
    elif failed:
        outcome, why = (
            Outcome.FAIL,
            "; ".join(_failure(c) for c in failed),
        )
    elif unknown:
        outcome = Outcome.INSUFFICIENT
        why = "not measurable: " + "; ".join(
            f"{c.name} ({c.detail})" if c.detail else c.name for c in unknown
        )
    else:
        outcome, why = (
            Outcome.PASS,
            "within every threshold: " + ", ".join(_passed(c) for c in checks),
        )
    return Judgement(ev.at, outcome, requests, checks, why)


def _passed(c: Check) -> str:
    return f"{c.name} ({c.detail})" if c.name == INTERLEAVING else describe(c, c.canary)


def _failure(c: Check) -> str:
    if c.name == INTERLEAVING:
        return f"{c.name}: {c.detail}"
    if c.source == "feedback":
        return f"{c.name} {in_unit(c, c.canary)} worse than stable {in_unit(c, c.stable)} beyond the margin ({c.detail})"
    return f"{describe(c, c.canary)} > {in_unit(c, c.limit)}"


def _before(a: CanaryAnalysis, ev: Evaluation) -> Judgement:
    requests = Check("requests", "model", None, None, a.min_requests_per_version, None)
    return Judgement(
        ev.at, Outcome.INSUFFICIENT, requests, (), "the window starts before this canary was deployed"
    )


def next_step(steps: Sequence[int], weight: int) -> int:
    """The first step above `weight` (steps end at 100, and a canary's weight is at most 99)."""
    return next(s for s in steps if s > weight)


def decide(
    model: ModelSettings, evaluations: Sequence[Evaluation], not_before: float | None = None
) -> Decision:
    """Judge the newest `failure_threshold` evaluations (newest first) and decide. A window that starts
    before `not_before` (when the canary bundle was deployed) belongs to another rollout: not judged."""
    if model.canary is None:
        raise ValueError(f"model {model.name!r} has no canary to analyse")
    a, weight = model.canary.analysis, model.canary.weight
    judged = tuple(
        _before(a, ev) if not_before is not None and ev.at - seconds(a.window) < not_before else judge(a, ev)
        for ev in evaluations[: a.failure_threshold]
    )
    if not judged:
        raise ValueError("decide needs at least one evaluation")
    latest = judged[0]
    verdict, new_weight = Verdict.HOLD, None
    if latest.outcome is Outcome.PASS:
        new_weight = next_step(a.steps, weight)
        verdict = Verdict.COMPLETE if new_weight >= 100 else Verdict.PROMOTE
        reason = f"healthy: {latest.why}"
    elif len(judged) == a.failure_threshold and all(j.outcome is Outcome.FAIL for j in judged):
        verdict, new_weight = Verdict.ROLLBACK, 0
        reason = f"failed the last {a.failure_threshold} evaluations (every {a.interval}): {latest.why}"
    elif latest.outcome is Outcome.FAIL:
        failures = sum(j.outcome is Outcome.FAIL for j in judged)
        reason = (
            f"failed {failures} of the last {len(judged)} evaluations, rollback after "
            f"{a.failure_threshold} in a row: {latest.why}"
        )
    else:
        reason = latest.why
    return Decision(
        model.name, verdict, weight, new_weight, reason,
        model.stable.bundle.version, model.canary.bundle.version, a, judged,
    )  # fmt: skip


def past_deadline(d: Decision, held_s: float | None) -> Decision:
    """A hold at one step for `max_holds` intervals or longer becomes `stalled` (unreadable stays a hold:
    it fails the workflow on its own). `held_s`: how long the current step has been the settings' step."""
    a = d.analysis
    deadline = a.max_holds * seconds(a.interval)
    if d.verdict is not Verdict.HOLD or d.unreadable or held_s is None or held_s < deadline:
        return d
    reason = (
        f"no decision after {held_s / 60:.0f} min at {d.weight} % (progress deadline: max_holds "
        f"{a.max_holds} x interval {a.interval}); last hold: {d.reason}"
    )
    return replace(d, verdict=Verdict.STALLED, reason=reason)


def hold(model: ModelSettings, reason: str, unreadable: bool) -> Decision:
    """A hold without judging metrics: the live rollout differs from the settings, or (`unreadable`)
    Prometheus or the cluster could not be read."""
    if model.canary is None:
        raise ValueError(f"model {model.name!r} has no canary to analyse")
    c = model.canary
    return Decision(
        model.name, Verdict.HOLD, c.weight, None, reason, model.stable.bundle.version, c.bundle.version,
        c.analysis, unreadable=unreadable,
    )  # fmt: skip


def _count(value: float | None) -> str:
    return "no" if value is None else f"{value:.0f}"


def in_unit(check: Check, value: float | None) -> str:
    """`value` in the check's unit: `1.25 %`, `41.3 ms`, `0.013`."""
    if value is None:
        return "n/a"
    if check.name == "error rate":
        return f"{value * 100:.3g} %"
    if check.name == "p99 latency":
        return f"{value:.4g} ms"
    if check.name == INTERLEAVING:
        return f"{value:.0f} wins"
    return f"{value:.4g}"


def describe(check: Check, value: float | None) -> str:
    return f"{check.name} {in_unit(check, value)}"
