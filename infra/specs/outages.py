"""Alerts that see outages the model process cannot report, and the series they read.

The runtime counts its own errors (`rankship_errors_total`), but a request that never reaches a working
model process is counted nowhere there: every request failing, pods unready, the executor or the Istio
gateway answering 5xx/503. These read what sits in front of the model instead:

- the Seldon executor's `seldon_api_executor_server_requests_seconds_count{service, code}` (REST `code` is
  the HTTP status, gRPC's the status name), which also feeds the burn-rate ratios (`promql.py`);
- the Istio ingress gateway's `istio_requests_total{response_code}` (scraped by `gateway_pod_monitor`): what
  clients got, including 503 "no healthy upstream" when no pod is ready;
- `up` per scraped pod, `absent(up)` per model (no pod at all), and kube-state-metrics' available replicas.
"""

from __future__ import annotations

from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n

EXECUTOR_COUNT = "seldon_api_executor_server_requests_seconds_count"
# REST predictions and gRPC Predict; `status` and `metadata` calls are not traffic.
PREDICT_SERVICES = 'service=~"predictions|/seldon.protos.Seldon/Predict"'
# HTTP 5xx, and the gRPC codes that are the server's fault (InvalidArgument is the client's).
EXECUTOR_SERVER_ERRORS = 'code=~"5..|Internal|Unavailable|DeadlineExceeded|Unknown|DataLoss"'
GATEWAY_METRICS_PORT = "http-envoy-prom"  # Envoy's own stats port on Istio's gateway pods (15090)
# Series from outside the serving pods (Istio, Prometheus itself, kube-state-metrics).
EXTERNAL_SERIES = frozenset({"istio_requests_total", "up", "kube_deployment_status_replicas_available"})
FAILING_RATIO = 0.5  # more than half of the requests: not a budget question any more


def _sel(*parts: str) -> str:
    return "{" + ", ".join(parts) + "}"


def executor_error_ratio(settings: StackSettings, model: ModelSettings, window: str) -> str:
    """Share of live predictions the executor answered with a server error, per model."""
    keys = f"namespace, {n.PROM_MODEL_LABEL}"
    base = [
        f'namespace="{settings.serving.namespace}"',
        f'{n.PROM_MODEL_LABEL}="{model.name}"',
        f'{n.PROM_TRACK_LABEL}!="shadow"',
        PREDICT_SERVICES,
    ]
    errors = f"sum by ({keys}) (rate({EXECUTOR_COUNT}{_sel(*base, EXECUTOR_SERVER_ERRORS)}[{window}]))"
    total = f"sum by ({keys}) (rate({EXECUTOR_COUNT}{_sel(*base)}[{window}]))"
    return f"(\n  {errors}\nor\n  0 * {total}\n)\n/\n{total}"


def _gateway(settings: StackSettings, model: ModelSettings, *extra: str) -> str:
    # Seldon names each predictor's Service <model>-<predictor>; the gateway reports as the source.
    parts = [
        'reporter="source"',
        f'destination_service_namespace="{settings.serving.namespace}"',
        f'destination_service_name=~"{model.name}-(stable|canary|{n.INTERLEAVE_TRACK})"',
        *extra,
    ]
    return f"istio_requests_total{_sel(*parts)}"


def gateway_failure_ratio(settings: StackSettings, model: ModelSettings, window: str) -> str:
    keys = "destination_service_namespace"
    failed = _gateway(settings, model, 'response_code=~"5.."')
    errors = f"sum by ({keys}) (rate({failed}[{window}]))"
    total = f"sum by ({keys}) (rate({_gateway(settings, model)}[{window}]))"
    return f"{errors}\n/\n{total}"


def gateway_pod_monitor() -> dict[str, Any]:
    """Scrapes Istio's ingress gateway, so that what clients were answered is measured too."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": "rankship-ingress-gateway",
            "namespace": n.ISTIO_NAMESPACE,
            "labels": {**n.PART_OF, "release": n.PROMETHEUS_RELEASE},
        },
        "spec": {
            "namespaceSelector": {"matchNames": [n.ISTIO_NAMESPACE]},
            "selector": {"matchLabels": dict(n.INGRESS_GATEWAY_SELECTOR)},
            "podMetricsEndpoints": [
                {"port": GATEWAY_METRICS_PORT, "path": "/stats/prometheus", "interval": "15s"}
            ],
        },
    }


def outage_alerts(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    """The outage alerts of one model; all page."""
    # Imported here: alerts.py imports this module for its list of rules.
    from infra.specs.alerts import Alert

    ns, name = settings.serving.namespace, model.name
    target = f'namespace="{ns}", {n.PROM_MODEL_LABEL}="{name}"'
    deployments = f'namespace="{ns}", deployment=~"{name}-(stable|canary)-.*"'
    alerts = [
        Alert(
            "RankshipRequestsFailing",
            f"{gateway_failure_ratio(settings, model, '5m')}\n> {FAILING_RATIO:g}",
            "5m",
            "page",
            f"more than {FAILING_RATIO:.0%} of requests through the gateway answered 5xx",
            "{{ $value | humanizePercentage }}",
        ),
        Alert(
            "RankshipTargetDown",
            f"up{{{target}}} == 0",
            "5m",
            "page",
            "Prometheus cannot scrape pod {{ $labels.pod }} ({{ $labels." + n.PROM_TRACK_LABEL + " }})",
            "{{ $value }}",
        ),
        Alert(
            "RankshipModelAbsent",
            f'absent(up{{{target}, {n.PROM_TRACK_LABEL}="stable"}})',
            "10m",
            "page",
            "no stable pod is running (nothing to scrape)",
            "{{ $value }}",
        ),
        Alert(
            "RankshipNoAvailableReplicas",
            f"sum by (namespace, deployment) (kube_deployment_status_replicas_available{{{deployments}}}) == 0",
            "5m",
            "page",
            "Deployment {{ $labels.deployment }} has no available replica",
            "{{ $value }}",
        ),
    ]
    rules = [a.rule(model) for a in alerts]
    # The gateway's series name the destination, not a namespace of their own: route it like the others.
    rules[0]["labels"]["namespace"] = ns
    return rules
