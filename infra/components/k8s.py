"""Turn a plain Kubernetes object (from `infra.specs`) into the matching Pulumi resource."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# Seldon reports readiness in status.state; pulumi-kubernetes waits on this annotation before moving on.
SELDON_AWAIT = {
    "pulumi.com/waitFor": "jsonpath={.status.state}=Available",
    "pulumi.com/timeoutSeconds": "900",
}


def resource_name(obj: dict[str, Any]) -> str:
    """Stable, readable Pulumi name: kind and Kubernetes name (namespace is fixed per stack)."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}"


# A training Job runs for hours: `pulumi up` declares it and moves on; the release workflow does the waiting.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def _annotated(obj: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    metadata = {**obj["metadata"], "annotations": {**obj["metadata"].get("annotations", {}), **annotations}}
    return {**obj, "metadata": metadata}


def with_await(obj: dict[str, Any]) -> dict[str, Any]:
    """Copy of a SeldonDeployment that makes `pulumi up` wait until Seldon reports it Available."""
    return _annotated(obj, SELDON_AWAIT)


def without_await(obj: dict[str, Any]) -> dict[str, Any]:
    """Copy of an object that `pulumi up` creates without waiting for it to become ready or complete."""
    return _annotated(obj, SKIP_AWAIT)


def apply_object(obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource:
    kind, name, meta = obj["kind"], resource_name(obj), obj["metadata"]
    if kind == "Namespace":
        return k8s.core.v1.Namespace(name, metadata=meta, opts=opts)
    if kind == "ServiceAccount":
        automount = obj.get("automountServiceAccountToken")
        return k8s.core.v1.ServiceAccount(
            name, metadata=meta, automount_service_account_token=automount, opts=opts
        )
    if kind == "Secret":
        return k8s.core.v1.Secret(
            name, metadata=meta, type=obj.get("type"), string_data=obj.get("stringData"), opts=opts
        )
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(name, metadata=meta, data=obj.get("data"), opts=opts)
    if kind == "Service":
        return k8s.core.v1.Service(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "Job":
        return k8s.batch.v1.Job(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "StorageClass":
        return k8s.storage.v1.StorageClass(
            name,
            metadata=meta,
            provisioner=obj["provisioner"],
            parameters=obj.get("parameters"),
            volume_binding_mode=obj.get("volumeBindingMode"),
            reclaim_policy=obj.get("reclaimPolicy"),
            allow_volume_expansion=obj.get("allowVolumeExpansion"),
            opts=opts,
        )
    if kind == "NetworkPolicy":
        return k8s.networking.v1.NetworkPolicy(name, metadata=meta, spec=obj["spec"], opts=opts)
    # Custom resources (SeldonDeployment, PodMonitor, PrometheusRule, Gateway, Certificate, Istio policies):
    # their CRDs come from the add-ons.
    return k8s.apiextensions.CustomResource(
        name, api_version=obj["apiVersion"], kind=kind, metadata=meta, spec=obj["spec"], opts=opts
    )
