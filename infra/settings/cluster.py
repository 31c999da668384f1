"""Leaf models of the stack settings: clusters, node pools, platform charts.

Every model is frozen and rejects unknown keys, so a typo in `Pulumi.<stack>.yaml` fails the run instead of
silently falling back to a default. The model-serving part lives in `serving.py`, the platform add-ons' settings in
`platform.py`; the whole stack (`StackSettings`) and the readers/writers live in `stack.py`.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from infra.policy.capacity import GPU_COUNT_LABEL
from infra.policy.rules import (
    GPU_PRESENT_LABEL,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    MAX_POOL_NODES,
    is_gpu_instance_type,
)

# DNS-1123 label, short enough to leave room for the suffixes Seldon and EKS append.
Name = Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")]
KubernetesVersion = Annotated[str, Field(pattern=r"^1\.\d{2}$")]
# Prometheus durations as used in alert windows and analysis intervals.
Duration = Annotated[str, Field(pattern=r"^[1-9]\d*(s|m|h|d)$")]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
POOL_LABEL = "rankship.io/pool"
GPU_TYPE_LABEL = "rankship.io/gpu-type"
RESERVED_LABEL_PREFIXES = ("rankship.io/", GPU_PRESENT_LABEL)


def _exact_version(value: str) -> str:
    # Ranges ("^1.2", "1.x") or "latest" would let a re-run install a different chart than the one reviewed.
    if not re.fullmatch(r"v?\d+\.\d+\.\d+", value):
        raise ValueError(f"chart version must be an exact release like 1.2.3, got {value!r}")
    return value


def _seldon_version(value: str) -> str:
    # seldon-core 1.18+ is under the Business Source License; 1.17.x is the last Apache-2.0 line.
    if not re.fullmatch(r"1\.17\.\d+", value):
        raise ValueError(f"seldon-core-operator must be 1.17.x (1.18+ is not Apache-2.0), got {value!r}")
    return value


ChartVersion = Annotated[str, AfterValidator(_exact_version)]
_DIGEST_REF = re.compile(
    r"^(?P<repo>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$"
)


def pinned_image(value: str) -> str:
    if _DIGEST_REF.fullmatch(value):
        return value
    if "@" not in value:
        raise ValueError(f"image must be pinned by digest (<repo>@sha256:<64 hex>), got the tag {value!r}")
    raise ValueError(f"image {value!r} is not <repo>@sha256:<64 lowercase hex>")


Image = Annotated[str, AfterValidator(pinned_image)]
# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)  # fmt: skip


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExistingCluster(Frozen):
    """A cluster someone else made (kind, minikube, on-prem), reached through a kubeconfig."""

    provider: Literal["existing"]
    name: Name
    kubernetes_version: KubernetesVersion
    kubeconfig: str | None = Field(default=None, description="path; None means $KUBECONFIG or ~/.kube/config")
    context: str | None = Field(default=None, description="kubeconfig context; None means current-context")


class EksCluster(Frozen):
    """An EKS cluster this stack creates, with its VPC, node groups and IRSA provider."""

    provider: Literal["aws-eks"]
    name: Name
    kubernetes_version: KubernetesVersion
    account_id: str = Field(pattern=r"^\d{12}$", description="the AWS provider refuses any other account")
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    availability_zones: tuple[str, ...] = Field(min_length=2, max_length=4)
    vpc_cidr: IPv4Network = IPv4Network("10.0.0.0/16")
    public_access_cidrs: tuple[IPv4Network, ...] = Field(
        default=(), description="who may reach the API endpoint from outside the VPC; empty: private only"
    )
    admin_principal_arns: tuple[str, ...] = ()
    # Without access entries only the cluster's creator may use the Kubernetes API: the CI roles would be
    # Unauthorized. Each gets the least EKS access policy its job needs (infra/specs/aws.py cluster_access).
    preview_role_arns: tuple[RoleArn, ...] = Field(
        default=(), description="roles of infra-preview and drift: read-only, Secrets included (refresh)"
    )
    deploy_role_arns: tuple[RoleArn, ...] = Field(
        default=(), description="roles of infra-deploy (pulumi up): cluster admin"
    )

    @model_validator(mode="after")
    def _one_access_entry_per_principal(self) -> EksCluster:
        # EKS keeps one access entry per principal: a role listed twice would fail `pulumi up` half-way.
        seen = [*self.admin_principal_arns, *self.preview_role_arns, *self.deploy_role_arns]
        twice = sorted({arn for arn in seen if seen.count(arn) > 1})
        if twice:
            raise ValueError(
                f"{twice[0]} is listed more than once in admin_principal_arns/preview_role_arns/"
                "deploy_role_arns; give each principal one access level"
            )
        return self

    log_retention_days: int = Field(default=90, description="control-plane logs in CloudWatch")

    @model_validator(mode="after")
    def _zones_in_region(self) -> EksCluster:
        for zone in self.availability_zones:
            if not re.fullmatch(re.escape(self.region) + r"[a-z]", zone):
                raise ValueError(f"availability zone {zone!r} is not in region {self.region!r}")
        if not 16 <= self.vpc_cidr.prefixlen <= 20:
            raise ValueError(f"vpc_cidr {self.vpc_cidr} must be a /16../20 so each zone gets two subnets")
        return self

    @field_validator("public_access_cidrs")
    @classmethod
    def _not_the_internet(cls, cidrs: tuple[IPv4Network, ...]) -> tuple[IPv4Network, ...]:
        wide = [str(c) for c in cidrs if c.prefixlen < 8]
        if wide:
            # A /0 (or anything near it) puts the Kubernetes API in front of the whole Internet.
            raise ValueError(f"{wide[0]} is too wide (at most a /8); list your egress ranges")
        return cidrs

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch's {list(LOG_RETENTION_DAYS)}, got {days}")
        return days


class Taint(Frozen):
    key: str = Field(min_length=1)
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class GpuSpec(Frozen):
    type: Name = Field(description="e.g. nvidia-a10g; becomes the node label rankship.io/gpu-type")
    count: int = Field(default=1, ge=1, le=16, description="GPUs per node")


class NodePool(Frozen):
    """A managed node group (aws-eks) or a description of existing nodes (existing)."""

    name: Name
    instance_types: tuple[str, ...] = Field(min_length=1)
    min_size: int = Field(ge=0)
    desired_size: int = Field(ge=0)
    max_size: int = Field(ge=1, le=MAX_POOL_NODES)
    disk_size_gib: int = Field(default=100, ge=20, le=2000)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    gpu: GpuSpec | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    taints: tuple[Taint, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> NodePool:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"node pool {self.name!r}: need min_size <= desired_size <= max_size, "
                f"got {self.min_size} <= {self.desired_size} <= {self.max_size}"
            )
        gpu_types = [t for t in self.instance_types if is_gpu_instance_type(t)]
        if self.gpu is None and gpu_types:
            raise ValueError(
                f"node pool {self.name!r}: {gpu_types[0]} has GPUs; declare gpu: {{type, count}}"
            )
        if self.gpu is not None and len(gpu_types) != len(self.instance_types):
            raise ValueError(f"node pool {self.name!r}: gpu is set but not every instance type has GPUs")
        reserved = [k for k in self.labels if k.startswith(RESERVED_LABEL_PREFIXES)]
        if reserved:
            raise ValueError(f"node pool {self.name!r}: label {reserved[0]!r} is set by rankship itself")
        if any(t.key == GPU_TAINT_KEY for t in self.taints):
            raise ValueError(f"node pool {self.name!r}: the {GPU_TAINT_KEY} taint is set by rankship itself")
        return self

    def node_labels(self) -> dict[str, str]:
        """Labels every node of the pool carries: the user's plus the ones selectors rely on."""
        labels = {**self.labels, POOL_LABEL: self.name}
        if self.gpu is not None:
            # The NVIDIA device plugin chart's node affinity looks for this label.
            labels[GPU_PRESENT_LABEL] = "true"
            labels[GPU_TYPE_LABEL] = self.gpu.type
            # The capacity policy reads GPUs per node from here (node groups do not say it otherwise).
            labels[GPU_COUNT_LABEL] = str(self.gpu.count)
        return labels

    def node_taints(self) -> tuple[Taint, ...]:
        """GPU nodes are tainted so that only pods asking for GPUs (and tolerating it) land there."""
        if self.gpu is None:
            return self.taints
        return (*self.taints, Taint(key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect="NoSchedule"))


class ChartVersions(Frozen):
    """Pinned Helm chart versions of the platform add-ons."""

    cert_manager: ChartVersion
    istio: ChartVersion
    seldon_core_operator: Annotated[str, AfterValidator(_seldon_version)]
    kube_prometheus_stack: ChartVersion
    nvidia_device_plugin: ChartVersion | None = Field(default=None, description="required with a GPU pool")
    cluster_autoscaler: ChartVersion | None = Field(default=None, description="required for aws-eks")


class ServingSettings(Frozen):
    namespace: Name = "rankship-serving"
    bundle_store_secret: Name = Field(
        default="rankship-bundle-store",
        description="Secret with rclone RCLONE_CONFIG_S3_* variables for Seldon's storage initializer; "
        "aws-eks stacks create it (IRSA, no keys), existing clusters must provide it",
    )
