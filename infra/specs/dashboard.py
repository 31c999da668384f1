"""Grafana dashboard per model, as a ConfigMap that the Grafana sidecar of kube-prometheus-stack loads."""

from __future__ import annotations

import json
from typing import Any

from infra.config import StackSettings
from infra.config_serving import ModelSettings
from infra.specs import naming as n
from infra.specs.monitoring import selector

RATE = "[$__rate_interval]"
FOLDER = "rankship"


def _panel(title: str, unit: str, targets: list[tuple[str, str]], kind: str = "timeseries") -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


BY_VERSION = "sum by (model_version)"


def _quantiles(metric: str, sel: str, qs: tuple[float, ...]) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, model_version) (rate({metric}_bucket{sel}{RATE})))",
            f"p{round(q * 100)} {{{{model_version}}}}",
        )
        for q in qs
    ]


def traffic_panels(sel: str, live: str) -> list[dict[str, Any]]:
    requests = f"{BY_VERSION} (rate(rankship_requests_total{sel}{RATE}))"
    share = (
        f"100 * {BY_VERSION} (rate(rankship_requests_total{live}{RATE}))\n"
        f"/ ignoring (model_version) group_left sum (rate(rankship_requests_total{live}{RATE}))"
    )
    candidates = (
        f"{BY_VERSION} (rate(rankship_candidates_sum{sel}{RATE}))\n"
        f"/ {BY_VERSION} (rate(rankship_candidates_count{sel}{RATE}))"
    )
    return [
        _panel("Requests per second by version", "reqps", [(requests, "{{model_version}}")]),
        _panel("Traffic split (live, % of requests)", "percent", [(share, "{{model_version}}")]),
        _panel("Candidates per request by version", "short", [(candidates, "{{model_version}}")]),
    ]


def latency_panels(sel: str) -> list[dict[str, Any]]:
    executor = (
        "histogram_quantile(0.99, sum by (le, predictor_name) "
        f"(rate(seldon_api_executor_server_requests_seconds_bucket{sel}{RATE})))"
    )
    return [
        _panel(
            "Inference latency by version", "s", _quantiles("rankship_inference_seconds", sel, (0.5, 0.99))
        ),
        _panel("Server latency p99 by predictor (executor)", "s", [(executor, "{{predictor_name}}")]),
    ]


def error_panels(sel: str, model: ModelSettings) -> list[dict[str, Any]]:
    by_reason = f"sum by (model_version, reason) (rate(rankship_errors_total{sel}{RATE}))"
    ratio = [
        (f"{n.PROM_MODEL_LABEL}:error_ratio:rate5m{sel}", "error ratio (5m)"),
        (f"vector({1 - model.slo.availability:g})", "budget"),
    ]
    return [
        _panel("Errors per second by reason", "reqps", [(by_reason, "{{model_version}} {{reason}}")]),
        _panel("Error ratio vs. SLO budget", "percentunit", ratio),
    ]


def score_panels(sel: str) -> list[dict[str, Any]]:
    heatmap = _panel(
        "Score distribution (all versions)",
        "short",
        [(f"sum by (le) (increase(rankship_score_bucket{sel}{RATE}))", "{{le}}")],
        "heatmap",
    )
    heatmap["targets"][0]["format"] = "heatmap"
    return [
        _panel("Score quantiles by version", "short", _quantiles("rankship_score", sel, (0.1, 0.5, 0.9))),
        heatmap,
    ]


def panels(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    sel = selector(settings, model)
    live = selector(settings, model, f'{n.PROM_TRACK_LABEL}!="shadow"')
    result = [*traffic_panels(sel, live), *latency_panels(sel), *error_panels(sel, model), *score_panels(sel)]
    for i, panel in enumerate(result):
        panel["id"] = i + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
    return result


def dashboard(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    versions = ", ".join(f"{track} {version}" for track, version in model.versions().items())
    return {
        "uid": f"rankship-{model.name}"[:40],
        "title": f"rankship / {model.name}",
        "description": f"Serving {versions}",
        "tags": ["rankship", "seldon"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"}
            ]
        },
        "panels": panels(settings, model),
    }


def dashboard_config_map(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{model.name}-dashboard",
            "namespace": settings.serving.namespace,
            "labels": {**n.PART_OF, "grafana_dashboard": "1", n.MODEL_LABEL: model.name},
            "annotations": {"grafana_folder": FOLDER},
        },
        "data": {f"{model.name}.json": json.dumps(dashboard(settings, model), indent=2, sort_keys=True)},
    }
