"""Each CrossGuard rule on a passing and a failing input; the failure names the resource."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.policy import rules
from infra.policy.rules import NODE_GROUP_TYPE, SELDON_TYPE, Resource, resource_from_k8s

DIGEST = "ghcr.io/rankship/ranker-serving@sha256:" + "ab" * 32
HARDENED = {
    "allowPrivilegeEscalation": False,
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}


def container(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": "ranker",
        "image": DIGEST,
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": HARDENED,
    }
    return {**base, **overrides}


def predictor(name: str, traffic: int, shadow: bool = False, **pod: Any) -> dict[str, Any]:
    spec = {"containers": [container()], **pod}
    p = {
        "name": name,
        "traffic": traffic,
        "labels": {"version": name[:12]},
        "annotations": {"version": name[:12]},
        "componentSpecs": [{"spec": spec}],
    }
    return {**p, "shadow": True} if shadow else p


def sdep(*predictors: dict[str, Any]) -> Resource:
    obj = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "search-ranker", "namespace": "serving"},
        "spec": {"predictors": list(predictors)},
    }
    return resource_from_k8s(obj)


def node_group(taints: list[dict[str, str]], sizes: tuple[int, int, int], **props: Any) -> Resource:
    scaling = dict(zip(("minSize", "desiredSize", "maxSize"), sizes, strict=True))
    base = {
        "instanceTypes": ["g5.xlarge"],
        "amiType": "AL2023_x86_64_NVIDIA",
        "taints": taints,
        "scalingConfig": scaling,
    }
    return Resource(NODE_GROUP_TYPE, "gpu-a10g", {**base, **props})


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def test_resource_from_k8s_maps_kind_to_pulumi_type() -> None:
    assert sdep().type == SELDON_TYPE
    assert resource_from_k8s({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}).type == (
        "kubernetes:core/v1:Pod"
    )


def test_traffic_weights_pass_at_100_with_a_shadow() -> None:
    assert (
        rules.traffic_weights(
            sdep(predictor("stable", 90), predictor("canary", 10), predictor("s", 50, True))
        )
        == []
    )


def test_traffic_weights_fail_when_live_split_is_not_100() -> None:
    (error,) = rules.traffic_weights(sdep(predictor("stable", 90), predictor("canary", 20)))
    assert "'serving/search-ranker'" in error and "sums to 110" in error and "canary=20" in error


def test_traffic_weights_fail_with_two_shadows_or_only_a_shadow() -> None:
    two = rules.traffic_weights(
        sdep(predictor("stable", 100), predictor("a", 100, True), predictor("b", 100, True))
    )
    assert any("2 shadow predictors" in e for e in two)
    alone = rules.traffic_weights(sdep(predictor("a", 100, True)))
    assert any("cannot be the only predictor" in e for e in alone)


def test_predictor_version_label_required_on_every_predictor() -> None:
    good = sdep(predictor("stable", 90), predictor("canary", 10))
    assert rules.predictor_version_labels(good) == []
    bad = copy.deepcopy(good.props)
    del bad["spec"]["predictors"][1]["labels"]["version"]
    (error,) = rules.predictor_version_labels(resource_from_k8s(bad))
    assert "predictor 'canary'" in error and "search-ranker" in error


def test_images_pinned_by_digest_rejects_tags() -> None:
    assert rules.images_pinned_by_digest(sdep(predictor("stable", 100))) == []
    tagged = sdep(predictor("stable", 100, containers=[container(image="ghcr.io/rankship/ranker:latest")]))
    (error,) = rules.images_pinned_by_digest(tagged)
    assert "ranker:latest" in error and "not pinned" in error


def test_images_pinned_applies_to_init_containers_of_plain_workloads() -> None:
    pod = {"initContainers": [container(name="init", image="busybox:1.36")], "containers": [container()]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    deployment["spec"] = {"template": {"spec": pod}}
    (error,) = rules.images_pinned_by_digest(resource_from_k8s(deployment))
    assert "Deployment 'web'" in error and "'init'" in error


def test_container_limits_need_cpu_and_memory() -> None:
    assert rules.container_limits(sdep(predictor("stable", 100))) == []
    no_memory = container(resources={"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}})
    (error,) = rules.container_limits(sdep(predictor("stable", 100, containers=[no_memory])))
    assert "no memory limit" in error and "'ranker'" in error


def test_gpu_workloads_must_tolerate_the_gpu_taint() -> None:
    gpu = container(resources={"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}})
    tolerated = sdep(predictor("stable", 100, containers=[gpu], tolerations=[GPU_TOLERATION]))
    assert rules.gpu_workloads_tolerate_taint(tolerated) == []
    (error,) = rules.gpu_workloads_tolerate_taint(sdep(predictor("stable", 100, containers=[gpu])))
    assert "requests nvidia.com/gpu" in error and "predictor 'stable'" in error


def test_gpu_toleration_with_exists_operator_counts_and_cpu_pods_need_none() -> None:
    gpu = container(resources={"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}})
    exists = {"key": "nvidia.com/gpu", "operator": "Exists"}
    assert (
        rules.gpu_workloads_tolerate_taint(sdep(predictor("s", 100, containers=[gpu], tolerations=[exists])))
        == []
    )
    assert rules.gpu_workloads_tolerate_taint(sdep(predictor("s", 100))) == []


def test_gpu_node_groups_must_carry_the_taint() -> None:
    assert rules.gpu_pools_tainted(node_group([GPU_TAINT], (0, 1, 3))) == []
    (error,) = rules.gpu_pools_tainted(node_group([], (0, 1, 3)))
    assert "NodeGroup 'gpu-a10g'" in error and "nvidia.com/gpu=present:NoSchedule" in error


def test_cpu_node_groups_need_no_gpu_taint() -> None:
    cpu = node_group([], (1, 2, 3), instanceTypes=["m6i.large"], amiType="AL2023_x86_64_STANDARD")
    assert rules.gpu_pools_tainted(cpu) == []


def test_no_privileged_containers() -> None:
    privileged = container(securityContext={"privileged": True})
    (error,) = rules.no_privileged_or_host_access(sdep(predictor("stable", 100, containers=[privileged])))
    assert "is privileged" in error and "'ranker'" in error


def test_no_host_network_or_host_path() -> None:
    host = sdep(
        predictor("stable", 100, hostNetwork=True, volumes=[{"name": "docker", "hostPath": {"path": "/"}}])
    )
    errors = rules.no_privileged_or_host_access(host)
    assert any("hostNetwork is not allowed" in e for e in errors)
    assert any("volume 'docker' is a hostPath" in e for e in errors)
    assert rules.no_privileged_or_host_access(sdep(predictor("stable", 100))) == []


@pytest.mark.parametrize(
    ("sizes", "fragment"),
    [((3, 2, 4), "minSize <= desiredSize"), ((0, 1, 101), "exceeds the bound of 100")],
)
def test_node_pools_have_bounded_ordered_sizes(sizes: tuple[int, int, int], fragment: str) -> None:
    assert rules.bounded_node_pools(node_group([GPU_TAINT], (0, 1, 3))) == []
    (error,) = rules.bounded_node_pools(node_group([GPU_TAINT], sizes))
    assert fragment in error and "'gpu-a10g'" in error


def test_node_pools_without_a_max_size_fail() -> None:
    unbounded = Resource(NODE_GROUP_TYPE, "system", {"scalingConfig": {"minSize": 1, "desiredSize": 1}})
    (error,) = rules.bounded_node_pools(unbounded)
    assert "needs minSize, desiredSize and maxSize" in error


def job(containers: list[dict[str, Any]] | None = None, **spec: Any) -> Resource:
    pod = {"containers": containers or [container()], "restartPolicy": "Never"}
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "train", "namespace": "training"}}
    return resource_from_k8s({**obj, "spec": {"template": {"spec": pod}, **spec}})


def test_jobs_need_a_deadline_and_an_explicit_backoff_limit() -> None:
    assert rules.jobs_have_deadlines(job(activeDeadlineSeconds=3600, backoffLimit=0)) == []
    # Pulumi hands CrossGuard numbers as floats.
    assert rules.jobs_have_deadlines(job(activeDeadlineSeconds=3600.0, backoffLimit=2.0)) == []
    missing = rules.jobs_have_deadlines(job())
    assert [e.split(": ", 1)[1] for e in missing] == [
        "no activeDeadlineSeconds (a stuck run would never end)",
        "no backoffLimit (the default retries 6 times)",
    ]
    assert all(e.startswith("Job 'training/train' spec") for e in missing)
    (zero,) = rules.jobs_have_deadlines(job(activeDeadlineSeconds=0, backoffLimitPerIndex=1))
    assert "no activeDeadlineSeconds" in zero


def test_cron_jobs_are_checked_through_their_job_template() -> None:
    template = {"template": {"spec": {"containers": [container()]}}, "backoffLimit": 1}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"}}
    (error,) = rules.jobs_have_deadlines(
        resource_from_k8s({**cron, "spec": {"jobTemplate": {"spec": template}}})
    )
    assert "CronJob 'nightly' jobTemplate: no activeDeadlineSeconds" in error
    assert rules.jobs_have_deadlines(sdep(predictor("stable", 100))) == []


def test_pod_rules_reach_into_job_templates() -> None:
    gpu = container(resources={"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}})
    (error,) = rules.gpu_workloads_tolerate_taint(job([gpu], activeDeadlineSeconds=60, backoffLimit=0))
    assert error.startswith("Job 'training/train' template: requests nvidia.com/gpu")


def test_evaluate_prefixes_each_violation_with_its_rule() -> None:
    violations = rules.evaluate(sdep(predictor("stable", 80)))
    assert violations == [f"[traffic-weights] {rules.traffic_weights(sdep(predictor('stable', 80)))[0]}"]


def test_is_gpu_instance_type_knows_nvidia_families_only() -> None:
    assert all(
        rules.is_gpu_instance_type(t) for t in ("g5.xlarge", "g6e.2xlarge", "p4d.24xlarge", "g4dn.xlarge")
    )
    assert not any(
        rules.is_gpu_instance_type(t) for t in ("m6i.large", "g4ad.xlarge", "c7g.large", "inf2.xlarge")
    )


# The pack itself (`__main__.py` under the real pulumi_policy, over gRPC): tests/infra/policy/test_pack.py.
