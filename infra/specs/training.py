"""The distributed training Job: an Indexed Job of `replicas` workers behind a headless Service.

Contract with the trainer (`python -m model train-job`, MultiWorkerMirroredStrategy):

- Worker `i` runs in pod `rankship-train-<run_id>-<i>` (Indexed Job hostname), reachable as
  `rankship-train-<run_id>-<i>.rankship-train-<run_id>:2222` through the headless Service of the same name
  (the pod's `subdomain`). Index 0 is the chief.
- Environment of every worker:
  `RANKSHIP_WORKER_HOSTS`    comma-separated `host:2222` of all workers, in index order;
  `JOB_COMPLETION_INDEX`     this worker's index (set by Kubernetes for Indexed Jobs; declared here too, from
                             the `batch.kubernetes.io/job-completion-index` annotation, so the spec says so);
  `RANKSHIP_PIPELINE_CONFIG` `/etc/rankship/pipeline.yaml`: the pipeline settings (a mapping, possibly just
                             `preset: <name>`), from the run's ConfigMap;
  `RANKSHIP_OUTPUT_URI`      `s3://<bucket>/bundles/`: the chief uploads the bundle to `<uri><bundle_id>/`;
  `RANKSHIP_RUN_ID`, `RANKSHIP_RUN_URI` (`s3://<bucket>/runs/<run_id>/`): the chief writes `report/` there
                             and, last, `latest.json` (`{"bundle_id": ...}`, as `artifacts/latest.json`);
  `RANKSHIP_BASELINE_URI`    (only when a run has one) bundle of the model in production, for the gate;
  `RANKSHIP_ARTIFACTS_DIR`   `/artifacts`, scratch for the pipeline's work directory; `HOME=/tmp`.
  TF_CONFIG is not set here: a Job has one pod template for all indices, so an env var cannot differ per
  worker. The trainer composes it at start from RANKSHIP_WORKER_HOSTS and JOB_COMPLETION_INDEX.
- Command `python -m model train-job`; exit 0 success, 1 quality gate failed, 2 bad input. Exit 1 and 2 fail
  the Job at once (a retry would fail the same way); other failures are retried up to `backoff_limit`.
- Runs as uid 8888 with a read-only root filesystem: only /tmp, /artifacts and /dev/shm are writable.
"""

from __future__ import annotations

from typing import Any

import yaml

from infra.policy.rules import GPU_RESOURCE
from infra.settings.cluster import EksCluster
from infra.settings.stack import StackSettings
from infra.settings.training import TrainingSettings
from infra.specs import naming as n
from infra.specs import pods

PIPELINE_DIR, PIPELINE_FILE = "/etc/rankship", "pipeline.yaml"
ARTIFACTS_DIR = "/artifacts"
COMMAND = ["python", "-m", "model", "train-job"]
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
# Exit codes of `python -m model`: 1 the quality gate failed, 2 bad input. Deterministic, so never retried.
FINAL_EXIT_CODES = [1, 2]


def worker_hosts(run_id: str, replicas: int) -> list[str]:
    """`host:port` of every worker in index order, as Indexed Job pods resolve through the Service."""
    job = n.train_job_name(run_id)
    return [f"{job}-{i}.{job}:{n.WORKER_PORT}" for i in range(replicas)]


def _meta(training: TrainingSettings, name: str, **labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": training.namespace,
        "labels": {**n.PART_OF, **n.TRAINER_COMPONENT, **labels},
    }


def training_namespace_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Namespace, trainer ServiceAccount (IRSA on aws-eks) and NetworkPolicies; shared by every run."""
    t = settings.training
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        # Nothing injects sidecars here, so the restricted Pod Security profile can be enforced outright.
        "metadata": {
            "name": t.namespace,
            "labels": {**n.PART_OF, "pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    account_meta = _meta(t, n.TRAINER_SERVICE_ACCOUNT)
    if isinstance(settings.cluster, EksCluster):
        # IRSA: write access to the bundle bucket (bundles/ and runs/) without static keys.
        arn = n.role_arn(settings.cluster, n.trainer_role_name(settings.cluster))
        account_meta["annotations"] = {"eks.amazonaws.com/role-arn": arn}
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": account_meta,
        "automountServiceAccountToken": False,  # the trainer never calls the Kubernetes API
    }
    return [namespace, account, _network_policy(t)]


def _network_policy(t: TrainingSettings) -> dict[str, Any]:
    """Ingress to anything in the namespace only from training workers, on every port.

    Every port, not just 2222: NCCL's cross-host transport listens on ephemeral ports. Egress stays open for
    S3, whose addresses a NetworkPolicy cannot name.
    """
    workers = {"podSelector": {"matchLabels": dict(n.TRAINER_COMPONENT)}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(t, "training-workers-only"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [workers]}]},
    }


def pipeline_yaml(training: TrainingSettings) -> str:
    """The trainer's pipeline settings file: the overrides mapping, or just the preset's name."""
    config = {"preset": training.config} if isinstance(training.config, str) else training.config
    return yaml.safe_dump(config, sort_keys=True, default_flow_style=False)


def _require(training: TrainingSettings) -> tuple[str, str, str]:
    if training.run_id is None or training.image is None or training.output_uri is None:
        raise ValueError("training: run_id, image and output_uri are required for a cluster run")
    return training.run_id, training.image, training.output_uri


def _env(settings: StackSettings, baseline_uri: str | None) -> list[dict[str, Any]]:
    t = settings.training
    run_id, _, output_uri = _require(t)
    index = {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}}
    env: list[dict[str, Any]] = [
        {"name": "RANKSHIP_WORKER_HOSTS", "value": ",".join(worker_hosts(run_id, t.replicas))},
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": index},
        {"name": "RANKSHIP_PIPELINE_CONFIG", "value": f"{PIPELINE_DIR}/{PIPELINE_FILE}"},
        {"name": "RANKSHIP_OUTPUT_URI", "value": output_uri},
        {"name": "RANKSHIP_RUN_ID", "value": run_id},
        {"name": "RANKSHIP_RUN_URI", "value": t.run_uri(run_id)},
        {"name": "RANKSHIP_ARTIFACTS_DIR", "value": ARTIFACTS_DIR},
        {"name": "HOME", "value": "/tmp"},  # read-only root FS: Keras and boto caches go to the emptyDir
    ]
    if baseline_uri:
        env.append({"name": "RANKSHIP_BASELINE_URI", "value": baseline_uri})
    if isinstance(settings.cluster, EksCluster):
        env.append({"name": "AWS_REGION", "value": settings.cluster.region})
    return env


def _container(settings: StackSettings, baseline_uri: str | None) -> dict[str, Any]:
    t, r = settings.training, settings.training.resources
    limits: dict[str, str] = {"cpu": r.cpu_limit, "memory": r.memory_limit}
    if t.gpus_per_replica:
        limits[GPU_RESOURCE] = str(t.gpus_per_replica)  # Kubernetes copies extended limits into requests
    container: dict[str, Any] = {
        "name": n.TRAINER_CONTAINER,
        "image": _require(t)[1],
        "command": list(COMMAND),
        "env": _env(settings, baseline_uri),
        "ports": [{"name": n.WORKER_PORT_NAME, "containerPort": n.WORKER_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": r.cpu, "memory": r.memory}, "limits": limits},
        "securityContext": pods.security_context(n.TRAINER_UID),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "artifacts", "mountPath": ARTIFACTS_DIR},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "pipeline", "mountPath": PIPELINE_DIR, "readOnly": True},
        ],
    }
    if t.storage_secret:
        container["envFrom"] = [{"secretRef": {"name": t.storage_secret}}]
    return container


def _pod_spec(settings: StackSettings, baseline_uri: str | None) -> dict[str, Any]:
    t = settings.training
    job = n.train_job_name(_require(t)[0])
    return {
        "subdomain": job,  # with the Indexed Job hostname: <job>-<index>.<job> resolves to the pod
        "restartPolicy": "Never",  # required by podFailurePolicy; the Job, not the kubelet, retries
        "serviceAccountName": n.TRAINER_SERVICE_ACCOUNT,
        "enableServiceLinks": False,
        # fsGroup makes the projected IRSA token readable by the non-root uid.
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": n.TRAINER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(settings, baseline_uri)],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "artifacts", "emptyDir": {"sizeLimit": t.resources.scratch}},
            # NCCL and tf.data use shared memory; a container's default /dev/shm is 64 MiB.
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "pipeline", "configMap": {"name": job}},
        ],
        **pods.gpu_placement(t.gpus_per_replica, t.gpu_type),
    }


def _failure_policy() -> dict[str, Any]:
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": n.TRAINER_CONTAINER,
                    "operator": "In",
                    "values": list(FINAL_EXIT_CODES),
                },
            },
            # A node drained or a spot instance reclaimed is not the trainer's fault: retry without counting.
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }


def _headless_service(t: TrainingSettings, job: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(t, job, **labels),
        "spec": {
            "clusterIP": "None",
            # Workers resolve each other while still starting, before any readiness.
            "publishNotReadyAddresses": True,
            "selector": {"batch.kubernetes.io/job-name": job},
            "ports": [{"name": n.WORKER_PORT_NAME, "port": n.WORKER_PORT, "targetPort": n.WORKER_PORT_NAME}],
        },
    }


def training_run_objects(
    settings: StackSettings, baseline_uri: str | None = None, ttl_seconds: int | None = None
) -> list[dict[str, Any]]:
    """ConfigMap (pipeline settings), headless Service and Indexed Job of the run `training.run_id`.

    `baseline_uri` (None: no baseline) and `ttl_seconds` (None: the Job stays until deleted) are for runs
    started by the release workflow; the rendered manifests set neither, because a GitOps controller would
    re-create a Job that its TTL deleted, and so train again.
    """
    t = settings.training
    run_id = _require(t)[0]
    job = n.train_job_name(run_id)
    labels = {n.TRAIN_RUN_LABEL: run_id}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(t, job, **labels),
        "data": {PIPELINE_FILE: pipeline_yaml(t)},
    }
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": t.replicas,
        "parallelism": t.replicas,  # all at once: collective ops wait until every worker has joined
        "backoffLimit": t.backoff_limit,
        "activeDeadlineSeconds": t.active_deadline_seconds,
        "podFailurePolicy": _failure_policy(),
        "template": {
            "metadata": {"labels": {**n.PART_OF, **n.TRAINER_COMPONENT, **labels}},
            "spec": _pod_spec(settings, baseline_uri),
        },
    }
    if ttl_seconds is not None:
        spec["ttlSecondsAfterFinished"] = ttl_seconds
    job_object = {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(t, job, **labels), "spec": spec}
    return [config_map, _headless_service(t, job, labels), job_object]


def training_objects(settings: StackSettings) -> list[dict[str, Any]]:
    """Everything a `runner: cluster` stack renders for training; nothing for `runner: actions`."""
    if not settings.training.on_cluster:
        return []
    return [*training_namespace_objects(settings), *training_run_objects(settings)]
