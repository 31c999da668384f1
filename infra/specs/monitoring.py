"""PodMonitor for the Seldon pods, and a PrometheusRule per model (the PromQL lives in `promql.py` and
`alerts.py`)."""

from __future__ import annotations

from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.alerts import alert_rules
from infra.specs.promql import recording_rules

RELEASE_LABEL = {"release": n.PROMETHEUS_RELEASE}


def pod_monitor(settings: StackSettings) -> dict[str, Any]:
    """Scrapes the model container (:6000) and the Seldon executor (:8000); both name the port `metrics`."""

    def copy_label(pod_label: str, target: str) -> dict[str, Any]:
        source = "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in pod_label)
        return {"sourceLabels": [source], "targetLabel": target, "action": "replace"}

    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": "rankship-models",
            "namespace": settings.serving.namespace,
            # kube-prometheus-stack only picks up monitors labelled with its release name.
            "labels": {**n.PART_OF, **RELEASE_LABEL},
        },
        "spec": {
            "namespaceSelector": {"matchNames": [settings.serving.namespace]},
            "selector": {
                "matchLabels": dict(n.SELDON_MANAGED_BY),
                "matchExpressions": [{"key": n.MODEL_LABEL, "operator": "Exists"}],
            },
            "podMetricsEndpoints": [
                {
                    "port": n.METRICS_PORT_NAME,
                    # The operator serves the executor's metrics on this path and hands it to the model
                    # container as PREDICTIVE_UNIT_METRICS_ENDPOINT (chart value set in addons.py).
                    "path": n.METRICS_PATH,
                    "interval": "15s",
                    "relabelings": [
                        copy_label(n.MODEL_LABEL, n.PROM_MODEL_LABEL),
                        copy_label(n.TRACK_LABEL, n.PROM_TRACK_LABEL),
                    ],
                }
            ],
        },
    }


def prometheus_rule(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{model.name}-slo",
            "namespace": settings.serving.namespace,
            "labels": {**n.PART_OF, **RELEASE_LABEL, n.MODEL_LABEL: model.name},
        },
        "spec": {
            "groups": [
                {
                    "name": f"{model.name}.recording",
                    "interval": "30s",
                    "rules": recording_rules(settings, model),
                },
                {"name": f"{model.name}.alerts", "rules": alert_rules(settings, model)},
            ]
        },
    }
