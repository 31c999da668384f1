"""The interleaving-predictors rule, on hand-made SeldonDeployments and on the rendered dev stack."""

from __future__ import annotations

from typing import Any

from infra.policy import rules
from infra.specs.seldon import seldon_deployment
from tests.infra.infra_stacks import raw_settings, settings_of
from tests.infra.policy.test_policy import predictor, sdep


def interleaving(traffic: int, children: tuple[str, ...] = ("MODEL", "MODEL")) -> dict[str, Any]:
    p = predictor("interleave", traffic)
    kids = [{"name": f"child-{i}", "type": t, "children": []} for i, t in enumerate(children)]
    p["graph"] = {"name": "interleaver", "type": "COMBINER", "children": kids}
    return p


def test_beside_stable_and_canary_passes_and_weights_still_sum_to_100() -> None:
    res = sdep(predictor("stable", 80), predictor("canary", 10), interleaving(10))
    assert rules.interleaving_predictors(res) == []
    assert rules.traffic_weights(res) == []
    (error,) = rules.traffic_weights(sdep(predictor("stable", 90), predictor("canary", 10), interleaving(10)))
    assert "sums to 110" in error and "interleave=10" in error


def test_the_only_predictor_with_traffic_is_blocked() -> None:
    (alone,) = rules.interleaving_predictors(sdep(interleaving(100)))
    assert (
        "'serving/search-ranker'" in alone and "interleaving predictor 'interleave' is the only one" in alone
    )
    # Beside a plain predictor at 0 % it is still alone in practice.
    (starved,) = rules.interleaving_predictors(sdep(predictor("stable", 0), interleaving(100)))
    assert "is the only one with traffic" in starved


def test_needs_exactly_two_model_children() -> None:
    (one,) = rules.interleaving_predictors(sdep(predictor("stable", 90), interleaving(10, ("MODEL",))))
    assert "needs exactly two MODEL children, has ['MODEL']" in one
    (router,) = rules.interleaving_predictors(
        sdep(predictor("stable", 90), interleaving(10, ("MODEL", "ROUTER")))
    )
    assert "has ['MODEL', 'ROUTER']" in router


def test_the_rendered_dev_stack_passes_every_rule() -> None:
    settings = settings_of(raw_settings("dev"))
    obj = seldon_deployment(settings, settings.models[0])
    assert [p["name"] for p in obj["spec"]["predictors"]] == ["stable", "canary", "interleave"]
    assert rules.evaluate(rules.resource_from_k8s(obj)) == []
