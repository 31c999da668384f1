"""A whole analysis run: the live check gates the metrics, re-runs are idempotent, exit codes rank."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from infra.canary.analyze import (
    EXIT_HOLD,
    EXIT_PROMOTE,
    EXIT_ROLLBACK,
    EXIT_STALLED,
    EXIT_UNREADABLE,
    analyze_stack,
    exit_code,
)
from infra.canary.apply import apply
from infra.canary.decide import Verdict, hold
from infra.canary.prometheus import Series
from infra.live.kube import Kube, KubeError
from infra.settings.stack import StackSettings, load_stack_settings
from infra.specs.seldon import seldon_deployment
from tests.infra.canary.conftest import STACK

END = 1_800_000_000.0


class HealthyPrometheus:
    """Every query answers a healthy canary: 300 requests, no errors, p99 40 ms, the score shape of its own
    offline histogram, 3000 impressions with feedback of which 1500 clicked at position 1."""

    def __init__(self) -> None:
        self.calls = 0

    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        self.calls += 1
        times = [start + i * step_s for i in range(int((end - start) // step_s) + 1)]
        if "seldon_api_executor" in expr or "rankship_errors_total" in expr or "istio_" in expr:
            return []
        value = 0.04 if "histogram_quantile" in expr else 300.0
        if "rankship_feedback_total" in expr:
            value = 3000.0  # over the feedback window (10m)
        elif "rankship_feedback_" in expr:
            value = 1500.0  # clicked, reciprocal rank and its square: every click at position 1
        out = []
        for version in ("a1a1a1a1a1a1", "b2b2b2b2b2b2"):
            if "rankship_scores_total" in expr or "rankship_offline_scores" in expr:
                scale = 1.0 if "rankship_scores_total" in expr else 0.1
                for le, count in (("0.0", 600.0), ("+Inf", 1200.0)):
                    labels = {"bundle_version": version, "le": le}
                    out.append(Series(labels, dict.fromkeys(times, count * scale)))
            else:
                out.append(Series({"bundle_version": version}, dict.fromkeys(times, value)))
        return out


def live_from(settings: StackSettings) -> Any:
    """A live source that shows what `settings` render, Available (a finished rollout of those settings)."""
    objects = {
        m.name: {**seldon_deployment(settings, m), "status": {"state": "Available"}} for m in settings.models
    }
    return lambda namespace, name: objects.get(name)


def test_healthy_metrics_are_not_judged_before_the_rollout(settings: StackSettings) -> None:
    pending = settings.model_copy(deep=True)
    live = live_from(load_stack_settings(STACK, Path(__file__).parent / "fixtures"))
    # The cluster still runs an older split than the settings say: 75/25 instead of 90/10.
    old = live("rankship-serving", "search-ranker")
    old["spec"]["predictors"][0]["traffic"], old["spec"]["predictors"][1]["traffic"] = 75, 25
    prom = HealthyPrometheus()
    [d] = analyze_stack(pending, prom, END, live)
    assert d.verdict is Verdict.HOLD and not d.unreadable
    assert (
        "the live rollout differs from the settings" in d.reason
        and "has traffic 25, settings say 10" in d.reason
    )
    assert prom.calls == 0  # metrics of a rollout that has not happened are never asked for


def test_a_rerun_before_the_rollout_changes_nothing(stack_root: Path) -> None:
    before = load_stack_settings(STACK, stack_root)
    live = live_from(before)  # the cluster runs what the settings said before the first decision
    first = analyze_stack(before, HealthyPrometheus(), END, live)
    assert [d.verdict for d in first] == [Verdict.PROMOTE]
    apply(stack_root, STACK, first, stack_root / "manifests")
    written = (stack_root / "Pulumi.canary.yaml").read_bytes()
    second = analyze_stack(load_stack_settings(STACK, stack_root), HealthyPrometheus(), END, live)
    assert [d.verdict for d in second] == [Verdict.HOLD]
    assert not apply(stack_root, STACK, second, stack_root / "manifests").settings_changed
    assert (stack_root / "Pulumi.canary.yaml").read_bytes() == written


def test_an_unreadable_cluster_holds_with_its_own_exit_code(settings: StackSettings) -> None:
    def broken(namespace: str, name: str) -> None:
        raise KubeError("reading SeldonDeployment rankship-serving/search-ranker: HTTP 403 Forbidden")

    [d] = analyze_stack(settings, HealthyPrometheus(), END, broken)
    assert d.verdict is Verdict.HOLD and d.unreadable and "HTTP 403 Forbidden" in d.reason
    assert exit_code([d]) == EXIT_UNREADABLE


def test_exit_codes_rank_rollback_over_promote_over_hold(settings: StackSettings) -> None:
    [promote] = analyze_stack(settings, HealthyPrometheus(), END, None)
    model = settings.models[0]
    waiting, unreadable = hold(model, "too little traffic", False), hold(model, "no Prometheus", True)
    rollback = dataclasses.replace(promote, verdict=Verdict.ROLLBACK, new_weight=0)
    assert exit_code([promote]) == EXIT_PROMOTE
    assert exit_code([waiting]) == EXIT_HOLD
    assert exit_code([waiting, unreadable]) == EXIT_UNREADABLE
    assert exit_code([unreadable, promote]) == EXIT_PROMOTE
    assert exit_code([promote, rollback]) == EXIT_ROLLBACK
    stalled = dataclasses.replace(waiting, verdict=Verdict.STALLED)
    assert exit_code([promote, stalled]) == EXIT_STALLED
    assert exit_code([stalled, rollback]) == EXIT_ROLLBACK
    assert exit_code([unreadable, stalled]) == EXIT_STALLED


def test_a_hold_past_the_progress_deadline_is_stalled(settings: StackSettings) -> None:
    # Fixture: max_holds 5 x interval 1m = 300 s at one step. No feedback at all: every evaluation holds.
    class NoClicks(HealthyPrometheus):
        def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
            return [] if "rankship_feedback" in expr else super().range_query(expr, start, end, step_s)

    [young] = analyze_stack(settings, NoClicks(), END, None, held_for=lambda model: 299.0)
    assert young.verdict is Verdict.HOLD and "CTR (feedback: canary no, stable no" in young.reason
    [old] = analyze_stack(settings, NoClicks(), END, None, held_for=lambda model: 300.0)
    assert old.verdict is Verdict.STALLED and exit_code([old]) == EXIT_STALLED
    assert old.reason.startswith(
        "no decision after 5 min at 10 % (progress deadline: max_holds 5 x interval 1m)"
    )
    assert not old.changes_settings
    # A decision is never overridden by the deadline; an unreadable Prometheus is its own failure (exit 11).
    [promote] = analyze_stack(settings, HealthyPrometheus(), END, None, held_for=lambda model: 9999.0)
    assert promote.verdict is Verdict.PROMOTE


def test_only_models_with_a_canary_are_analysed(settings: StackSettings) -> None:
    assert [d.model for d in analyze_stack(settings, HealthyPrometheus(), END, None)] == ["search-ranker"]
    assert analyze_stack(settings, HealthyPrometheus(), END, None, only="reco-ranker") == []


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeError, match=r"no usable cluster credentials .*nope.*context kind-x"):
        Kube.connect(str(tmp_path / "nope"), "kind-x")
