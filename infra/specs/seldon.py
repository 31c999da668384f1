"""SeldonDeployment (machinelearning.seldon.io/v1) for one model: stable, optional canary, optional shadow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config import StackSettings
from infra.config_serving import Autoscaling, Bundle, ModelSettings
from infra.policy.rules import GPU_RESOURCE
from infra.specs import naming as n
from infra.specs import pods
from infra.specs.pods import security_context

# The executor Seldon injects into every pod; bounded so that every container in the pod has limits.
EXECUTOR_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
TMP_VOLUME = {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


@dataclass(frozen=True)
class Predictor:
    """One track of a model as the spec needs it."""

    track: str
    bundle: Bundle
    image: str
    traffic: int
    autoscaling: Autoscaling
    shadow: bool = False


def predictors(model: ModelSettings) -> list[Predictor]:
    """The model's tracks in a fixed order; canary and shadow scale from 1 unless told otherwise."""
    stable = model.autoscaling
    small = Autoscaling(
        min_replicas=1, max_replicas=stable.max_replicas, target_cpu_utilization=stable.target_cpu_utilization
    )
    tracks = [
        Predictor(
            "stable", model.stable.bundle, model.stable.image or model.image, model.stable.weight, stable
        )
    ]
    if model.canary is not None:
        c = model.canary
        tracks.append(Predictor("canary", c.bundle, c.image or model.image, c.weight, c.autoscaling or small))
    if model.shadow is not None:
        s = model.shadow
        # For a shadow, Seldon reads `traffic` as Istio's mirror percentage.
        mirror = Predictor(
            "shadow", s.bundle, s.image or model.image, s.mirror_percent, s.autoscaling or small, True
        )
        tracks.append(mirror)
    return tracks


def container_resources(model: ModelSettings) -> dict[str, Any]:
    r = model.resources
    resources: dict[str, Any] = {
        "requests": {"cpu": r.cpu, "memory": r.memory},
        "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit},
    }
    if r.gpu:
        # Extended resources are set as limits; Kubernetes copies them into requests.
        resources["limits"][GPU_RESOURCE] = str(r.gpu)
    return resources


def model_container(model: ModelSettings, p: Predictor) -> dict[str, Any]:
    return {
        "name": n.MODEL_CONTAINER,
        "image": p.image,
        "env": [
            {"name": "RANKSHIP_BUNDLE_DIR", "value": n.BUNDLE_MOUNT},
            {"name": "RANKSHIP_BUNDLE_ID", "value": p.bundle.id},
        ],
        "ports": [
            {"name": "http", "containerPort": n.HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": n.GRPC_PORT, "protocol": "TCP"},
            {"name": n.METRICS_PORT_NAME, "containerPort": n.METRICS_PORT, "protocol": "TCP"},
        ],
        "resources": container_resources(model),
        "securityContext": security_context(),
        # Read-only root FS: gunicorn and prometheus_client still need a scratch directory.
        "volumeMounts": [{"name": TMP_VOLUME["name"], "mountPath": "/tmp"}],
    }


def gpu_placement(model: ModelSettings) -> dict[str, Any]:
    return pods.gpu_placement(model.resources.gpu, model.resources.gpu_type)


def track_labels(model: ModelSettings, p: Predictor) -> dict[str, str]:
    return {n.VERSION_LABEL: p.bundle.version, n.MODEL_LABEL: model.name, n.TRACK_LABEL: p.track}


def pod_spec(model: ModelSettings, p: Predictor) -> dict[str, Any]:
    spread_selector = {n.MODEL_LABEL: model.name, n.TRACK_LABEL: p.track}
    return {
        "serviceAccountName": n.SERVICE_ACCOUNT,
        "containers": [model_container(model, p)],
        "volumes": [TMP_VOLUME],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": spread_selector},
            }
        ],
        **gpu_placement(model),
    }


def hpa_spec(scaling: Autoscaling) -> dict[str, Any]:
    # `metricsv2` has the autoscaling/v2 shape; Seldon's older `metrics` field has v2beta1's, gone since 1.25.
    target = {"type": "Utilization", "averageUtilization": scaling.target_cpu_utilization}
    return {
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metricsv2": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
    }


def predictor_spec(settings: StackSettings, model: ModelSettings, p: Predictor) -> dict[str, Any]:
    component = {
        "spec": pod_spec(model, p),
        "hpaSpec": hpa_spec(p.autoscaling),
        "pdbSpec": {"maxUnavailable": model.max_unavailable},
    }
    graph = {
        "name": n.MODEL_CONTAINER,
        "type": "MODEL",
        # Seldon's storage initializer downloads this into /mnt/models before the model container starts.
        "modelUri": p.bundle.uri,
        "envSecretRefName": settings.serving.bundle_store_secret,
        "endpoint": {"type": "REST", "httpPort": n.HTTP_PORT, "grpcPort": n.GRPC_PORT},
        "children": [],
    }
    spec: dict[str, Any] = {
        "name": p.track,
        "traffic": p.traffic,
        "labels": track_labels(model, p),
        "componentSpecs": [component],
        "graph": graph,
        "svcOrchSpec": {"resources": EXECUTOR_RESOURCES},
    }
    if p.shadow:
        spec["shadow"] = True
    return spec


def seldon_deployment(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {
            "name": model.name,
            "namespace": settings.serving.namespace,
            "labels": {n.MODEL_LABEL: model.name, "app.kubernetes.io/name": model.name, **n.PART_OF},
        },
        "spec": {
            "predictors": [predictor_spec(settings, model, p) for p in predictors(model)],
        },
    }
