"""Alerts of one model: p99 latency SLO, error-budget burn, bad-input surge, canary score drift.

- Latency: the SLO is what clients wait for, the executor's p99 over all live traffic. When a bundle
  version's own p99 (inside the model class) is over the SLO too, the per-version alert pages instead, naming
  the version and track; the model-wide one then stays quiet, so one cause pages once.
- Burn rates follow the multiwindow, multi-burn-rate scheme of the Google SRE workbook: a fast burn (14.4x the
  budget over 1h and 5m) and a medium one (6x over 6h and 30m) page; a slow one (1x over 3d and 6h) opens a
  ticket. The long window says the budget is really going, the short one that it still is. Only server
  errors spend the budget: a 4xx is a client sending bad input, which no rollback would fix. The ratio is
  the larger of the runtime's own count and the executor's (`promql.recording_rules`): a request that
  fails before the model class answers is counted only by the executor.
- Outages (`outages.py`): most requests failing at the gateway, a pod that cannot be scraped, no stable pod
  at all, a Deployment without an available replica.
- Bad input: a ticket when a share of live requests above `slo.bad_input_max_ratio` is rejected with 4xx
  for 15 minutes (a client release sending a wrong payload, or a limit set too tight).
- Drift: with a canary, its median and p90 score (histogram_quantile over the cumulative
  `rankship_scores_total` buckets of the analysis window) against stable's, once the canary has served
  `min_requests_per_version`. A bucket series appears only with its first count, so a quantile that falls
  into the lowest bucket present reads as that bucket's bound: off by at most one bucket width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n
from infra.specs.outages import outage_alerts
from infra.specs.promql import (
    CLIENT_ERRORS,
    INFERENCE_P99,
    MODEL_KEYS,
    SERVER_P99,
    error_ratio,
    quantile,
    selector,
    server_error_ratio,
    version_selector,
)

BURN_RATES = (
    # (factor, long window, short window, for, severity)
    (14.4, "1h", "5m", "2m", "page"),
    (6.0, "6h", "30m", "15m", "page"),
    (1.0, "3d", "6h", "1h", "ticket"),
)
BAD_INPUT_WINDOW = "15m"
DRIFT_QUANTILES = (0.5, 0.9)


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    duration: str
    severity: str
    summary: str  # may use Go templates over the alert's labels ({{ $labels.x }})
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


def latency_alerts(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    mine, slo = selector(settings, model), model.slo
    limit, ms = f"{slo.p99_latency_ms / 1000:g}", f"{slo.p99_latency_ms:g}"
    slow_version = f"{INFERENCE_P99}{mine} > {limit}"
    server = Alert(
        "RankshipLatencyP99High",
        f"({SERVER_P99}{mine} > {limit})\nunless on ({MODEL_KEYS})\n({slow_version})",
        slo.latency_for,
        "page",
        f"p99 server latency above the {ms} ms SLO",
        "{{ $value | humanizeDuration }}",
    )
    version = Alert(
        "RankshipInferenceLatencyP99High",
        slow_version,
        slo.latency_for,
        "page",
        f"p99 model latency of bundle {{{{ $labels.{n.BUNDLE_VERSION_LABEL} }}}} "
        f"({{{{ $labels.{n.PROM_TRACK_LABEL} }}}}) above the {ms} ms SLO",
        "{{ $value | humanizeDuration }}",
    )
    return [server.rule(model), version.rule(model)]


def burn_alerts(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    mine, slo = selector(settings, model), model.slo
    budget = round(1 - slo.availability, 10)
    alerts = []
    for factor, long_w, short_w, duration, severity in BURN_RATES:
        threshold = f"{factor * budget:g}"
        burn = Alert(
            f"RankshipErrorBudgetBurn{long_w}",
            f"{server_error_ratio(long_w)}{mine} > {threshold}\n"
            f"and\n{server_error_ratio(short_w)}{mine} > {threshold}",
            duration,
            severity,
            f"error budget burning at {factor:g}x over {long_w} and {short_w} (SLO {slo.availability:g})",
            "{{ $value | humanizePercentage }} errors",
        )
        alerts.append(burn.rule(model))
    return alerts


def bad_input_alert(settings: StackSettings, model: ModelSettings) -> dict[str, Any]:
    most = model.slo.bad_input_max_ratio
    surge = Alert(
        "RankshipBadInputSurge",
        f"{error_ratio(settings, model, CLIENT_ERRORS, BAD_INPUT_WINDOW)}\n> {most:g}",
        BAD_INPUT_WINDOW,
        "ticket",
        f"more than {most * 100:g}% of live requests rejected as bad input (4xx) over {BAD_INPUT_WINDOW}",
        "{{ $value | humanizePercentage }}",
    )
    return surge.rule(model)


def drift_alert(settings: StackSettings, model: ModelSettings) -> dict[str, Any] | None:
    """Canary scores should look like stable's: one alert per score quantile that moved too far."""
    if model.canary is None:
        return None
    analysis, shift = model.canary.analysis, f"{model.slo.score_drift_max_shift:g}"
    stable, canary = model.stable.bundle.version, model.canary.bundle.version

    def score_quantile(q: float, version: str) -> str:
        scores = f"rankship_scores_total{version_selector(settings, model, version)}"
        return quantile(q, scores, "", analysis.window, "increase")

    shifts = [
        f"label_replace(\n  abs({score_quantile(q, canary)}\n    - {score_quantile(q, stable)}) > {shift},\n"
        f'  "quantile", "{q:g}", "", ""\n)'
        for q in DRIFT_QUANTILES
    ]
    served = f"rankship_requests_total{version_selector(settings, model, canary)}"
    enough = f"sum(increase({served}[{analysis.window}])) >= {analysis.min_requests_per_version}"
    drift = Alert(
        "RankshipCanaryScoreDrift",
        "(\n" + "\nor\n".join(shifts) + f"\n)\nand on ()\n({enough})",
        "15m",
        "ticket",
        f"canary {canary} score quantile {{{{ $labels.quantile }}}} moved more than {shift} "
        f"from stable {stable}",
        '{{ printf "%.3f" $value }}',
    )
    labels = {"namespace": settings.serving.namespace, "canary_version": canary, "stable_version": stable}
    return drift.rule(model, **labels)


def alert_rules(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    drift = drift_alert(settings, model)
    return [
        *latency_alerts(settings, model),
        *burn_alerts(settings, model),
        bad_input_alert(settings, model),
        *([drift] if drift else []),
        *outage_alerts(settings, model),
    ]
