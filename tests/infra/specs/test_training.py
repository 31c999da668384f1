"""Training settings and the training Job builder: each rule names its key; the Job honours the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.policy.rules import evaluate, resource_from_k8s
from infra.settings.stack import SettingsError, StackSettings
from infra.specs import build_stack_objects
from infra.specs.pods import security_context
from infra.specs.training import training_objects, training_run_objects, worker_hosts
from tests.infra.infra_stacks import raw_settings, settings_of

IMAGE = "ghcr.io/rankship/ranker-train@sha256:" + "ab" * 32
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}


def cluster_run(**overrides: Any) -> dict[str, Any]:
    base = {
        "runner": "cluster",
        "run_id": "r1",
        "image": IMAGE,
        "output_uri": "s3://rankship-bundles-staging/bundles/",
    }
    return {**base, **overrides}


def staging(**training: Any) -> StackSettings:
    raw = raw_settings("staging")
    raw["training"] = cluster_run(**training)
    return settings_of(raw)


def problems_of(stack: str, training: dict[str, Any]) -> list[str]:
    raw = raw_settings(stack)
    raw["training"] = training
    with pytest.raises(SettingsError) as caught:
        settings_of(raw, f"Pulumi.{stack}.yaml")
    return caught.value.problems


def job_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = [o for o in objects if o["kind"] == "Job"]
    return job


def pod_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = job_of(objects)["spec"]["template"]["spec"]
    return spec


def env_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod_of(objects)["containers"][0]["env"]}


# --- settings --------------------------------------------------------------------------------


def test_staging_trains_on_its_gpu_pool_and_the_others_on_actions() -> None:
    training = settings_of(raw_settings("staging")).training
    assert (training.runner, training.replicas, training.gpus_per_replica) == ("cluster", 2, 1)
    for stack in ("dev", "prod"):
        assert settings_of(raw_settings(stack)).training.runner == "actions"


def test_cluster_runner_needs_run_id_image_and_output_uri() -> None:
    assert problems_of("staging", {"runner": "cluster"}) == [
        "training.run_id: required when training.runner is cluster",
        "training.image: required when training.runner is cluster",
        "training.output_uri: required when training.runner is cluster",
    ]


def test_actions_runner_leaves_the_cluster_keys_inert() -> None:
    # A GPU request with no GPU pool is no error while nothing runs on the cluster.
    raw = raw_settings("dev")
    raw["training"] = {"runner": "actions", "gpus_per_replica": 2}
    assert settings_of(raw).training.gpus_per_replica == 2
    assert training_objects(settings_of(raw)) == []


def test_gpu_training_without_a_gpu_pool_is_rejected() -> None:
    training = cluster_run(gpus_per_replica=1, storage_secret="store")
    assert problems_of("dev", training) == [
        "training.gpus_per_replica: training requests 1 GPU(s) per worker but no node pool has GPUs"
    ]


def test_gpu_type_must_exist_and_needs_gpus() -> None:
    assert problems_of("staging", cluster_run(gpus_per_replica=1, gpu_type="nvidia-h100")) == [
        "training.gpu_type: training wants gpu_type 'nvidia-h100'; no GPU pool has it"
    ]
    assert problems_of("staging", cluster_run(gpu_type="nvidia-l4")) == [
        "training: gpu_type is set but gpus_per_replica is 0"
    ]


def test_workers_must_fit_their_gpus_on_one_node() -> None:
    # gpu-l4 nodes (g6.xlarge) carry one GPU each.
    assert problems_of("staging", cluster_run(gpus_per_replica=2)) == [
        "training.gpus_per_replica: 2 GPUs per worker; no matching node has that many"
    ]


def test_all_workers_must_fit_the_pool_at_once() -> None:
    # gpu-l4: max_size 5 nodes x (1 GPU // 1 per worker) = 5 workers; 6 cannot all run.
    (problem,) = problems_of("staging", cluster_run(gpus_per_replica=1, replicas=6))
    assert problem.startswith("training.replicas: 6 workers x 1 GPU(s) must run at once; at most 5 fit")
    assert staging(gpus_per_replica=1, replicas=5).training.replicas == 5


def test_existing_clusters_need_a_storage_secret_and_no_submitters() -> None:
    arn = "arn:aws:iam::111111111111:role/release"
    assert problems_of("dev", cluster_run(submitter_arns=[arn])) == [
        "training.submitter_arns: only for aws-eks (EKS access entries); remove it",
        "training.storage_secret: required on existing clusters (no IRSA role grants bucket access there)",
    ]


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        ({"run_id": "Run_1"}, "training.run_id", "must be 1-32 lower-case letters"),
        ({"run_id": "a" * 33}, "training.run_id", "must be 1-32"),
        ({"image": "ghcr.io/rankship/ranker-train:1.0"}, "training.image", "pinned by digest"),
        ({"output_uri": "s3://bucket/models/"}, "training.output_uri", "must be s3://<bucket>/bundles/"),
        ({"replicas": 17}, "training.replicas", "less than or equal to 16"),
        ({"gpus_per_replica": 9}, "training.gpus_per_replica", "less than or equal to 8"),
        ({"config": "Big Preset"}, "training.config", "preset name 'Big Preset'"),
        ({"config": ["tiny"]}, "training.config", "preset name or a mapping"),
        ({"resources": {"cpu": "4", "cpu_limit": "2"}}, "training.resources", "cpu_limit 2 is below"),
        ({"resources": {"scratch": "lots"}}, "training.resources.scratch", "not a Kubernetes quantity"),
        ({"epochs": 3}, "training.epochs", "unknown key"),
        ({"active_deadline_seconds": 60}, "training.active_deadline_seconds", "greater than or equal to 600"),
    ],
)
def test_bad_training_settings_name_key_and_rule(edit: dict[str, Any], key: str, words: str) -> None:
    (problem,) = problems_of("staging", cluster_run(**edit))
    assert problem.startswith(f"{key}: ") and words in problem, problem


# --- objects ---------------------------------------------------------------------------------


def test_rendered_only_for_the_cluster_runner() -> None:
    assert "Job" not in [o["kind"] for o in build_stack_objects(settings_of(raw_settings("prod")))]
    kinds = [o["kind"] for o in build_stack_objects(settings_of(raw_settings("staging")))]
    assert kinds[-6:] == ["Namespace", "ServiceAccount", "NetworkPolicy", "ConfigMap", "Service", "Job"]


def test_indexed_job_with_one_pod_per_worker_behind_a_headless_service() -> None:
    objects = training_run_objects(staging(replicas=3))
    _, service, job = objects
    assert job["metadata"]["name"] == service["metadata"]["name"] == "rankship-train-r1"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["template"]["spec"]["subdomain"] == "rankship-train-r1"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": "rankship-train-r1"}
    assert service["spec"]["ports"] == [{"name": "worker", "port": 2222, "targetPort": "worker"}]
    assert pod_of(objects)["containers"][0]["ports"][0]["containerPort"] == 2222


@pytest.mark.parametrize("replicas", [1, 2, 4])
def test_worker_hosts_list_every_index_in_order(replicas: int) -> None:
    hosts = env_of(training_run_objects(staging(replicas=replicas)))["RANKSHIP_WORKER_HOSTS"].split(",")
    assert hosts == [f"rankship-train-r1-{i}.rankship-train-r1:2222" for i in range(replicas)]
    assert worker_hosts("r1", 2) == [
        "rankship-train-r1-0.rankship-train-r1:2222",
        "rankship-train-r1-1.rankship-train-r1:2222",
    ]


def test_environment_contract_with_the_trainer() -> None:
    objects = training_run_objects(staging(), baseline_uri="s3://b/runs/r1/baseline/")
    env = env_of(objects)
    assert env["JOB_COMPLETION_INDEX"] == {
        "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}
    }
    assert env["RANKSHIP_OUTPUT_URI"] == "s3://rankship-bundles-staging/bundles/"
    assert env["RANKSHIP_RUN_URI"] == "s3://rankship-bundles-staging/runs/r1/"
    assert env["RANKSHIP_BASELINE_URI"] == "s3://b/runs/r1/baseline/"
    assert env["AWS_REGION"] == "us-east-1" and "TF_CONFIG" not in env
    container = pod_of(objects)["containers"][0]
    assert container["command"] == ["python", "-m", "model", "train-job"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_of(objects)["volumes"]}
    # The config file the env names is the ConfigMap key, mounted where the env says.
    assert env["RANKSHIP_PIPELINE_CONFIG"] == f"{mounts['pipeline']}/pipeline.yaml"
    assert volumes["pipeline"]["configMap"]["name"] == objects[0]["metadata"]["name"]
    assert "pipeline.yaml" in objects[0]["data"]


def test_gpu_workers_request_gpus_and_tolerate_the_taint() -> None:
    pod = pod_of(training_run_objects(staging(gpus_per_replica=1, gpu_type="nvidia-l4")))
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert pod["tolerations"] == [GPU_TOLERATION]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true", "rankship.io/gpu-type": "nvidia-l4"}


def test_cpu_workers_stay_off_gpu_nodes() -> None:
    pod = pod_of(training_run_objects(staging(gpus_per_replica=0)))
    assert "tolerations" not in pod and "nodeSelector" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


def test_workers_run_hardened_like_the_model_servers() -> None:
    objects = training_objects(settings_of(raw_settings("staging")))
    pod = pod_of(objects)
    assert pod["containers"][0]["securityContext"] == security_context(8888)
    assert pod["securityContext"]["runAsNonRoot"] is True
    writable = {v["name"]: v for v in pod["volumes"] if "emptyDir" in v}
    mounted = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {mounted[name] for name in writable} == {"/tmp", "/artifacts", "/dev/shm"}
    assert writable["artifacts"]["emptyDir"]["sizeLimit"] == "20Gi"
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert [v for o in objects for v in evaluate(resource_from_k8s(o))] == []


def test_trainer_account_uses_irsa_on_eks_and_a_secret_elsewhere() -> None:
    objects = training_objects(settings_of(raw_settings("staging")))
    (account,) = [o for o in objects if o["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111111111111:role/rankship-staging-trainer"
    }
    assert "envFrom" not in pod_of(objects)["containers"][0]
    raw = raw_settings("dev")
    raw["training"] = cluster_run(storage_secret="minio-keys")
    dev = training_objects(settings_of(raw))
    assert pod_of(dev)["containers"][0]["envFrom"] == [{"secretRef": {"name": "minio-keys"}}]
    assert "AWS_REGION" not in env_of(dev)
    (account,) = [o for o in dev if o["kind"] == "ServiceAccount"]
    assert "annotations" not in account["metadata"]


def test_only_workers_reach_workers() -> None:
    objects = training_objects(settings_of(raw_settings("staging")))
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"] == {}  # everything in the namespace ...
    (rule,) = policy["spec"]["ingress"]
    assert rule == {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "trainer"}}}]}
    labels = job_of(objects)["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "trainer"  # ... admits the workers themselves


def test_deterministic_failures_fail_the_job_at_once() -> None:
    spec = job_of(training_run_objects(staging(backoff_limit=3, active_deadline_seconds=7200)))["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (3, 7200)
    fail, ignore = spec["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob" and fail["onExitCodes"]["values"] == [1, 2]
    assert ignore == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert "ttlSecondsAfterFinished" not in spec  # GitOps would re-create a deleted Job
    with_ttl = job_of(training_run_objects(staging(), ttl_seconds=600))["spec"]
    assert with_ttl["ttlSecondsAfterFinished"] == 600


@pytest.mark.parametrize(
    ("config", "expected"),
    [("tiny", {"preset": "tiny"}), ({"preset": "default", "train": {"epochs": 3}}, None)],
)
def test_pipeline_config_reaches_the_trainer_as_yaml(config: Any, expected: Any) -> None:
    (config_map, *_) = training_run_objects(staging(config=config))
    assert yaml.safe_load(config_map["data"]["pipeline.yaml"]) == (expected or config)


def test_checked_in_pipeline_config_is_accepted_by_the_trainer(tmp_path: Path) -> None:
    model_config = pytest.importorskip("model.config")
    (config_map, *_) = training_run_objects(settings_of(raw_settings("staging")))
    path = tmp_path / "pipeline.yaml"
    path.write_text(config_map["data"]["pipeline.yaml"], encoding="utf-8")
    loaded = model_config.load_config(path)
    assert (loaded.preset, loaded.train.batch_queries) == ("default", 32)
