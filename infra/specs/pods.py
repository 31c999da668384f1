"""Pod parts every rankship workload shares: the hardened container securityContext and GPU placement."""

from __future__ import annotations

from typing import Any

from infra.policy.rules import GPU_PRESENT_LABEL, GPU_TAINT_KEY, GPU_TAINT_VALUE
from infra.settings.cluster import GPU_TYPE_LABEL


def security_context(uid: int) -> dict[str, Any]:
    """Non-root as `uid` (the image's own user), read-only root filesystem, no privilege escalation, no
    capabilities, default seccomp.

    Set per container as well as per pod (`pod_security_context`): containers the operator adds bring their
    own securityContext, and a container's settings win over the pod's.
    """
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context(uid: int) -> dict[str, Any]:
    """Pod-wide defaults, kept by seldon-core-operator 1.17.1 (it sets its own only when the spec has none):
    they cover the executor it injects, whose container securityContext names only its user."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def gpu_placement(gpus: int, gpu_type: str | None) -> dict[str, Any]:
    """Node selector and GPU-taint toleration for pods that use GPUs; nothing for CPU pods.

    CPU pods get no toleration on purpose, so they never take a GPU node's capacity.
    """
    if not gpus:
        return {}
    selector = {GPU_PRESENT_LABEL: "true"}
    if gpu_type:
        selector[GPU_TYPE_LABEL] = gpu_type
    return {
        "nodeSelector": selector,
        "tolerations": [
            {"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": "NoSchedule"}
        ],
    }
