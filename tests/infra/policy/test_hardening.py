"""The hardening and capacity rules: each passes a good input and blocks a bad one, naming the resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.policy import capacity, hardening
from infra.policy.rules import NODE_GROUP_TYPE, Resource, resource_from_k8s
from tests.infra.policy.test_policy import HARDENED, container, predictor, sdep


def pod_with(context: dict[str, Any], pod_context: dict[str, Any] | None = None) -> Resource:
    pod: dict[str, Any] = {"containers": [container(securityContext=context)]}
    if pod_context is not None:
        pod["securityContext"] = pod_context
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}}
    return resource_from_k8s({**obj, "spec": {"template": {"spec": pod}}})


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in HARDENED.items() if k != key}


def test_run_as_non_root_blocks_a_container_that_may_run_as_root() -> None:
    assert hardening.run_as_non_root(pod_with(HARDENED)) == []
    (error,) = hardening.run_as_non_root(pod_with(without("runAsNonRoot")))
    assert error.startswith("Deployment 'ns/web' template: container 'ranker' may run as root")
    # The pod-level setting covers containers that do not set it (the operator-injected executor).
    assert hardening.run_as_non_root(pod_with(without("runAsNonRoot"), {"runAsNonRoot": True})) == []
    assert hardening.run_as_non_root(pod_with({**HARDENED, "runAsUser": 0}))


def test_read_only_root_filesystem_blocks_a_writable_root() -> None:
    assert hardening.read_only_root_filesystem(pod_with(HARDENED)) == []
    (error,) = hardening.read_only_root_filesystem(pod_with({**HARDENED, "readOnlyRootFilesystem": False}))
    assert "'ns/web'" in error and "writable root filesystem" in error


def test_capabilities_must_drop_all_and_add_none() -> None:
    assert hardening.drop_all_capabilities(pod_with(HARDENED)) == []
    errors = hardening.drop_all_capabilities(pod_with({**HARDENED, "capabilities": {"add": ["NET_RAW"]}}))
    assert [e.split(": ")[-1] for e in errors] == [
        "container 'ranker' does not drop ALL capabilities",
        "container 'ranker' adds capabilities ['NET_RAW']",
    ]


def test_seccomp_needs_a_profile_from_the_container_or_the_pod() -> None:
    assert hardening.seccomp_profile(pod_with(HARDENED)) == []
    (error,) = hardening.seccomp_profile(pod_with({**HARDENED, "seccompProfile": {"type": "Unconfined"}}))
    assert "no RuntimeDefault or Localhost seccomp profile" in error
    pod_level = {"seccompProfile": {"type": "RuntimeDefault"}}
    assert hardening.seccomp_profile(pod_with(without("seccompProfile"), pod_level)) == []


def eks(**vpc: Any) -> Resource:
    return Resource(hardening.EKS_CLUSTER_TYPE, "rankship-prod", {"vpcConfig": vpc})


def test_public_cidrs_are_blocked_on_the_api_endpoint_and_security_groups() -> None:
    assert hardening.no_public_cidrs(eks(endpointPublicAccess=False)) == []
    assert (
        hardening.no_public_cidrs(eks(endpointPublicAccess=True, publicAccessCidrs=["52.94.76.0/22"])) == []
    )
    # No CIDRs with a public endpoint means EKS's default, 0.0.0.0/0.
    for vpc in ({"endpointPublicAccess": True}, {"publicAccessCidrs": ["0.0.0.0/0"]}):
        (error,) = hardening.no_public_cidrs(eks(**vpc))
        assert error == "Cluster 'rankship-prod': public API endpoint open to the whole Internet"
    group = Resource(
        "aws:ec2/securityGroup:SecurityGroup", "nodes", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"]}]}
    )
    assert hardening.no_public_cidrs(group) == ["SecurityGroup 'nodes': ingress from 0.0.0.0/0"]


def policy(*statements: dict[str, Any]) -> Resource:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return Resource("aws:iam/rolePolicy:RolePolicy", "reader", {"policy": document})


def test_iam_wildcards_are_blocked() -> None:
    read = {"Effect": "Allow", "Action": ["ec2:DescribeImages"], "Resource": ["*"]}
    scoped = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/bundles/*"}
    conditioned = {"Effect": "Allow", "Action": ["autoscaling:SetDesiredCapacity"], "Resource": "*",
                   "Condition": {"StringEquals": {"aws:ResourceTag/x": "owned"}}}  # fmt: skip
    assert hardening.no_iam_wildcards(policy(read, scoped, conditioned)) == []
    (star,) = hardening.no_iam_wildcards(policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:x"}))
    assert star == "RolePolicy 'reader' statement 0: wildcard action 's3:*'"
    (anything,) = hardening.no_iam_wildcards(
        policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})
    )
    assert anything == "RolePolicy 'reader' statement 0: 's3:PutObject' on every resource (*)"


def service(annotations: dict[str, str], **spec: Any) -> Resource:
    meta = {"name": "gw", "namespace": "istio-system", "annotations": annotations}
    return resource_from_k8s({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})


def test_load_balancers_must_be_internal_or_restricted() -> None:
    assert (
        hardening.internal_load_balancers(
            service(dict(hardening.INTERNAL_LB_ANNOTATIONS), type="LoadBalancer")
        )
        == []
    )
    assert (
        hardening.internal_load_balancers(
            service({}, type="LoadBalancer", loadBalancerSourceRanges=["52.94.76.0/22"])
        )
        == []
    )
    assert hardening.internal_load_balancers(service({}, type="NodePort")) == []
    (error,) = hardening.internal_load_balancers(service({}, type="LoadBalancer"))
    assert error.startswith("Service 'istio-system/gw': internet-facing LoadBalancer")
    release = Resource(
        hardening.HELM_RELEASE_TYPE,
        "gateway",
        {"chart": "gateway", "values": {"service": {"type": "LoadBalancer"}}},
    )
    assert hardening.internal_load_balancers(release)


def pool(name: str, instance: str, max_size: int, **labels: str) -> Resource:
    props = {"instanceTypes": [instance], "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": max_size},
             "labels": {"rankship.io/pool": name, **labels}, "taints": []}  # fmt: skip
    if "gpus" in labels:
        props["labels"] = {"rankship.io/pool": name, "rankship.io/gpus-per-node": labels["gpus"]}
        props["taints"] = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    return Resource(NODE_GROUP_TYPE, name, props)


def ranker(max_replicas: int, cpu: str, gpu: bool = False, pool_name: str = "serving") -> Resource:
    limits = {"cpu": cpu, "memory": "1Gi", **({"nvidia.com/gpu": "1"} if gpu else {})}
    c = container(resources={"requests": {"cpu": cpu, "memory": "1Gi"}, "limits": limits})
    pod: dict[str, Any] = {"containers": [c], "nodeSelector": {"rankship.io/pool": pool_name}}
    if gpu:
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    p = predictor("stable", 100, **pod)
    p["componentSpecs"][0]["hpaSpec"] = {"maxReplicas": max_replicas}
    p["svcOrchSpec"] = {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    return sdep(p)


def test_node_shapes_by_hand() -> None:
    # m6i.4xlarge: 16 vCPUs, 64 GiB -> 16 * 0.9 - 0.25 = 14.15 cores, 64 * 0.85 - 0.5 = 53.9 GiB.
    shape = capacity.node_shape("m6i.4xlarge", 0)
    assert (
        shape is not None
        and shape.cpu == pytest.approx(14.15)
        and shape.memory == pytest.approx(53.9 * 2**30)
    )
    # Pods of 4.1 cores fit 3 to such a node (14.15 / 4.1 = 3.45).
    assert capacity.pods_per_node(capacity.Shape(4.1, 2**30, 0), shape) == 3
    assert capacity.node_shape("t3.micro", 0) is None


def test_hpa_ceilings_must_fit_the_pools_max_size() -> None:
    # 24 pods of 4.1 cores at 3 per m6i.4xlarge need 8 nodes.
    fits = [pool("serving", "m6i.4xlarge", 8), ranker(24, "4")]
    assert capacity.workloads_fit_node_pools(fits) == []
    (error,) = capacity.workloads_fit_node_pools([pool("serving", "m6i.4xlarge", 7), ranker(24, "4")])
    assert "24 pods at their ceilings need 8 nodes of ['serving'], which scale to 7" in error


def test_gpu_ceilings_count_gpus_per_node() -> None:
    # The old prod shape: 12 + 12 GPU replicas against 12 single-GPU nodes.
    gpu_pool = pool("gpu-a10g", "g5.2xlarge", 12, gpus="1")
    both = [
        gpu_pool,
        ranker(12, "4", gpu=True, pool_name="gpu-a10g"),
        ranker(12, "4", gpu=True, pool_name="gpu-a10g"),
    ]
    errors = capacity.workloads_fit_node_pools(both)
    assert errors and "need 24 nodes of ['gpu-a10g'], which scale to 12" in errors[0]
    (error,) = capacity.workloads_fit_node_pools(
        [pool("serving", "m6i.4xlarge", 8), ranker(1, "1", gpu=True)]
    )
    assert "one pod needs more than a node of ['serving'] has" in error


def test_no_declared_node_groups_means_nothing_to_check() -> None:
    assert capacity.workloads_fit_node_pools([ranker(100, "64")]) == []
