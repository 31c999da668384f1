"""Mandatory deployment rules as pure functions over plain resource properties.

Nothing here imports pulumi_policy or anything from the rankship package outside `infra.policy`: the pack
(`__main__.py`, run by Pulumi in its own virtualenv) wraps these functions, and the manifest validator calls
them on rendered Kubernetes objects. A rule takes a `Resource` and returns violation messages, each naming the
resource; an empty list means the resource passes (or the rule does not apply to its type).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from infra.policy import capacity, hardening
from infra.policy.resources import (
    NODE_GROUP_TYPE,
    SELDON_TYPE,
    Props,
    Resource,
    Rule,
    StackRule,
    k8s_type,
    resource_from_k8s,
)
from infra.policy.resources import containers as _containers
from infra.policy.resources import label as _label
from infra.policy.resources import pod_specs as _pod_specs

# Re-exported: the validator, the specs and the tests import the shared pieces from here.
__all__ = [
    "NODE_GROUP_TYPE",
    "RULES",
    "SELDON_TYPE",
    "STACK_RULES",
    "Props",
    "Resource",
    "Rule",
    "StackRule",
    "evaluate",
    "evaluate_stack",
    "k8s_type",
    "resource_from_k8s",
]  # fmt: skip

GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
MAX_POOL_NODES = 100
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# NVIDIA GPU instance families on AWS; g4ad carries AMD GPUs and needs no NVIDIA taint.
_GPU_FAMILY = re.compile(r"(p[2-6]|g[3-6]|gr6)[a-z]*")


def is_gpu_instance_type(instance_type: str) -> bool:
    family = instance_type.split(".", 1)[0]
    return family != "g4ad" and _GPU_FAMILY.fullmatch(family) is not None


def traffic_weights(res: Resource) -> list[str]:
    if res.type != SELDON_TYPE:
        return []
    predictors = (res.props.get("spec") or {}).get("predictors") or []
    live = [p for p in predictors if not p.get("shadow")]
    shadows = len(predictors) - len(live)
    errors = []
    total = sum(int(p.get("traffic") or 0) for p in live)
    if live and total != 100:
        split = ", ".join(f"{p.get('name')}={p.get('traffic', 0)}" for p in live)
        errors.append(f"{_label(res)}: traffic of non-shadow predictors sums to {total}, not 100 ({split})")
    if shadows > 1:
        errors.append(f"{_label(res)}: {shadows} shadow predictors, at most one is allowed")
    if predictors and not live:
        errors.append(f"{_label(res)}: a shadow predictor cannot be the only predictor")
    return errors


def _is_interleaving(predictor: Props) -> bool:
    return str((predictor.get("graph") or {}).get("type") or "") == "COMBINER"


def interleaving_predictors(res: Resource) -> list[str]:
    """A combiner predictor (interleaving) compares two rankers for *some* users: it needs a plain predictor
    beside it carrying traffic, and exactly two MODEL children (stable's and the canary's bundle)."""
    if res.type != SELDON_TYPE:
        return []
    predictors = (res.props.get("spec") or {}).get("predictors") or []
    live = [p for p in predictors if not p.get("shadow")]
    errors = []
    for p in filter(_is_interleaving, live):
        others = [q for q in live if not _is_interleaving(q) and int(q.get("traffic") or 0) > 0]
        if not others:
            errors.append(
                f"{_label(res)}: interleaving predictor {p.get('name')!r} is the only one with traffic; "
                "it needs a stable predictor beside it"
            )
        children = (p.get("graph") or {}).get("children") or []
        if len(children) != 2 or any(c.get("type") != "MODEL" for c in children):
            kinds = [c.get("type") for c in children]
            errors.append(
                f"{_label(res)}: interleaving predictor {p.get('name')!r} needs exactly two MODEL children, "
                f"has {kinds}"
            )
    return errors


def predictor_version_labels(res: Resource) -> list[str]:
    """Istio routes by labels.version: each predictor needs its own, and the bundle version annotated.

    Seldon builds one DestinationRule subset per predictor selecting `version: <label>`; two predictors with
    one label would share their pods' traffic.
    """
    if res.type != SELDON_TYPE:
        return []
    predictors = (res.props.get("spec") or {}).get("predictors") or []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for p in predictors:
        name, version = p.get("name"), (p.get("labels") or {}).get("version")
        if not version:
            errors.append(f"{_label(res)}: predictor {name!r} has no labels.version (Istio routes by it)")
        elif version in seen:
            errors.append(
                f"{_label(res)}: predictors {seen[version]!r} and {name!r} share labels.version "
                f"{version!r}, so their Istio subsets select the same pods"
            )
        else:
            seen[version] = name
        if not (p.get("annotations") or {}).get("version"):
            errors.append(f"{_label(res)}: predictor {name!r} has no version annotation (the bundle version)")
    return errors


def images_pinned_by_digest(res: Resource) -> list[str]:
    return [
        f"{_label(res)} {where}: container {c.get('name')!r} image {c.get('image')!r} is not pinned by digest"
        for where, pod in _pod_specs(res)
        for c in _containers(pod)
        if not _DIGEST.search(str(c.get("image") or ""))
    ]


def container_limits(res: Resource) -> list[str]:
    errors = []
    for where, pod in _pod_specs(res):
        for c in _containers(pod):
            limits = (c.get("resources") or {}).get("limits") or {}
            missing = [r for r in ("cpu", "memory") if r not in limits]
            if missing:
                errors.append(
                    f"{_label(res)} {where}: container {c.get('name')!r} has no {'/'.join(missing)} limit"
                )
    return errors


def _tolerates_gpu_taint(toleration: Props) -> bool:
    key_ok = toleration.get("key") == GPU_TAINT_KEY or (
        not toleration.get("key") and toleration.get("operator") == "Exists"
    )
    value_ok = toleration.get("operator") == "Exists" or toleration.get("value") == GPU_TAINT_VALUE
    return key_ok and value_ok and toleration.get("effect") in (None, "", "NoSchedule")


def gpu_workloads_tolerate_taint(res: Resource) -> list[str]:
    errors = []
    for where, pod in _pod_specs(res):
        wants_gpu = any(
            GPU_RESOURCE in ((c.get("resources") or {}).get(part) or {})
            for c in _containers(pod)
            for part in ("limits", "requests")
        )
        if wants_gpu and not any(_tolerates_gpu_taint(t) for t in pod.get("tolerations") or []):
            errors.append(
                f"{_label(res)} {where}: requests {GPU_RESOURCE} but does not tolerate "
                f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule"
            )
    return errors


def _is_gpu_node_group(props: Props) -> bool:
    ami = str(props.get("amiType") or "")
    return (
        "NVIDIA" in ami
        or "GPU" in ami
        or any(is_gpu_instance_type(t) for t in props.get("instanceTypes") or [])
    )


def gpu_pools_tainted(res: Resource) -> list[str]:
    if res.type != NODE_GROUP_TYPE or not _is_gpu_node_group(res.props):
        return []
    wanted = {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}
    taints = [{k: t.get(k) for k in wanted} for t in res.props.get("taints") or []]
    if wanted in taints:
        return []
    return [
        f"NodeGroup {res.name!r}: GPU node group lacks the taint {GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule"
    ]


def no_privileged_or_host_access(res: Resource) -> list[str]:
    errors = []
    for where, pod in _pod_specs(res):
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(flag):
                errors.append(f"{_label(res)} {where}: {flag} is not allowed")
        for volume in pod.get("volumes") or []:
            if volume.get("hostPath") is not None:
                errors.append(f"{_label(res)} {where}: volume {volume.get('name')!r} is a hostPath")
        for c in _containers(pod):
            context = c.get("securityContext") or {}
            if context.get("privileged"):
                errors.append(f"{_label(res)} {where}: container {c.get('name')!r} is privileged")
            if context.get("allowPrivilegeEscalation"):
                errors.append(
                    f"{_label(res)} {where}: container {c.get('name')!r} allows privilege escalation"
                )
    return errors


def _job_specs(res: Resource) -> Iterator[tuple[str, Props]]:
    spec = res.props.get("spec") or {}
    if res.type.startswith("kubernetes:batch/") and res.kind == "Job":
        yield "spec", spec
    elif res.type.startswith("kubernetes:batch/") and res.kind == "CronJob":
        yield "jobTemplate", (spec.get("jobTemplate") or {}).get("spec") or {}


def jobs_have_deadlines(res: Resource) -> list[str]:
    """A Job without a deadline can hold its nodes (GPUs) forever, e.g. a worker waiting for a lost peer."""
    errors = []
    for where, job in _job_specs(res):
        deadline = job.get("activeDeadlineSeconds")
        # Numbers reach CrossGuard as floats; a bool is not a number of seconds.
        if isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0:
            errors.append(f"{_label(res)} {where}: no activeDeadlineSeconds (a stuck run would never end)")
        if job.get("backoffLimit") is None and job.get("backoffLimitPerIndex") is None:
            errors.append(f"{_label(res)} {where}: no backoffLimit (the default retries 6 times)")
    return errors


def bounded_node_pools(res: Resource) -> list[str]:
    if res.type != NODE_GROUP_TYPE:
        return []
    scaling = res.props.get("scalingConfig") or {}
    keys = ("minSize", "desiredSize", "maxSize")
    if any(scaling.get(k) is None for k in keys):
        return [f"NodeGroup {res.name!r}: scalingConfig needs minSize, desiredSize and maxSize"]
    low, desired, high = (int(scaling[k]) for k in keys)
    if not 0 <= low <= desired <= high:
        return [
            f"NodeGroup {res.name!r}: need 0 <= minSize <= desiredSize <= maxSize, got {low}/{desired}/{high}"
        ]
    if high > MAX_POOL_NODES:
        return [f"NodeGroup {res.name!r}: maxSize {high} exceeds the bound of {MAX_POOL_NODES} nodes"]
    return []


RULES: tuple[Rule, ...] = (
    Rule("traffic-weights", "Non-shadow predictor traffic sums to 100; at most one shadow.", traffic_weights),
    Rule(
        "interleaving-predictors",
        "An interleaving (COMBINER) predictor has two MODEL children and a plain predictor with traffic beside it.",
        interleaving_predictors,
    ),
    Rule(
        "predictor-version-label",
        "Every predictor has its own labels.version and a version annotation.",
        predictor_version_labels,
    ),
    Rule(
        "images-pinned-by-digest",
        "Every container image is pinned by sha256 digest.",
        images_pinned_by_digest,
    ),
    Rule("container-limits", "Every container declares CPU and memory limits.", container_limits),
    Rule(
        "gpu-workloads-tolerate-taint",
        "Pods using GPUs tolerate the GPU taint.",
        gpu_workloads_tolerate_taint,
    ),
    Rule("gpu-pools-tainted", "GPU node groups carry the GPU NoSchedule taint.", gpu_pools_tainted),
    Rule(
        "no-privileged-or-host-access",
        "No privileged containers, privilege escalation, hostPath volumes or host namespaces.",
        no_privileged_or_host_access,
    ),
    Rule("bounded-node-pools", "Node groups have ordered, bounded autoscaling sizes.", bounded_node_pools),
    Rule(
        "jobs-have-deadlines",
        "Jobs set activeDeadlineSeconds and an explicit backoffLimit.",
        jobs_have_deadlines,
    ),
    Rule("run-as-non-root", "Every container runs as a non-root user.", hardening.run_as_non_root),
    Rule(
        "read-only-root-filesystem",
        "Every container has a read-only root filesystem.",
        hardening.read_only_root_filesystem,
    ),
    Rule(
        "drop-all-capabilities",
        "Every container drops ALL Linux capabilities and adds none.",
        hardening.drop_all_capabilities,
    ),
    Rule("seccomp-profile", "Every container runs under a seccomp profile.", hardening.seccomp_profile),
    Rule(
        "no-public-cidrs",
        "No API endpoint or security group open to 0.0.0.0/0.",
        hardening.no_public_cidrs,
    ),
    Rule("no-iam-wildcards", "IAM policies name their actions and scope writes.", hardening.no_iam_wildcards),
    Rule(
        "internal-load-balancers",
        "LoadBalancer Services are internal or limited to listed source ranges.",
        hardening.internal_load_balancers,
    ),
)
STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "workloads-fit-node-pools",
        "Predictors at their HPA ceilings and Jobs at their parallelism fit their node groups' max sizes.",
        capacity.workloads_fit_node_pools,
    ),
)


def evaluate(res: Resource) -> list[str]:
    """All violations of all rules for one resource, each prefixed with the rule name."""
    return [f"[{rule.name}] {message}" for rule in RULES for message in rule.check(res)]


def evaluate_stack(resources: Sequence[Resource]) -> list[str]:
    """All violations of the stack rules, each prefixed with the rule name."""
    return [f"[{rule.name}] {message}" for rule in STACK_RULES for message in rule.check(resources)]
