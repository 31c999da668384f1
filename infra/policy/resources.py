"""How a policy sees a resource, and the walks every rule shares (pod specs, containers).

Pure, like every module of the pack: no pulumi_policy and nothing else from the rankship package, so that the
CrossGuard pack and the manifest validator run the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SELDON_TYPE = "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment"
NODE_GROUP_TYPE = "aws:eks/nodeGroup:NodeGroup"
_WORKLOAD_TEMPLATES = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

Props = Mapping[str, Any]


@dataclass(frozen=True)
class Resource:
    """A resource as a policy sees it: Pulumi type token, display name, input properties."""

    type: str
    name: str
    props: Props

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[Resource], list[str]]


@dataclass(frozen=True)
class StackRule:
    """A rule over every resource of the stack at once (CrossGuard's stack validation)."""

    name: str
    description: str
    check: Callable[[Sequence[Resource]], list[str]]


def k8s_type(obj: Props) -> str:
    """Pulumi type token of a Kubernetes object: `kubernetes:<group>/<version>:<Kind>` (group `core`)."""
    api_version = str(obj.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{obj.get('kind', '')}"


def resource_from_k8s(obj: Props) -> Resource:
    meta = obj.get("metadata") or {}
    name = meta.get("name", "<unnamed>")
    return Resource(k8s_type(obj), f"{meta['namespace']}/{name}" if meta.get("namespace") else name, obj)


def pod_specs(res: Resource) -> Iterator[tuple[str, Props]]:
    """(where, PodSpec) for every pod template a workload declares."""
    spec = res.props.get("spec") or {}
    if res.type == SELDON_TYPE:
        for predictor in spec.get("predictors") or []:
            for i, component in enumerate(predictor.get("componentSpecs") or []):
                yield f"predictor {predictor.get('name')!r} componentSpecs[{i}]", component.get("spec") or {}
    elif res.type.startswith("kubernetes:") and res.kind in _WORKLOAD_TEMPLATES:
        yield "template", (spec.get("template") or {}).get("spec") or {}
    elif res.type.startswith("kubernetes:") and res.kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        yield "jobTemplate", (job.get("template") or {}).get("spec") or {}
    elif res.type.startswith("kubernetes:") and res.kind == "Pod":
        yield "pod", spec


def containers(pod: Props) -> Iterator[Props]:
    yield from pod.get("initContainers") or []
    yield from pod.get("containers") or []


def label(res: Resource) -> str:
    return f"{res.kind} {res.name!r}"
