"""How each track scales: canary and shadow start from one replica unless told otherwise.

A canary at 10 % of the traffic needs a tenth of stable's pods, so copying stable's minimum would pay for
idle replicas; it may still grow to stable's ceiling when it takes more traffic.
"""

from __future__ import annotations

from pathlib import Path

from infra.settings.serving import Autoscaling, ModelSettings
from infra.settings.stack import load_stack_settings
from infra.specs.seldon import predictors

FIXTURES = Path(__file__).resolve().parents[1] / "gitops" / "fixtures"


def _model(**updates: object) -> ModelSettings:
    model = load_stack_settings("fixture", FIXTURES).models[0]
    return model.model_copy(update=updates)


def test_canary_without_its_own_autoscaling_starts_at_one_with_stables_ceiling() -> None:
    stable = Autoscaling(min_replicas=3, max_replicas=10, target_cpu_utilization=55)
    model = _model(autoscaling=stable)
    assert model.canary is not None and model.canary.autoscaling is None
    by_track = {p.track: p.autoscaling for p in predictors(model)}
    assert by_track["stable"] == stable
    assert by_track["canary"] == Autoscaling(min_replicas=1, max_replicas=10, target_cpu_utilization=55)


def test_a_canarys_own_autoscaling_wins() -> None:
    model = _model(autoscaling=Autoscaling(min_replicas=3, max_replicas=10))
    assert model.canary is not None
    own = Autoscaling(min_replicas=2, max_replicas=5, target_cpu_utilization=80)
    model = model.model_copy(update={"canary": model.canary.model_copy(update={"autoscaling": own})})
    assert {p.track: p.autoscaling for p in predictors(model)}["canary"] == own
