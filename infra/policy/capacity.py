"""Do the workloads at their autoscaling ceilings fit the node pools at theirs? A stack rule.

Every SeldonDeployment predictor at its HPA `maxReplicas` (model container plus the executor Seldon injects,
sized by `svcOrchSpec`) and every Job at its parallelism must fit the node groups it can schedule on (its
nodeSelector matches the group's labels and it tolerates the group's taints) at their `maxSize`. Otherwise
pods sit Pending exactly at peak, when they are needed.

Node sizes come from the instance type: vCPUs from the size (`large` 2, `xlarge` 4, `Nxlarge` 4N), memory
per vCPU from the family (m 4 GiB, c 2, r 8, g 4, x 16), GPUs per node from the node label rankship puts on
GPU pools. Allocatable capacity is taken as 90% of the CPUs less 0.25 for daemons and 85% of the memory less
0.5 GiB (kubelet reservations and the DaemonSets of kube-proxy, VPC CNI, EBS CSI and node-exporter).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.policy.resources import NODE_GROUP_TYPE, SELDON_TYPE, Props, Resource, label

GPU_RESOURCE = "nvidia.com/gpu"
GPU_COUNT_LABEL = "rankship.io/gpus-per-node"
_MEMORY_PER_VCPU = {"m": 4.0, "c": 2.0, "r": 8.0, "g": 4.0, "x": 16.0}
_SIZES = {"medium": 1, "large": 2, "xlarge": 4}
_MULTIPLE = re.compile(r"(\d+)xlarge")
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3}
_TAINT_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}


def quantity(value: Any) -> float:
    """A Kubernetes quantity as a number (cores, bytes, GPUs)."""
    text = str(value).strip()
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


@dataclass(frozen=True)
class Shape:
    cpu: float
    memory: float  # bytes
    gpu: float


@dataclass(frozen=True)
class Pool:
    name: str
    max_nodes: int
    node: Shape | None  # None: the instance type could not be sized
    labels: Mapping[str, str]
    taints: tuple[tuple[str, str, str], ...]  # (key, value, effect)


@dataclass(frozen=True)
class Demand:
    where: str
    pods: int
    pod: Shape
    selector: Mapping[str, str]
    tolerations: tuple[Props, ...]


def node_shape(instance_type: str, gpus: int) -> Shape | None:
    family, _, size = instance_type.partition(".")
    multiple = _MULTIPLE.fullmatch(size)
    vcpus = _SIZES.get(size) or (4 * int(multiple.group(1)) if multiple else None)
    per_vcpu = _MEMORY_PER_VCPU.get(family[:1])
    if vcpus is None or per_vcpu is None:
        return None
    return Shape(vcpus * 0.9 - 0.25, vcpus * per_vcpu * 0.85 * 2**30 - 0.5 * 2**30, float(gpus))


def _pool(res: Resource) -> Pool:
    props = res.props
    labels = {str(k): str(v) for k, v in (props.get("labels") or {}).items()}
    types = list(props.get("instanceTypes") or [])
    node = node_shape(str(types[0]), int(labels.get(GPU_COUNT_LABEL, "0"))) if types else None
    taints = tuple(
        (str(t.get("key")), str(t.get("value") or ""), _TAINT_EFFECTS.get(str(t.get("effect")), ""))
        for t in props.get("taints") or []
    )
    max_nodes = int((props.get("scalingConfig") or {}).get("maxSize") or 0)
    return Pool(res.name, max_nodes, node, labels, taints)


def _requests(container: Props) -> Shape:
    resources = container.get("resources") or {}
    wanted = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    gpu = (resources.get("limits") or {}).get(GPU_RESOURCE, wanted.get(GPU_RESOURCE, 0))
    return Shape(quantity(wanted.get("cpu", 0)), quantity(wanted.get("memory", 0)), quantity(gpu))


def _pod_shape(pod: Props, extra: Sequence[Props] = ()) -> Shape:
    parts = [_requests(c) for c in [*(pod.get("containers") or []), *extra]]
    return Shape(sum(p.cpu for p in parts), sum(p.memory for p in parts), sum(p.gpu for p in parts))


def _demands(res: Resource) -> list[Demand]:
    spec = res.props.get("spec") or {}
    found = []
    if res.type == SELDON_TYPE:
        for p in spec.get("predictors") or []:
            executor = {"resources": (p.get("svcOrchSpec") or {}).get("resources") or {}}
            for i, component in enumerate(p.get("componentSpecs") or []):
                pod = component.get("spec") or {}
                ceiling = (component.get("hpaSpec") or {}).get("maxReplicas") or p.get("replicas") or 1
                where = f"{label(res)} predictor {p.get('name')!r} componentSpecs[{i}]"
                found.append(_demand(where, int(ceiling), pod, [executor]))
    elif res.type.startswith("kubernetes:batch/") and res.kind == "Job":
        pod = (spec.get("template") or {}).get("spec") or {}
        found.append(_demand(label(res), int(spec.get("parallelism") or 1), pod, []))
    return found


def _demand(where: str, pods: int, pod: Props, extra: Sequence[Props]) -> Demand:
    return Demand(
        where,
        pods,
        _pod_shape(pod, extra),
        dict(pod.get("nodeSelector") or {}),
        tuple(pod.get("tolerations") or []),
    )


def _tolerates(tolerations: Sequence[Props], key: str, value: str, effect: str) -> bool:
    for t in tolerations:
        key_ok = t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists")
        value_ok = t.get("operator") == "Exists" or str(t.get("value") or "") == value
        if key_ok and value_ok and t.get("effect") in (None, "", effect):
            return True
    return False


def eligible(d: Demand, pool: Pool) -> bool:
    selected = all(pool.labels.get(k) == v for k, v in d.selector.items())
    return selected and all(_tolerates(d.tolerations, *taint) for taint in pool.taints if taint[2])


def pods_per_node(pod: Shape, node: Shape) -> int:
    fits = [math.floor(node.cpu / pod.cpu) if pod.cpu else math.inf]
    fits.append(math.floor(node.memory / pod.memory) if pod.memory else math.inf)
    fits.append(math.floor(node.gpu / pod.gpu) if pod.gpu else math.inf)
    smallest = min(fits)
    return 0 if smallest == math.inf else max(0, int(smallest))


def _problems_for(d: Demand, pools: Sequence[Pool], demands: Sequence[Demand]) -> list[str]:
    mine = [p for p in pools if eligible(d, p)]
    if not mine:
        return [f"{d.where}: no node group can run its pods (selector {dict(d.selector)})"]
    unsized = [p.name for p in mine if p.node is None]
    if unsized:
        return [f"{d.where}: cannot size the instance type of node group {unsized[0]!r}"]
    names = {p.name for p in mine}
    # Everything that can only land on (a subset of) these pools competes with this predictor for them.
    rivals = [o for o in demands if {p.name for p in pools if eligible(o, p)} <= names]
    needed = 0.0
    for o in rivals:
        per_node = min(pods_per_node(o.pod, p.node) for p in mine if p.node is not None)
        if per_node == 0:
            return [f"{o.where}: one pod needs more than a node of {sorted(names)} has"]
        needed += o.pods / per_node
    have = sum(p.max_nodes for p in mine)
    if needed > have + 1e-9:
        pods = sum(o.pods for o in rivals)
        return [
            f"{d.where}: {pods} pods at their ceilings need {math.ceil(needed)} nodes of "
            f"{sorted(names)}, which scale to {have}"
        ]
    return []


def workloads_fit_node_pools(resources: Sequence[Resource]) -> list[str]:
    pools = [_pool(r) for r in resources if r.type == NODE_GROUP_TYPE]
    if not pools:
        return []  # an existing cluster: its nodes are not declared here
    demands = [d for r in resources for d in _demands(r)]
    errors: list[str] = []
    for d in demands:
        errors += [e for e in _problems_for(d, pools, demands) if e not in errors]
    return errors
