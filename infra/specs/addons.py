"""Platform add-ons as pure data: Helm charts in install order, plus the Istio Gateway Seldon routes through.

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
    gateway_values = {"service": {"type": settings.platform.ingress_service_type}}
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


def _seldon(settings: StackSettings) -> HelmChart:
    values = {
        "istio": {"enabled": True, "gateway": f"{n.ISTIO_NAMESPACE}/{n.SELDON_GATEWAY}"},
        # The operator's admission webhook gets its certificate from cert-manager.
        "certManager": {"enabled": True},
        "usageMetrics": {"enabled": False},
        "executor": {"metricsPortName": n.METRICS_PORT_NAME, "prometheus": {"path": n.METRICS_PATH}},
        "predictiveUnit": {"metricsPortName": n.METRICS_PORT_NAME},
    }
    needs = ("cert-manager", "istiod", n.INGRESS_GATEWAY_RELEASE)
    version = settings.platform.charts.seldon_core_operator
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
    values = {
        "prometheus": {
            "prometheusSpec": {
                "retention": settings.platform.prometheus_retention,
                # Select only monitors and rules labelled release=<this release>, as ours are.
                "podMonitorSelectorNilUsesHelmValues": True,
                "ruleSelectorNilUsesHelmValues": True,
            }
        },
        "grafana": {
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                    "folderAnnotation": "grafana_folder",
                    "provider": {"foldersFromFilesStructure": True},
                }
            }
        },
    }
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


def seldon_gateway() -> dict[str, Any]:
    """The Istio Gateway named in the operator's `istio.gateway` value; SeldonDeployments route through it."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": n.SELDON_GATEWAY, "namespace": n.ISTIO_NAMESPACE, "labels": dict(n.PART_OF)},
        "spec": {
            "selector": dict(n.INGRESS_GATEWAY_SELECTOR),
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
        },
    }
