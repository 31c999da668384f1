"""Settings of the distributed training Job: where training runs, on what, and where the bundle goes.

`training.runner` picks the place: `actions` (the default) trains on the GitHub Actions runner as before;
`cluster` trains as an Indexed Kubernetes Job on the stack's nodes (see `infra/specs/training.py`). The other
keys matter only with `cluster`, so switching the runner back and forth needs no other edit; the keys a
cluster run cannot do without (`image`, `output_uri`, `run_id`) are required only then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from infra.settings.cluster import Frozen, Name, NodePool, RoleArn
from infra.settings.serving import Compute, Image, Quantity

MAX_WORKERS = 16
# The Job and its Service are named `rankship-train-<run_id>`; pods are `<job>-<index>`, and both must stay
# DNS-1123 labels (63 chars) with room for a two-digit index.
_RUN_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
_OUTPUT_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/bundles/$")
_PRESET = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def _pipeline_config(value: Any) -> Any:
    # A preset name or a mapping of overrides; the trainer validates the keys themselves (model/config.py).
    if isinstance(value, str) and not _PRESET.fullmatch(value):
        raise ValueError(f"preset name {value!r} must be lower-case letters, digits, '-' or '_'")
    if not isinstance(value, str | dict):
        raise ValueError(
            f"must be a preset name or a mapping of pipeline settings, got {type(value).__name__}"
        )
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise ValueError("pipeline settings keys must be strings")
    return value


def _run_id(value: str) -> str:
    if not _RUN_ID.fullmatch(value):
        raise ValueError(
            f"run_id {value!r} must be 1-32 lower-case letters, digits or '-', starting and ending with a "
            "letter or digit (it names the Job: rankship-train-<run_id>)"
        )
    return value


def _output_uri(value: str) -> str:
    if not _OUTPUT_URI.fullmatch(value):
        raise ValueError(f"must be s3://<bucket>/bundles/ (bundles land in <id>/ below it), got {value!r}")
    return value


PipelineConfigRef = Annotated[str | dict[str, Any], BeforeValidator(_pipeline_config)]
OutputUri = Annotated[str, AfterValidator(_output_uri)]
RunId = Annotated[str, AfterValidator(_run_id)]


class TrainingResources(Compute):
    """Per worker. Training defaults are larger than serving's; `scratch` bounds the /artifacts emptyDir."""

    cpu: Quantity = "2"
    memory: Quantity = "8Gi"
    cpu_limit: Quantity = "4"
    memory_limit: Quantity = "8Gi"
    scratch: Quantity = Field(default="20Gi", description="emptyDir size limit of /artifacts")


class TrainingSettings(Frozen):
    """The `training` key of the stack settings (objects: specs/training.py; contract: infra/README.md)."""

    runner: Literal["actions", "cluster"] = "actions"
    namespace: Name = "rankship-training"
    run_id: RunId | None = Field(
        default=None,
        description="names the Job (rankship-train-<run_id>); Jobs are immutable, so a new id is a new run",
    )
    image: Image | None = Field(default=None, description="trainer image by digest; runs python -m model")
    replicas: int = Field(default=1, ge=1, le=MAX_WORKERS, description="workers; index 0 is the chief")
    gpus_per_replica: int = Field(default=0, ge=0, le=8)
    gpu_type: Name | None = Field(default=None, description="pin workers to pools whose gpu.type matches")
    resources: TrainingResources = TrainingResources()
    output_uri: OutputUri | None = Field(
        default=None, description="s3://<bucket>/bundles/ the chief uploads to"
    )
    storage_secret: Name | None = Field(
        default=None,
        description="Secret with AWS_* variables (e.g. MinIO keys) loaded into the workers; required on "
        "existing clusters, optional on aws-eks where the trainer's IRSA role grants bucket access",
    )
    submitter_arns: tuple[RoleArn, ...] = Field(
        default=(),
        description="aws-eks: IAM roles (the release workflow's) given edit access to the training namespace",
    )
    config: PipelineConfigRef = Field(default="default", description="preset name or pipeline overrides")
    backoff_limit: int = Field(default=2, ge=0, le=20, description="pod failures before the Job fails")
    active_deadline_seconds: int = Field(default=4 * 3600, ge=600, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _gpu_type_needs_gpus(self) -> TrainingSettings:
        if self.gpu_type is not None and self.gpus_per_replica == 0:
            raise ValueError("gpu_type is set but gpus_per_replica is 0")
        return self

    @property
    def on_cluster(self) -> bool:
        return self.runner == "cluster"

    @property
    def bucket(self) -> str:
        match = _OUTPUT_URI.fullmatch(self.output_uri or "")
        if match is None:
            raise ValueError("training.output_uri is not set")
        return match["bucket"]

    def run_uri(self, run_id: str) -> str:
        """Where the chief writes a run's `latest.json` and `report/` (next to `bundles/`, keyed by run)."""
        return f"s3://{self.bucket}/runs/{run_id}/"


def training_problems(training: TrainingSettings, gpu_pools: Sequence[NodePool], eks: bool) -> list[str]:
    """Stack-level rules of a cluster run: GPU pools that can hold every worker, bucket credentials."""
    if not training.on_cluster:
        return []
    problems = [
        f"training.{key}: required when training.runner is cluster"
        for key in ("run_id", "image", "output_uri")
        if getattr(training, key) is None
    ]
    if not eks and training.submitter_arns:
        problems.append("training.submitter_arns: only for aws-eks (EKS access entries); remove it")
    if not eks and training.storage_secret is None:
        problems.append(
            "training.storage_secret: required on existing clusters (no IRSA role grants bucket access there)"
        )
    wanted, gpu_type = training.gpus_per_replica, training.gpu_type
    if wanted == 0:
        return problems
    key = "training.gpus_per_replica"
    pools = [p for p in gpu_pools if p.gpu is not None and gpu_type in (None, p.gpu.type)]
    if not gpu_pools:
        return [*problems, f"{key}: training requests {wanted} GPU(s) per worker but no node pool has GPUs"]
    if not pools:
        return [*problems, f"training.gpu_type: training wants gpu_type {gpu_type!r}; no GPU pool has it"]
    fitting = {p.name: p.max_size * (p.gpu.count // wanted) for p in pools if p.gpu and p.gpu.count >= wanted}
    if not fitting:
        return [*problems, f"{key}: {wanted} GPUs per worker; no matching node has that many"]
    # All workers must run at once (collective ops block until every worker joins), so a pool that cannot
    # hold them all would leave the Job waiting until its deadline.
    if max(fitting.values()) < training.replicas:
        room = ", ".join(f"{name!r} fits {n}" for name, n in fitting.items())
        problems.append(
            f"training.replicas: {training.replicas} workers x {wanted} GPU(s) must run at once; "
            f"at most {max(fitting.values())} fit on one pool at its max_size ({room})"
        )
    return problems
