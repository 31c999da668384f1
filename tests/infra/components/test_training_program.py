"""The training Job in the Pulumi program, under mocks: declared only for `runner: cluster`, with GPUs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from tests.infra.infra_mocks import (
    ISSUER,
    PlausibleMocks,
    ProgramRun,
    RecordingMonitor,
    run_main,
    run_program,
)
from tests.infra.infra_stacks import raw_settings, settings_of

# pulumi_aws warns about its own deprecated modules on import; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

JOB = "kubernetes:batch/v1:Job"
COMPONENT = "rankship:k8s:TrainingJob"
ROLE = "aws:iam/role:Role"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def staging() -> ProgramRun:
    return run_program(settings_of(raw_settings("staging")), "staging")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program(settings_of(raw_settings("prod")), "prod")


def pod(run: ProgramRun) -> dict[str, Any]:
    spec: dict[str, Any] = run.named(JOB, "job-rankship-train-1").inputs["spec"]["template"]["spec"]
    return spec


def test_the_job_requests_gpus_and_tolerates_the_taint(staging: ProgramRun) -> None:
    spec = pod(staging)
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["tolerations"] == [GPU_TOLERATION]
    assert spec["nodeSelector"]["rankship.io/gpu-type"] == "nvidia-l4"


def test_worker_hosts_match_the_replicas(staging: ProgramRun) -> None:
    job = staging.named(JOB, "job-rankship-train-1").inputs["spec"]
    env = {e["name"]: e.get("value") for e in pod(staging)["containers"][0]["env"]}
    hosts = env["RANKSHIP_WORKER_HOSTS"].split(",")
    assert hosts == ["rankship-train-1-0.rankship-train-1:2222", "rankship-train-1-1.rankship-train-1:2222"]
    assert job["completions"] == job["parallelism"] == len(hosts) == 2
    assert staging.outputs["training"] == {
        "runner": "cluster",
        "namespace": "rankship-training",
        "job": "rankship-train-1",
        "workers": hosts,
    }


def test_pulumi_declares_the_job_without_waiting_for_training(staging: ProgramRun) -> None:
    job = staging.named(JOB, "job-rankship-train-1")
    assert job.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    service = staging.named("kubernetes:core/v1:Service", "service-rankship-train-1")
    assert service.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_the_job_waits_for_its_config_service_and_the_device_plugin(staging: ProgramRun) -> None:
    deps = set(staging.named(JOB, "job-rankship-train-1").dependencies)
    assert staging.urn_of("kubernetes:core/v1:ConfigMap", "configmap-rankship-train-1") in deps
    assert staging.urn_of("kubernetes:core/v1:Service", "service-rankship-train-1") in deps
    assert staging.urn_of("kubernetes:core/v1:ServiceAccount", "serviceaccount-rankship-trainer") in deps
    assert staging.urn_of("kubernetes:helm.sh/v3:Release", "nvidia-device-plugin") in deps


def test_training_objects_are_children_of_the_component(staging: ProgramRun) -> None:
    (component,) = staging.of_type(COMPONENT)
    children = [r for r in staging.resources if r.parent == component.urn]
    assert sorted(r.name for r in children) == [
        "configmap-rankship-train-1",
        "job-rankship-train-1",
        "namespace-rankship-training",
        "networkpolicy-training-workers-only",
        "service-rankship-train-1",
        "serviceaccount-rankship-trainer",
    ]


def test_trainer_role_writes_only_its_bucket_and_trusts_only_its_account(staging: ProgramRun) -> None:
    role = staging.named(ROLE, "rankship-staging-trainer").inputs
    condition = json.loads(role["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    issuer = ISSUER.removeprefix("https://")
    assert condition[f"{issuer}:sub"] == "system:serviceaccount:rankship-training:rankship-trainer"
    policy = staging.named("aws:iam/rolePolicy:RolePolicy", "rankship-staging-trainer").inputs["policy"]
    write, listing = json.loads(policy)["Statement"]
    assert write["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert write["Resource"] == [
        "arn:aws:s3:::rankship-bundles-staging/bundles/*",
        "arn:aws:s3:::rankship-bundles-staging/runs/*",
    ]
    assert listing["Resource"] == ["arn:aws:s3:::rankship-bundles-staging"]


def test_release_workflow_role_may_edit_only_the_training_namespace(staging: ProgramRun) -> None:
    name = "rankship-staging-train-submitter-0"
    entry = staging.named("aws:eks/accessEntry:AccessEntry", name).inputs
    assert entry["principalArn"] == "arn:aws:iam::111111111111:role/rankship-model-release"
    grant = staging.named("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", name).inputs
    assert grant["policyArn"].endswith("/AmazonEKSEditPolicy")
    assert grant["accessScope"] == {"type": "namespace", "namespaces": ["rankship-training"]}


def test_no_job_and_no_trainer_role_when_training_runs_on_actions(prod: ProgramRun) -> None:
    assert prod.of_type(JOB) == [] and prod.of_type(COMPONENT) == []
    assert [r.name for r in prod.of_type(ROLE) if r.name.endswith("-trainer")] == []
    assert prod.outputs["training"] == {"runner": "actions"}


def test_gpu_training_without_a_gpu_pool_is_rejected_before_declaring_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = raw_settings("dev")
    raw["training"] = {
        "runner": "cluster",
        "run_id": "r1",
        "image": "ghcr.io/rankship/ranker-train@sha256:" + "ab" * 32,
        "output_uri": "s3://rankship-bundles-dev/bundles/",
        "storage_secret": "minio-keys",
        "gpus_per_replica": 1,
    }
    monitor = RecordingMonitor(PlausibleMocks())
    with pytest.raises(pulumi.RunError, match=r"training\.gpus_per_replica: .* no node pool has GPUs"):
        run_main(raw, monitor, monkeypatch)
    assert monitor.registered == []
