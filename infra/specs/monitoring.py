"""PodMonitor for the Seldon pods and a PrometheusRule per model (latency SLO, error budget burn, drift).

Burn-rate alerts follow the multiwindow, multi-burn-rate scheme of the Google SRE workbook: a fast burn
(14.4x budget over 1h and 5m) and a medium one (6x over 6h and 30m) page; a slow one (1x over 3d and 6h)
opens a ticket. The long window says the budget is really going, the short one that it still is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.config import StackSettings
from infra.config_serving import ModelSettings
from infra.specs import naming as n

BURN_RATES = (
    # (factor, long window, short window, for, severity)
    (14.4, "1h", "5m", "2m", "page"),
    (6.0, "6h", "30m", "15m", "page"),
    (1.0, "3d", "6h", "1h", "ticket"),
)
ERROR_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
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


def selector(settings: StackSettings, model: ModelSettings, *extra: str) -> str:
    parts = [f'namespace="{settings.serving.namespace}"', f'{n.PROM_MODEL_LABEL}="{model.name}"', *extra]
    return "{" + ", ".join(parts) + "}"


def _live(settings: StackSettings, model: ModelSettings) -> str:
    # Shadow traffic is mirrored: its errors and latency must not spend the live error budget.
    return selector(settings, model, f'{n.PROM_TRACK_LABEL}!="shadow"')


def recording_rules(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    live, by = _live(settings, model), f"namespace, {n.PROM_MODEL_LABEL}"
    rules = [
        {
            "record": f"{n.PROM_MODEL_LABEL}:error_ratio:rate{w}",
            "expr": f"sum by ({by}) (rate(rankship_errors_total{live}[{w}]))\n"
            f"/\nsum by ({by}) (rate(rankship_requests_total{live}[{w}]))",
        }
        for w in ERROR_WINDOWS
    ]
    rules.append(
        {
            "record": f"{n.PROM_MODEL_LABEL}:latency_p99_seconds:rate5m",
            "expr": "histogram_quantile(0.99, sum by (le, "
            f"{by}) (rate(seldon_api_executor_server_requests_seconds_bucket{live}[5m])))",
        }
    )
    return rules


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str
    value: str  # Go template rendering $value; humanize* keep it readable and stable

    def rule(self, model: ModelSettings, **labels: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            "labels": {"severity": self.severity, n.PROM_MODEL_LABEL: model.name, **labels},
            "annotations": {
                "summary": f"{model.name}: {self.summary}",
                "description": f"{self.summary} (now {self.value})",
            },
        }


def slo_alerts(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    mine, slo = selector(settings, model), model.slo
    budget = round(1 - slo.availability, 10)
    latency = Alert(
        "RankshipLatencyP99High",
        f"{n.PROM_MODEL_LABEL}:latency_p99_seconds:rate5m{mine} > {slo.p99_latency_ms / 1000:g}",
        slo.latency_for,
        "page",
        f"p99 server latency above the {slo.p99_latency_ms:g} ms SLO",
        "{{ $value | humanizeDuration }}",
    )
    alerts = [latency.rule(model)]
    for factor, long_w, short_w, duration, severity in BURN_RATES:
        threshold = f"{factor * budget:g}"
        burn = Alert(
            f"RankshipErrorBudgetBurn{long_w}",
            f"{n.PROM_MODEL_LABEL}:error_ratio:rate{long_w}{mine} > {threshold}\n"
            f"and\n{n.PROM_MODEL_LABEL}:error_ratio:rate{short_w}{mine} > {threshold}",
            duration,
            severity,
            f"error budget burning at {factor:g}x over {long_w} and {short_w} (SLO {slo.availability:g})",
            "{{ $value | humanizePercentage }} errors",
        )
        alerts.append(burn.rule(model))
    return alerts


def _score_quantile(
    settings: StackSettings, model: ModelSettings, q: float, version: str, window: str
) -> str:
    series = selector(settings, model, f'model_version="{version}"')
    return f"histogram_quantile({q}, sum by (le) (rate(rankship_score_bucket{series}[{window}])))"


def drift_alert(settings: StackSettings, model: ModelSettings) -> dict[str, Any] | None:
    """Canary scores should look like stable's: alert when the median or p90 score moves too far."""
    if model.canary is None:
        return None
    window, shift = model.canary.analysis.window, f"{model.slo.score_drift_max_shift:g}"
    stable, canary = model.stable.bundle.version, model.canary.bundle.version
    shifts = [
        f"abs({_score_quantile(settings, model, q, canary, window)}\n"
        f"  - {_score_quantile(settings, model, q, stable, window)}) > {shift}"
        for q in (0.5, 0.9)
    ]
    drift = Alert(
        "RankshipCanaryScoreDrift",
        "(" + ")\nor\n(".join(shifts) + ")",
        "15m",
        "ticket",
        f"canary {canary} scores moved more than {shift} from stable {stable}",
        '{{ printf "%.3f" $value }}',
    )
    labels = {"namespace": settings.serving.namespace, "canary_version": canary, "stable_version": stable}
    return drift.rule(model, **labels)


def prometheus_rule(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    drift = drift_alert(settings, model)
    alerts = [*slo_alerts(settings, model), *([drift] if drift else [])]
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
                {"name": f"{model.name}.alerts", "rules": alerts},
            ]
        },
    }
