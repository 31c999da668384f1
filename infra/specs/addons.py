"""Platform add-ons as pure data: Helm charts in install order (the gateway's objects are in `gateway.py`).

`addon_charts` is ordered so that every chart comes after the charts it `needs`; the Platform component
turns `needs` into Pulumi `depends_on` and waits for each release to become ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.policy.rules import GPU_TAINT_KEY
from infra.settings.cluster import EksCluster
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.gateway import gateway_service_values
from infra.specs.prometheus_stack import prometheus_values

REPOS = {
    "autoscaler": "https://kubernetes.github.io/autoscaler",
    "nvidia": "https://nvidia.github.io/k8s-device-plugin",
    "jetstack": "https://charts.jetstack.io",
    "istio": "https://istio-release.storage.googleapis.com/charts",
    "seldon": "https://storage.googleapis.com/seldon-charts",
    "prometheus": "https://prometheus-community.github.io/helm-charts",
}


@dataclass(frozen=True)
class HelmChart:
    release: str
    chart: str
    repo: str
    version: str
    namespace: str
    values: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()


def _autoscaler(cluster: EksCluster, version: str) -> HelmChart:
    arn = n.role_arn(cluster, n.autoscaler_role_name(cluster))
    values = {
        "cloudProvider": "aws",
        "awsRegion": cluster.region,
        "autoDiscovery": {"clusterName": cluster.name},
        "rbac": {
            "serviceAccount": {
                "name": n.AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": arn},
            }
        },
        # Scale GPU pools down when idle, and pick the node group that wastes least.
        "extraArgs": {
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            "scale-down-unneeded-time": "10m",
        },
    }
    return HelmChart(
        "cluster-autoscaler",
        "cluster-autoscaler",
        REPOS["autoscaler"],
        version,
        n.AUTOSCALER_NAMESPACE,
        values,
    )


def _istio(settings: StackSettings) -> list[HelmChart]:
    version, repo = settings.platform.charts.istio, REPOS["istio"]
    gateway_values = gateway_service_values(settings)
    return [
        HelmChart("istio-base", "base", repo, version, n.ISTIO_NAMESPACE, {"defaultRevision": "default"}),
        HelmChart("istiod", "istiod", repo, version, n.ISTIO_NAMESPACE, {}, ("istio-base",)),
        # The release name gives the pods the label istio=ingressgateway that Seldon's Gateway selects.
        HelmChart(
            n.INGRESS_GATEWAY_RELEASE,
            "gateway",
            repo,
            version,
            n.ISTIO_NAMESPACE,
            gateway_values,
            ("istiod",),
        ),
    ]


def image_parts(image: str, default_tag: str) -> dict[str, str]:
    """`registry/repo[:tag]@sha256:d` as the chart's executor.image values; the operator joins them as
    `registry/repository:tag`, so the digest rides on the tag (a tag beside a digest is ignored on pull)."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    registry, path = (
        (first, rest)
        if rest and ("." in first or ":" in first or first == "localhost")
        else (
            "docker.io",
            name,
        )
    )
    repository, _, tag = path.partition(":")
    return {"registry": registry, "repository": repository, "tag": f"{tag or default_tag}@{digest}"}


def _seldon(settings: StackSettings) -> HelmChart:
    version = settings.platform.charts.seldon_core_operator
    executor: dict[str, Any] = {
        "metricsPortName": n.METRICS_PORT_NAME,
        "prometheus": {"path": n.METRICS_PATH},
        # The executor container's securityContext is {runAsUser: this, allowPrivilegeEscalation: false}
        # (seldondeployment_engine.go); the pod's securityContext adds runAsNonRoot and seccomp. Above 10000
        # so that it collides with no host user.
        "user": n.SERVING_UID,
    }
    values: dict[str, Any] = {
        "istio": {"enabled": True, "gateway": f"{n.ISTIO_NAMESPACE}/{n.SELDON_GATEWAY}"},
        # The operator's admission webhook gets its certificate from cert-manager.
        "certManager": {"enabled": True},
        "usageMetrics": {"enabled": False},
        "executor": executor,
        "predictiveUnit": {"metricsPortName": n.METRICS_PORT_NAME},
    }
    images = settings.platform.seldon_images
    if images is not None:
        executor["image"] = {**image_parts(images.executor, version), "pullPolicy": "IfNotPresent"}
        # Only used where the operator injects its own initializer; the model pods bring theirs.
        values["storageInitializer"] = {"image": images.storage_initializer}
    needs = ("cert-manager", "istiod", n.INGRESS_GATEWAY_RELEASE)
    return HelmChart(
        "seldon-core-operator",
        "seldon-core-operator",
        REPOS["seldon"],
        version,
        n.SELDON_NAMESPACE,
        values,
        needs,
    )


def _prometheus(settings: StackSettings) -> HelmChart:
    values = prometheus_values(settings)
    version = settings.platform.charts.kube_prometheus_stack
    return HelmChart(
        n.PROMETHEUS_RELEASE,
        "kube-prometheus-stack",
        REPOS["prometheus"],
        version,
        n.MONITORING_NAMESPACE,
        values,
    )


def addon_charts(settings: StackSettings) -> list[HelmChart]:
    """The add-ons of a stack in install order (every chart after what it `needs`)."""
    charts = settings.platform.charts
    result: list[HelmChart] = []
    if isinstance(settings.cluster, EksCluster) and charts.cluster_autoscaler:
        result.append(_autoscaler(settings.cluster, charts.cluster_autoscaler))
    if settings.gpu_pools and charts.nvidia_device_plugin:
        result.append(
            HelmChart(
                "nvidia-device-plugin",
                "nvidia-device-plugin",
                REPOS["nvidia"],
                charts.nvidia_device_plugin,
                "kube-system",
                {"tolerations": [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]},
            )
        )
    result.append(
        HelmChart(
            "cert-manager",
            "cert-manager",
            REPOS["jetstack"],
            charts.cert_manager,
            "cert-manager",
            {"crds": {"enabled": True}},
        )
    )
    result += [*_istio(settings), _seldon(settings), _prometheus(settings)]
    return result
