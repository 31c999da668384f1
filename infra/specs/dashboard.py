"""Grafana dashboard per model, as a ConfigMap that the Grafana sidecar of kube-prometheus-stack loads.

Same series and labels as the alert rules (`promql.py`): versions are `bundle_version`, never Seldon's
`model_version` (the image tag).
"""

from __future__ import annotations

import json
from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.promql import (
    CLIENT_ERRORS,
    EXECUTOR,
    error_ratio,
    live,
    quantile,
    selector,
    server_error_ratio,
)

WINDOW = "$__rate_interval"
RATE = f"[{WINDOW}]"
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


V = n.BUNDLE_VERSION_LABEL
BY_VERSION = f"sum by ({V})"
LEGEND = f"{{{{{V}}}}}"


def _quantiles(bucket_series: str, qs: tuple[float, ...]) -> list[tuple[str, str]]:
    return [(quantile(q, bucket_series, V, WINDOW), f"p{round(q * 100)} {LEGEND}") for q in qs]


def traffic_panels(sel: str, live_sel: str) -> list[dict[str, Any]]:
    requests = f"{BY_VERSION} (rate(rankship_requests_total{sel}{RATE}))"
    share = (
        f"100 * {BY_VERSION} (rate(rankship_requests_total{live_sel}{RATE}))\n"
        f"/ ignoring ({V}) group_left sum (rate(rankship_requests_total{live_sel}{RATE}))"
    )
    # Candidates are counted for scored requests only, as are inference timings.
    candidates = (
        f"{BY_VERSION} (rate(rankship_candidates_total{sel}{RATE}))\n"
        f"/ {BY_VERSION} (rate(rankship_inference_seconds_count{sel}{RATE}))"
    )
    return [
        _panel("Requests per second by version", "reqps", [(requests, LEGEND)]),
        _panel("Traffic split (live, % of requests)", "percent", [(share, LEGEND)]),
        _panel("Candidates per scored request by version", "short", [(candidates, LEGEND)]),
    ]


def latency_panels(sel: str) -> list[dict[str, Any]]:
    executor = quantile(0.99, f"{EXECUTOR}_bucket{sel}", "predictor_name", WINDOW)
    model = _quantiles(f"rankship_inference_seconds_bucket{sel}", (0.5, 0.99))
    return [
        _panel("Model latency by version (inside the model class)", "s", model),
        _panel("Server latency p99 by predictor (executor)", "s", [(executor, "{{predictor_name}}")]),
    ]


def error_panels(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    sel = selector(settings, model)
    by_code = f"sum by ({V}, code, reason) (rate(rankship_errors_total{sel}{RATE}))"
    ratio = [
        (f"{server_error_ratio('5m')}{sel}", "server errors (5m)"),
        (f"vector({1 - model.slo.availability:g})", "budget"),
    ]
    client = [(error_ratio(settings, model, CLIENT_ERRORS, WINDOW), "bad input")]
    return [
        _panel(
            "Errors per second by code and reason",
            "reqps",
            [(by_code, f"{LEGEND} {{{{code}}}} {{{{reason}}}}")],
        ),
        _panel("Server error ratio vs. SLO budget", "percentunit", ratio),
        _panel("Bad input ratio (4xx, not in the budget)", "percentunit", client),
    ]


def score_panels(sel: str) -> list[dict[str, Any]]:
    heatmap = _panel(
        "Score distribution (all versions)",
        "short",
        [(f"sum by (le) (increase(rankship_scores_total{sel}{RATE}))", "{{le}}")],
        "heatmap",
    )
    heatmap["targets"][0]["format"] = "heatmap"
    return [
        _panel(
            "Score quantiles by version", "short", _quantiles(f"rankship_scores_total{sel}", (0.1, 0.5, 0.9))
        ),
        heatmap,
    ]


def interleaving_panels(sel: str) -> list[dict[str, Any]]:
    """Outcomes of the interleaving predictor (`model/serving/combiner.py`): wins per team over the last hour,
    and the canary's share of the decided impressions (0.5 = no preference)."""
    series = f"rankship_interleaving_total{sel}"
    pair = "stable_version, canary_version"
    wins = f"sum by ({pair}, winner) (increase({series}[1h]))"
    decided = series[:-1] + ', winner=~"stable|canary"}'
    canary = series[:-1] + ', winner="canary"}'
    share = f"sum by ({pair}) (increase({canary}[1h]))\n/ sum by ({pair}) (increase({decided}[1h]))"
    legend = "{{winner}}: canary {{canary_version}} vs stable {{stable_version}}"
    return [
        _panel("Interleaving: impressions won per team (last hour)", "short", [(wins, legend)]),
        _panel(
            "Interleaving: canary's share of decided impressions (0.5 = no preference)",
            "percentunit",
            [(share, "canary {{canary_version}} vs stable {{stable_version}}")],
        ),
    ]


def panels(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    sel = selector(settings, model)
    result = [
        *traffic_panels(sel, live(settings, model)),
        *latency_panels(sel),
        *error_panels(settings, model),
        *score_panels(sel),
    ]
    if model.canary is not None and model.canary.interleave is not None:
        result += interleaving_panels(sel)
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
