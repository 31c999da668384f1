"""The rules at their edges: bounds met exactly, the taint tolerations Kubernetes accepts and those it does
not, how a GPU node group is recognised, and the exact messages a reviewer reads in `pulumi preview`."""

from __future__ import annotations

from typing import Any

import pytest

from infra.policy import rules
from infra.policy.rules import NODE_GROUP_TYPE, Resource, resource_from_k8s
from tests.infra.policy.test_hardening import pool, ranker
from tests.infra.policy.test_interleave_rules import interleaving
from tests.infra.policy.test_policy import GPU_TAINT, container, job, node_group, predictor, sdep

LABEL = "SeldonDeployment 'serving/search-ranker'"


def test_a_predictor_at_zero_or_without_traffic_adds_nothing() -> None:
    assert rules.traffic_weights(sdep(predictor("stable", 100), predictor("canary", 0))) == []
    canary = predictor("canary", 0)
    del canary["traffic"]
    (error,) = rules.traffic_weights(sdep(predictor("stable", 90), canary))
    assert error == f"{LABEL}: traffic of non-shadow predictors sums to 90, not 100 (stable=90, canary=0)"


def test_a_shadow_combiner_is_not_an_interleaving_predictor() -> None:
    shadow = {**interleaving(0, ("MODEL",)), "shadow": True}
    assert rules.interleaving_predictors(sdep(predictor("stable", 100), shadow)) == []


def test_one_percent_of_traffic_beside_the_combiner_is_a_stable_predictor() -> None:
    assert rules.interleaving_predictors(sdep(predictor("stable", 1), interleaving(99))) == []


def test_interleaving_messages_in_full() -> None:
    (alone,) = rules.interleaving_predictors(sdep(interleaving(100)))
    assert alone == (
        f"{LABEL}: interleaving predictor 'interleave' is the only one with traffic; "
        "it needs a stable predictor beside it"
    )
    (one,) = rules.interleaving_predictors(sdep(predictor("stable", 90), interleaving(10, ("MODEL",))))
    assert (
        one == f"{LABEL}: interleaving predictor 'interleave' needs exactly two MODEL children, has ['MODEL']"
    )


def test_two_predictors_sharing_a_version_label_are_both_named() -> None:
    stable, canary, shadow = predictor("stable", 90), predictor("canary", 10), predictor("shadow", 0, True)
    canary["labels"] = {"version": "stable"}
    shadow["labels"] = {"version": "stable"}
    assert rules.predictor_version_labels(sdep(stable, canary, shadow)) == [
        f"{LABEL}: predictors 'stable' and 'canary' share labels.version 'stable', "
        "so their Istio subsets select the same pods",
        f"{LABEL}: predictors 'stable' and 'shadow' share labels.version 'stable', "
        "so their Istio subsets select the same pods",
    ]


def test_a_predictor_without_a_version_annotation_is_named() -> None:
    canary = predictor("canary", 10)
    canary["annotations"] = {}
    assert rules.predictor_version_labels(sdep(predictor("stable", 90), canary)) == [
        f"{LABEL}: predictor 'canary' has no version annotation (the bundle version)"
    ]


def test_a_container_without_any_limit_misses_both() -> None:
    bare = container(resources={})
    (error,) = rules.container_limits(sdep(predictor("stable", 100, containers=[bare])))
    assert error.endswith(": container 'ranker' has no cpu/memory limit")


GPU = {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}


def tolerates(toleration: dict[str, Any], resources: dict[str, Any] = GPU) -> bool:
    gpu_pod = predictor("stable", 100, containers=[container(resources=resources)], tolerations=[toleration])
    return rules.gpu_workloads_tolerate_taint(sdep(gpu_pod)) == []


@pytest.mark.parametrize(
    "toleration",
    [
        {"operator": "Exists"},  # no key and Exists: tolerates every taint
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": ""},  # an empty effect matches all effects
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
    ],
)
def test_tolerations_that_match_the_gpu_taint(toleration: dict[str, Any]) -> None:
    assert tolerates(toleration)


@pytest.mark.parametrize(
    "toleration",
    [
        {"operator": "Equal", "value": "present", "effect": "NoSchedule"},  # no key needs Exists
        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"},  # another taint
        {"key": "dedicated", "value": "present", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "absent", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"},  # another effect
    ],
)
def test_tolerations_that_do_not_match_the_gpu_taint(toleration: dict[str, Any]) -> None:
    assert not tolerates(toleration)


def test_a_gpu_in_the_requests_only_still_needs_the_toleration() -> None:
    requests_only = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"nvidia.com/gpu": "1"}}
    assert not tolerates({"key": "dedicated", "operator": "Exists"}, requests_only)


@pytest.mark.parametrize(
    ("ami", "instances"),
    [
        ("AL2_x86_64_GPU", []),  # a GPU AMI with the instance types left to a launch template
        ("AL2023_x86_64_NVIDIA", ["m6i.large"]),
        ("AL2023_x86_64_STANDARD", ["m6i.large", "g5.xlarge"]),  # one GPU type among CPU ones
        (None, ["p4d.24xlarge"]),
    ],
)
def test_a_gpu_node_group_is_recognised_by_its_ami_or_any_instance_type(
    ami: str | None, instances: list[str]
) -> None:
    group = Resource(NODE_GROUP_TYPE, "pool", {"amiType": ami, "instanceTypes": instances, "taints": []})
    assert len(rules.gpu_pools_tainted(group)) == 1


def test_a_cron_job_of_another_api_group_is_no_batch_cron_job() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {}}
    assert rules.jobs_have_deadlines(resource_from_k8s(obj)) == []


def test_a_one_second_deadline_is_a_deadline() -> None:
    assert rules.jobs_have_deadlines(job(activeDeadlineSeconds=1, backoffLimit=0)) == []


@pytest.mark.parametrize("sizes", [(2, 2, 2), (0, 3, 3), (0, 1, 100)])
def test_node_pool_bounds_are_inclusive(sizes: tuple[int, int, int]) -> None:
    assert rules.bounded_node_pools(node_group([GPU_TAINT], sizes)) == []


def test_evaluate_stack_prefixes_each_violation_with_its_rule() -> None:
    # 24 pods of 4.1 cores at 3 per m6i.4xlarge need 8 nodes; the pool scales to 7 (test_hardening.py).
    (violation,) = rules.evaluate_stack([pool("serving", "m6i.4xlarge", 7), ranker(24, "4")])
    assert violation.startswith("[workloads-fit-node-pools] ")
    assert "24 pods at their ceilings need 8 nodes of ['serving'], which scale to 7" in violation
