"""The decision, a pure function of the settings and the measured evaluations (see the package docstring).

Traffic comes from the executor when it reports (it also sees requests the model never answered), else from
the model's own counters; error rate and p99 latency likewise; score drift always from the model's histogram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from infra.canary.measure import Evaluation, VersionSample
from infra.canary.psi import psi
from infra.settings.serving import CanaryAnalysis, ModelSettings


class Verdict(StrEnum):
    PROMOTE = "promote"  # to the next traffic step
    COMPLETE = "complete"  # the next step is 100 %: the canary becomes stable
    ROLLBACK = "rollback"  # canary removed, stable takes all traffic
    HOLD = "hold"  # change nothing


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
        return self.verdict is not Verdict.HOLD


def _traffic(v: VersionSample) -> tuple[float | None, str]:
    return (v.exec_requests, "executor") if v.exec_requests else (v.requests, "model")


def _error_rate(v: VersionSample) -> tuple[float | None, str]:
    requests, source = _traffic(v)
    errors = v.exec_errors if source == "executor" else v.errors
    if not requests:
        return None, source
    return (errors or 0.0) / requests, source


def _p99_ms(v: VersionSample) -> tuple[float | None, str]:
    seconds, source = (v.exec_p99_s, "executor") if v.exec_p99_s is not None else (v.p99_s, "model")
    return (None if seconds is None else seconds * 1000.0), source


def _within(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def judge(a: CanaryAnalysis, ev: Evaluation) -> Judgement:
    """One evaluation: pass, fail or insufficient, with every check's numbers."""
    (c_req, source), (s_req, _) = _traffic(ev.canary), _traffic(ev.stable)
    enough = (c_req or 0) >= a.min_requests_per_version and (s_req or 0) >= a.min_requests_per_version
    requests = Check("requests", source, c_req, s_req, a.min_requests_per_version, enough)
    (c_err, err_src), (s_err, _) = _error_rate(ev.canary), _error_rate(ev.stable)
    (c_p99, p99_src), (s_p99, _) = _p99_ms(ev.canary), _p99_ms(ev.stable)
    drift = psi(ev.canary.scores, ev.stable.scores)
    checks = (
        Check("error rate", err_src, c_err, s_err, a.max_error_rate, _within(c_err, a.max_error_rate)),
        Check("p99 latency", p99_src, c_p99, s_p99, a.max_p99_latency_ms,
              _within(c_p99, a.max_p99_latency_ms)),
        Check("score PSI", "model", drift, None, a.max_score_psi, _within(drift, a.max_score_psi)),
    )  # fmt: skip
    failed = [c for c in checks if c.ok is False]
    unknown = [c for c in checks if c.ok is None]
    if not enough:
        outcome = Outcome.INSUFFICIENT
        why = (
            f"too little traffic: canary {_count(c_req)}, stable {_count(s_req)} requests in {ev.window} "
            f"(need >= {a.min_requests_per_version} each)"
        )
    elif failed:
        outcome, why = (
            Outcome.FAIL,
            "; ".join(f"{describe(c, c.canary)} > {in_unit(c, c.limit)}" for c in failed),
        )
    elif unknown:
        outcome, why = Outcome.INSUFFICIENT, "not measurable: " + ", ".join(c.name for c in unknown)
    else:
        outcome, why = (
            Outcome.PASS,
            "within every threshold: " + ", ".join(describe(c, c.canary) for c in checks),
        )
    return Judgement(ev.at, outcome, requests, checks, why)


def next_step(steps: Sequence[int], weight: int) -> int:
    """The first step above `weight` (steps end at 100, and a canary's weight is at most 99)."""
    return next(s for s in steps if s > weight)


def decide(model: ModelSettings, evaluations: Sequence[Evaluation]) -> Decision:
    """Judge the newest `failure_threshold` evaluations (newest first) and decide."""
    if model.canary is None:
        raise ValueError(f"model {model.name!r} has no canary to analyse")
    a, weight = model.canary.analysis, model.canary.weight
    judged = tuple(judge(a, ev) for ev in evaluations[: a.failure_threshold])
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
    return f"{value:.4g}"


def describe(check: Check, value: float | None) -> str:
    return f"{check.name} {in_unit(check, value)}"
