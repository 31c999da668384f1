"""The serving namespace and what every model in it shares: identity, bundle access, network policy."""

from __future__ import annotations

from typing import Any

from infra.settings.cluster import EksCluster
from infra.settings.stack import StackSettings
from infra.specs import naming as n


def _meta(settings: StackSettings, name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": settings.serving.namespace, "labels": dict(n.PART_OF), **extra}


def namespace(settings: StackSettings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": settings.serving.namespace,
            "labels": {
                **n.PART_OF,
                # Seldon injects its executor and storage initializer without the full restricted profile,
                # so enforce baseline and only warn on restricted.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                # Istio's gateway routes to pod IPs by subset; the model pods need no sidecar.
                "istio-injection": "disabled",
            },
        },
    }


def service_account(settings: StackSettings) -> dict[str, Any]:
    annotations = {}
    if isinstance(settings.cluster, EksCluster):
        # IRSA: the storage initializer reads bundles from S3 with this role, no static keys.
        arn = n.role_arn(settings.cluster, n.bundle_reader_role_name(settings.cluster))
        annotations["eks.amazonaws.com/role-arn"] = arn
    meta = _meta(settings, n.SERVICE_ACCOUNT)
    if annotations:
        meta["annotations"] = annotations
    # The model server never talks to the Kubernetes API.
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }


def bundle_store_secret(settings: StackSettings) -> dict[str, Any] | None:
    """rclone settings for Seldon's storage initializer on EKS: credentials come from IRSA, so nothing secret.

    On `existing` clusters the Secret holds real credentials (e.g. MinIO keys) and is created by hand.
    """
    if not isinstance(settings.cluster, EksCluster):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(settings, settings.serving.bundle_store_secret),
        "type": "Opaque",
        "stringData": {
            "RCLONE_CONFIG_S3_TYPE": "s3",
            "RCLONE_CONFIG_S3_PROVIDER": "AWS",
            "RCLONE_CONFIG_S3_ENV_AUTH": "true",
            "RCLONE_CONFIG_S3_REGION": settings.cluster.region,
        },
    }


def _from(namespace_name: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace_name}},
        "podSelector": {"matchLabels": dict(pod_labels)},
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


MODEL_PODS = {"matchExpressions": [{"key": n.MODEL_LABEL, "operator": "Exists"}]}


def network_policies(settings: StackSettings) -> list[dict[str, Any]]:
    """Deny all ingress, then let in the Istio gateway (executor ports) and Prometheus (metrics ports).

    Egress stays open: the storage initializer downloads from S3, whose addresses a NetworkPolicy cannot name.
    """

    def policy(name: str, pod_selector: dict[str, Any], ingress: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(settings, name),
            "spec": {"podSelector": pod_selector, "policyTypes": ["Ingress"], "ingress": ingress},
        }

    gateway = [
        {
            "from": [_from(n.ISTIO_NAMESPACE, n.INGRESS_GATEWAY_SELECTOR)],
            "ports": _tcp(n.EXECUTOR_HTTP_PORT, n.EXECUTOR_GRPC_PORT),
        }
    ]
    scrape = [
        {
            "from": [_from(n.MONITORING_NAMESPACE, n.PROMETHEUS_POD_SELECTOR)],
            "ports": _tcp(n.EXECUTOR_HTTP_PORT, n.METRICS_PORT),
        }
    ]
    return [
        policy("default-deny-ingress", {}, []),
        policy("allow-ingress-gateway", MODEL_PODS, gateway),
        policy("allow-prometheus-scrape", MODEL_PODS, scrape),
    ]


def namespace_objects(settings: StackSettings) -> list[dict[str, Any]]:
    secret = bundle_store_secret(settings)
    return [
        namespace(settings),
        service_account(settings),
        *([secret] if secret else []),
        *network_policies(settings),
    ]
