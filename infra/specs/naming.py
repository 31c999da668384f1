"""Names, labels and ports shared by the specs, the components and the tests.

Ports and the metrics path are Seldon Core 1.17 defaults: the Python wrapper serves REST on 9000, gRPC on 5000
and Prometheus metrics on 6000; the executor Seldon injects next to it serves 8000 (REST, and metrics under
the same port name) and 5001 (gRPC). The operator tells the wrapper the metrics path through
PREDICTIVE_UNIT_METRICS_ENDPOINT, taken from its `executor.prometheus.path` value (set from METRICS_PATH in
`addons.py`), so one constant keeps the wrapper, the executor and the PodMonitor on the same path.

The serving runtime's contract (`model/serving/`): health routes, uid, the metric label of the bundle version.
"""

from __future__ import annotations

from infra.settings.cluster import EksCluster

MODEL_CONTAINER = "ranker"
# What seldon-core-operator 1.17.1 calls the pieces it adds to a model pod (model_initializer_injector.go,
# seldondeployment_engine.go). A pod spec that already holds an init container of that name gets none
# injected: that is how rankship supplies a hardened storage initializer of its own.


def storage_initializer_name(container: str) -> str:
    return f"{container}-model-initializer"


def provision_volume_name(container: str) -> str:
    return f"{container}-provision-location"


EXECUTOR_CONTAINER = "seldon-container-engine"
PODINFO_VOLUME, PODINFO_PATH = "seldon-podinfo", "/etc/podinfo"
BUNDLE_MOUNT = "/mnt/models"
HTTP_PORT, GRPC_PORT, METRICS_PORT = 9000, 5000, 6000
EXECUTOR_HTTP_PORT, EXECUTOR_GRPC_PORT = 8000, 5001
METRICS_PORT_NAME = "metrics"
METRICS_PATH = "/prometheus"
# The serving image's user (model/serving/Dockerfile: USER 10001). Seldon's operator runs the pod, hence the
# storage initializer, as its defaultUserID 8888; the files it writes to /mnt/models are world-readable.
SERVING_UID = 10001
TRAINER_UID = 8888  # the trainer image's user (model/Dockerfile.train)
# /health/status answers 200 only once the bundle's MANIFEST and golden parity are verified; /health/ping as
# soon as the process is up. Seldon's default probes are TCP checks, which pass before the bundle is verified.
READY_PATH, LIVE_PATH = "/health/status", "/health/ping"
# The bundle version (12 hex, = the predictor's `version` annotation) on the runtime's own metrics. Seldon's own
# `model_version` label on the same series is the *image tag*.
BUNDLE_VERSION_LABEL = "bundle_version"

# The predictor label Seldon's Istio DestinationRule subsets select. Its value is the track, constant for the
# life of the predictor: a promotion then rolls stable's pods within one subset instead of relabelling them.
VERSION_LABEL = "version"
# The predictor annotation Seldon's executor copies into `predictor_version` on its own metrics.
PREDICTOR_VERSION_ANNOTATION = "version"
MODEL_LABEL = "rankship.io/model"
TRACK_LABEL = "rankship.io/track"
SELDON_MANAGED_BY = {"app.kubernetes.io/managed-by": "seldon-core"}
PART_OF = {"app.kubernetes.io/part-of": "rankship"}
# Prometheus target labels copied from the pod labels above (see the PodMonitor relabelings).
PROM_MODEL_LABEL = "rankship_model"
PROM_TRACK_LABEL = "rankship_track"

SERVICE_ACCOUNT = "rankship-model-server"
ISTIO_NAMESPACE = "istio-system"
INGRESS_GATEWAY_RELEASE = "istio-ingressgateway"
INGRESS_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
SELDON_GATEWAY = "seldon-gateway"
SELDON_NAMESPACE = "seldon-system"
MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_RELEASE = "kube-prometheus-stack"
PROMETHEUS_POD_SELECTOR = {"app.kubernetes.io/name": "prometheus"}
GRAFANA_SERVICE = f"{PROMETHEUS_RELEASE}-grafana"
AUTOSCALER_NAMESPACE = "kube-system"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"

TRACKS = ("stable", "canary", "shadow")

# The interleaving predictor (infra/specs/interleave.py): a team-draft COMBINER over two MODEL children.
INTERLEAVE_TRACK = "interleave"
COMBINER_CONTAINER = "interleaver"
INTERLEAVE_CHILD = {"stable": "ranker-stable", "canary": "ranker-canary"}
COMBINER_CLASS = "model.serving.combiner.RankshipInterleaver"
# The serving image's entry point (model/serving/Dockerfile CMD): seldon-core-microservice that drains on SIGTERM.
SERVING_ENTRYPOINT = ("python", "-m", "model.serving.entrypoint")
# meta.tags.model_version of an interleaved answer; the same string as model/serving/interleaving.py.
INTERLEAVED_VERSION = "interleaved"

# Distributed training (infra/specs/training.py). 2222 is the port TF_CONFIG examples conventionally use.
TRAINER_CONTAINER = "trainer"
TRAINER_SERVICE_ACCOUNT = "rankship-trainer"
TRAINER_COMPONENT = {"app.kubernetes.io/component": "trainer"}
TRAIN_RUN_LABEL = "rankship.io/train-run"
WORKER_PORT, WORKER_PORT_NAME = 2222, "worker"
TRAIN_JOB_PREFIX = "rankship-train-"


def bundle_reader_role_name(cluster: EksCluster) -> str:
    return f"{cluster.name}-bundle-reader"


def trainer_role_name(cluster: EksCluster) -> str:
    return f"{cluster.name}-trainer"


def train_job_name(run_id: str) -> str:
    """The Job, its headless Service and its ConfigMap all carry this name."""
    return f"{TRAIN_JOB_PREFIX}{run_id}"


def autoscaler_role_name(cluster: EksCluster) -> str:
    return f"{cluster.name}-cluster-autoscaler"


def role_arn(cluster: EksCluster, role_name: str) -> str:
    """IAM role ARNs are predictable from account and name, which keeps the Kubernetes specs pure."""
    return f"arn:aws:iam::{cluster.account_id}:role/{role_name}"


def endpoint_path(namespace: str, model: str) -> str:
    """Seldon's Istio VirtualService prefix plus the Seldon protocol prediction route."""
    return f"/seldon/{namespace}/{model}/api/v1.0/predictions"
