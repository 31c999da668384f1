"""SeldonDeployment (machinelearning.seldon.io/v1) for one model: stable, optional canary, optional shadow.

The model container follows the serving image's contract (`model/serving/`, its NOTES and Dockerfile): uid
10001, a read-only root filesystem with a memory-backed /tmp, the bundle at RANKSHIP_BUNDLE, readiness on
/health/status (200 only after MANIFEST and golden parity checks) and liveness on /health/ping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kubernetes.utils import parse_quantity

from infra.policy.rules import GPU_RESOURCE
from infra.settings.cluster import POOL_LABEL
from infra.settings.serving import Autoscaling, Bundle, ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs import pods
from infra.specs.pods import pod_security_context, security_context

# The executor Seldon injects into every pod; bounded so that every container in the pod has limits.
EXECUTOR_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}
# gunicorn's worker heartbeat files and Seldon's metrics-manager socket live in /tmp; Werkzeug spools large
# form bodies there too (at most RANKSHIP_MAX_REQUEST_BYTES, 4 MiB, per request in flight). In memory, as
# gunicorn's docs advise: its per-second heartbeat on a disk-backed filesystem can stall the workers.
TMP_VOLUME = {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}}
GRACE_MARGIN_S = 10
# The operator's own defaults for its storage initializer (chart `storageInitializer.*`), kept for ours.
INITIALIZER_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "100Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


def probes() -> dict[str, Any]:
    """Readiness on the verified bundle, liveness on the process (Seldon's default TCP probes pass before
    the bundle is verified)."""
    return {
        "readinessProbe": {
            "httpGet": {"path": n.READY_PATH, "port": "http"},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        # With one thread per worker a ping waits behind the requests in flight: a busy pod is not a dead
        # one, so a restart takes a minute of unanswered pings.
        "livenessProbe": {
            "httpGet": {"path": n.LIVE_PATH, "port": "http"},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
    }


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


def gunicorn_workers(model: ModelSettings) -> int:
    """One REST worker per requested CPU core (rounded up), unless the settings name a number.

    The request is what the scheduler guarantees; `make bench-serve` showed a second worker helps only
    when a core is free for it.
    """
    if model.runtime.workers is not None:
        return model.runtime.workers
    return max(1, math.ceil(parse_quantity(model.resources.cpu)))


def litert_threads(model: ModelSettings) -> int:
    """LiteRT threads per serving process: the pod's CPU limit shared among the REST workers, rounded down
    (at least 1), unless the settings name a number.

    The limit is a CFS quota over all of the container's threads: workers x LiteRT threads above it are
    throttled mid-request; the request, one worker per core, is what the scheduler guarantees. Between the
    two, a second LiteRT thread uses a core the limit allows but a worker does not (`make bench-serve`:
    100 candidates invoke ~1.5x faster on two threads when a core is free).
    """
    if model.runtime.litert_threads is not None:
        return model.runtime.litert_threads
    return max(1, math.floor(parse_quantity(model.resources.cpu_limit) / gunicorn_workers(model)))


def score_buckets_value(edges: tuple[float, ...]) -> str:
    """The runtime's comma-separated edges; repr is the shortest text that parses back to the same float."""
    return ",".join(repr(float(e)) for e in edges)


def runtime_env(model: ModelSettings) -> list[dict[str, str]]:
    """The variables the serving runtime reads (`model/serving/settings.py`, gunicorn); unset ones keep the
    image's defaults. The bundle's identity is not among them: the runtime derives it from the MANIFEST."""
    rt = model.runtime
    env = {
        "RANKSHIP_BUNDLE": n.BUNDLE_MOUNT,
        "GUNICORN_WORKERS": str(gunicorn_workers(model)),
        "GUNICORN_THREADS": str(rt.threads),
        "RANKSHIP_LITERT_THREADS": str(litert_threads(model)),
        # Model-level, so every predictor (stable, canary, shadow) counts scores into the same buckets.
        "RANKSHIP_SCORE_BUCKETS": score_buckets_value(rt.score_buckets),
        "RANKSHIP_DRAIN_SECONDS": str(rt.drain_seconds),
    }
    optional = {
        "RANKSHIP_MAX_CANDIDATES": rt.max_candidates,
        "RANKSHIP_MAX_TEXT_CHARS": rt.max_text_chars,
        "RANKSHIP_MAX_REQUEST_BYTES": rt.max_request_bytes,
    }
    env.update({name: str(value) for name, value in optional.items() if value is not None})
    return [{"name": name, "value": value} for name, value in env.items()]


def storage_initializer(settings: StackSettings, p: Predictor, container: str) -> dict[str, Any] | None:
    """The bundle download as an init container of our own, hardened like the model container.

    Given one under the operator's name for it, seldon-core-operator 1.17.1 injects none (and so adds
    neither its unhardened container nor its tag-pinned image). The image's entrypoint is `rclone copy`;
    the remote `s3` comes from the bundle-store Secret's RCLONE_CONFIG_S3_* variables. Without
    `platform.seldon_images` (existing clusters only) the operator injects its own.
    """
    images = settings.platform.seldon_images
    if images is None:
        return None
    return {
        "name": n.storage_initializer_name(container),
        "image": images.storage_initializer,
        "args": [p.bundle.uri, n.BUNDLE_MOUNT],
        "envFrom": [{"secretRef": {"name": settings.serving.bundle_store_secret}}],
        # rclone looks for a config file and a cache under $HOME; the root filesystem is read-only.
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"}],
        "resources": INITIALIZER_RESOURCES,
        "securityContext": security_context(n.SERVING_UID),
        "volumeMounts": [
            {"name": n.provision_volume_name(container), "mountPath": n.BUNDLE_MOUNT},
            {"name": TMP_VOLUME["name"], "mountPath": "/tmp"},
        ],
    }


def model_container(
    settings: StackSettings, model: ModelSettings, p: Predictor, name: str = n.MODEL_CONTAINER
) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": TMP_VOLUME["name"], "mountPath": "/tmp"}]
    if settings.platform.seldon_images is not None:
        # Where the storage initializer wrote the bundle; read-only for the model server.
        volume = n.provision_volume_name(name)
        mounts.append({"name": volume, "mountPath": n.BUNDLE_MOUNT, "readOnly": True})
    return {
        "name": name,
        "image": p.image,
        "env": runtime_env(model),
        "ports": [
            {"name": "http", "containerPort": n.HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": n.GRPC_PORT, "protocol": "TCP"},
            {"name": n.METRICS_PORT_NAME, "containerPort": n.METRICS_PORT, "protocol": "TCP"},
        ],
        **probes(),
        "resources": container_resources(model),
        "securityContext": security_context(n.SERVING_UID),
        "volumeMounts": mounts,
    }


def placement(model: ModelSettings) -> dict[str, Any]:
    """GPU node selector and toleration for GPU models; the pool label for models pinned to a pool."""
    spec = pods.gpu_placement(model.resources.gpu, model.resources.gpu_type)
    if model.node_pool is not None:
        spec["nodeSelector"] = {**spec.get("nodeSelector", {}), POOL_LABEL: model.node_pool}
    return spec


def track_labels(model: ModelSettings, p: Predictor) -> dict[str, str]:
    """Constant for the predictor's life: the bundle version travels in the annotation, never here."""
    return {n.VERSION_LABEL: p.track, n.MODEL_LABEL: model.name, n.TRACK_LABEL: p.track}


def pod_spec(
    settings: StackSettings,
    model: ModelSettings,
    p: Predictor,
    name: str = n.MODEL_CONTAINER,
    bundle: bool = True,
) -> dict[str, Any]:
    """The pod of one graph node: its container `name` and, with `bundle`, the initializer that fetches it."""
    spread_selector = {n.MODEL_LABEL: model.name, n.TRACK_LABEL: p.track}
    initializer = storage_initializer(settings, p, name) if bundle else None
    provision = {"name": n.provision_volume_name(name), "emptyDir": {}}
    volumes = [TMP_VOLUME, *([provision] if initializer else [])]
    return {
        "serviceAccountName": n.SERVICE_ACCOUNT,
        # The model server never calls the Kubernetes API (the service account says so too).
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(n.SERVING_UID),
        # The runtime drains within drain_seconds (model/serving/entrypoint.py); the kubelet's SIGKILL
        # comes only after this, so a clean stop is never cut short.
        "terminationGracePeriodSeconds": model.runtime.drain_seconds + GRACE_MARGIN_S,
        **({"initContainers": [initializer]} if initializer else {}),
        "containers": [model_container(settings, model, p, name)],
        "volumes": volumes,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": spread_selector},
            }
        ],
        **placement(model),
    }


def hpa_spec(scaling: Autoscaling) -> dict[str, Any]:
    # `metricsv2` has the autoscaling/v2 shape; Seldon's older `metrics` field has v2beta1's, gone since 1.25.
    target = {"type": "Utilization", "averageUtilization": scaling.target_cpu_utilization}
    return {
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metricsv2": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
    }


def bundle_secret_ref(settings: StackSettings) -> dict[str, str]:
    """Where the operator injects its own initializer, the graph node names the bundle-store Secret."""
    if settings.platform.seldon_images is not None:
        return {}
    return {"envSecretRefName": settings.serving.bundle_store_secret}


def predictor_spec(settings: StackSettings, model: ModelSettings, p: Predictor) -> dict[str, Any]:
    component = {
        "spec": pod_spec(settings, model, p),
        "hpaSpec": hpa_spec(p.autoscaling),
        "pdbSpec": {"maxUnavailable": model.max_unavailable},
    }
    graph: dict[str, Any] = {
        "name": n.MODEL_CONTAINER,
        "type": "MODEL",
        # The storage initializer downloads this into /mnt/models before the model container starts.
        "modelUri": p.bundle.uri,
        "endpoint": {"type": "REST", "httpPort": n.HTTP_PORT, "grpcPort": n.GRPC_PORT},
        "children": [],
    }
    graph.update(bundle_secret_ref(settings))
    spec: dict[str, Any] = {
        "name": p.track,
        "traffic": p.traffic,
        "labels": track_labels(model, p),
        # Seldon's executor fills `predictor_version` on its seldon_api_executor_* series from this annotation
        # (not from the label), so its metrics name the bundle version like the runtime's `bundle_version`.
        "annotations": {n.PREDICTOR_VERSION_ANNOTATION: p.bundle.version},
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
        "spec": {"predictors": all_predictor_specs(settings, model)},
    }


def all_predictor_specs(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    """The tracks, then the interleaving predictor when the settings declare one."""
    # Imported here: infra.specs.interleave builds on this module's pieces.
    from infra.specs.interleave import interleave_predictor

    specs = [predictor_spec(settings, model, p) for p in predictors(model)]
    interleaved = interleave_predictor(settings, model)
    return specs if interleaved is None else [*specs, interleaved]
