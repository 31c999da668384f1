"""The live check on objects shaped like the API server's answer for a SeldonDeployment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.canary.live import expected_predictors, rollout_problems
from infra.settings.stack import StackSettings
from infra.specs.seldon import seldon_deployment

NS = "rankship-serving"


def live_object(settings: StackSettings, state: str = "Available") -> dict[str, Any]:
    """What `kubectl get sdep -o json` shows after the operator reconciled the rendered object."""
    obj = copy.deepcopy(seldon_deployment(settings, settings.models[0]))
    obj["metadata"].update({"uid": "0c1d", "resourceVersion": "4711", "generation": 3})
    for p in obj["spec"]["predictors"]:
        p.setdefault("replicas", 1)  # the operator's defaults
    obj["status"] = {
        "state": state,
        "deploymentStatus": {
            f"search-ranker-{p['name']}-0-ranker": {"availableReplicas": 1} for p in obj["spec"]["predictors"]
        },
    }
    return obj


def test_the_settings_render_the_expected_predictors(settings: StackSettings) -> None:
    assert expected_predictors(settings.models[0]) == {
        "stable": ("a1a1a1a1a1a1", 90),
        "canary": ("b2b2b2b2b2b2", 10),
    }


def test_a_finished_rollout_has_no_problems(settings: StackSettings) -> None:
    assert rollout_problems(settings.models[0], live_object(settings), NS) == []


def test_a_missing_deployment_is_named(settings: StackSettings) -> None:
    assert rollout_problems(settings.models[0], None, NS) == [
        "SeldonDeployment rankship-serving/search-ranker not found in the cluster"
    ]


def test_old_weights_mean_the_last_decision_is_not_live_yet(settings: StackSettings) -> None:
    live = live_object(settings)
    live["spec"]["predictors"][0]["traffic"], live["spec"]["predictors"][1]["traffic"] = 75, 25
    assert rollout_problems(settings.models[0], live, NS) == [
        "SeldonDeployment rankship-serving/search-ranker: predictor 'canary' has traffic 25, settings say 10",
        "SeldonDeployment rankship-serving/search-ranker: predictor 'stable' has traffic 75, settings say 90",
    ]


def test_a_different_version_is_named(settings: StackSettings) -> None:
    live = live_object(settings)
    live["spec"]["predictors"][1]["annotations"]["version"] = "ffffffffffff"
    [problem] = rollout_problems(settings.models[0], live, NS)
    assert problem.endswith("predictor 'canary' runs version ffffffffffff, settings say b2b2b2b2b2b2")


def test_a_canary_not_deployed_yet_and_an_unknown_one(settings: StackSettings) -> None:
    live = live_object(settings)
    live["spec"]["predictors"][1]["name"] = "experiment"
    problems = rollout_problems(settings.models[0], live, NS)
    assert any("predictor 'canary' (version b2b2b2b2b2b2) is not live yet" in p for p in problems)
    assert any(
        "live predictor 'experiment' (version b2b2b2b2b2b2) is not in the settings" in p for p in problems
    )


@pytest.mark.parametrize("state", ["Creating", "Failed"])
def test_a_deployment_that_is_not_available_is_not_judged(settings: StackSettings, state: str) -> None:
    live = live_object(settings, state)
    live["status"]["description"] = "Deployment search-ranker-canary-0-ranker not ready"
    assert rollout_problems(settings.models[0], live, NS) == [
        f"SeldonDeployment rankship-serving/search-ranker is {state}, not Available: "
        "Deployment search-ranker-canary-0-ranker not ready"
    ]


def test_an_object_without_status_or_spec_is_reported_not_crashed_on(settings: StackSettings) -> None:
    problems = rollout_problems(settings.models[0], {"metadata": {"name": "search-ranker"}}, NS)
    assert len(problems) == 3  # two predictors missing, no status
    assert problems[-1].endswith("is without status, not Available")
