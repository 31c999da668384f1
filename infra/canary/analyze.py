"""One analysis run: for every model of a stack with a canary, check the live rollout, measure, decide.

Exit codes (the contract with `.github/workflows/canary.yml`), worst first over the stack's models:

    20  rollback (at least one model): the workflow applies it at once
    30  stalled: a hold past the progress deadline (`max_holds` intervals at one step): the workflow fails
     0  promote or complete (at least one model, none rolled back or stalled)
    11  hold: Prometheus or the cluster could not be read (the reason is printed): the workflow fails
    10  hold: not enough evidence yet, the live rollout is not there yet, or no model has a canary
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from infra.canary.decide import Decision, Verdict, decide, hold, past_deadline
from infra.canary.live import rollout_problems
from infra.canary.measure import RangeQuerier, measure
from infra.canary.prometheus import PrometheusError
from infra.canary.queries import Target
from infra.live.kube import KubeError
from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings

EXIT_PROMOTE, EXIT_HOLD, EXIT_UNREADABLE, EXIT_ROLLBACK, EXIT_STALLED = 0, 10, 11, 20, 30

# (namespace, name) -> the live SeldonDeployment as the API returns it, or None when it does not exist.
LiveSource = Callable[[str, str], dict[str, Any] | None]
# model name -> seconds the canary has been at its current (version, weight) step; None: unknown.
HeldFor = Callable[[str], float | None]


def analyze_model(
    settings: StackSettings,
    model: ModelSettings,
    prom: RangeQuerier,
    end: float,
    live: LiveSource | None,
    held_for: HeldFor = lambda _: None,
    deployed_for: HeldFor = lambda _: None,
) -> Decision:
    """The decision for one model with a canary; `live` None skips the live check (no cluster).
    `held_for`: the step's age (progress deadline); `deployed_for`: the canary bundle's age (windows that
    start before it are another rollout's and are not judged)."""
    age = deployed_for(model.name)
    decision = _analyze_model(settings, model, prom, end, live, None if age is None else end - age)
    return past_deadline(decision, held_for(model.name))


def _analyze_model(
    settings: StackSettings,
    model: ModelSettings,
    prom: RangeQuerier,
    end: float,
    live: LiveSource | None,
    not_before: float | None,
) -> Decision:
    assert model.canary is not None
    namespace = settings.serving.namespace
    if live is not None:
        try:
            current = live(namespace, model.name)
        except KubeError as e:
            return hold(model, f"cluster unreadable, nothing judged: {e}", unreadable=True)
        problems = rollout_problems(model, current, namespace)
        if problems:
            return hold(model, "the live rollout differs from the settings: " + "; ".join(problems), False)
    target = Target(namespace, model.name, model.stable.bundle.version, model.canary.bundle.version)
    try:
        evaluations = measure(prom, target, model.canary.analysis, end, model.canary.interleave)
    except PrometheusError as e:
        return hold(model, f"no measurement, nothing judged: {e}", unreadable=True)
    return decide(model, evaluations, not_before)


def analyze_stack(
    settings: StackSettings,
    prom: RangeQuerier,
    end: float,
    live: LiveSource | None,
    only: str | None = None,
    held_for: HeldFor = lambda _: None,
    deployed_for: HeldFor = lambda _: None,
) -> list[Decision]:
    """Decisions for the stack's models that have a canary (or just model `only`)."""
    return [
        analyze_model(settings, m, prom, end, live, held_for, deployed_for)
        for m in settings.models
        if m.canary is not None and only in (None, m.name)
    ]


def exit_code(decisions: Sequence[Decision]) -> int:
    verdicts = {d.verdict for d in decisions}
    if Verdict.ROLLBACK in verdicts:
        return EXIT_ROLLBACK
    if Verdict.STALLED in verdicts:
        return EXIT_STALLED
    if verdicts & {Verdict.PROMOTE, Verdict.COMPLETE}:
        return EXIT_PROMOTE
    if any(d.unreadable for d in decisions):
        return EXIT_UNREADABLE
    return EXIT_HOLD


def summary_line(d: Decision) -> str:
    change = {
        Verdict.PROMOTE: f"{d.weight} % -> {d.new_weight} %",
        Verdict.COMPLETE: f"{d.weight} % -> stable",
        Verdict.ROLLBACK: f"{d.weight} % -> removed",
        Verdict.HOLD: f"stays at {d.weight} %",
        Verdict.STALLED: f"stuck at {d.weight} %",
    }[d.verdict]
    return f"{d.model}: {d.verdict.value} (canary {d.canary_version} {change}): {d.reason}"
