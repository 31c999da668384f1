"""The PromQL every rule and dashboard shares: selectors, error ratios, quantiles and the recording rules.

Two sources of series, both scraped by the PodMonitor from the port named `metrics`:

- the serving runtime's own Seldon custom metrics (`model/serving/telemetry.py`, model container :6000):
  `rankship_requests_total`, `rankship_errors_total{reason, code}` (code = HTTP status; 4xx is the client's
  bad input, 5xx is ours), `rankship_candidates_total`, the histogram `rankship_inference_seconds_*` (time
  in the model class) and `rankship_scores_total{le}` (cumulative score counts in histogram layout), all
  labelled `bundle_version` (= the predictor's `labels.version`). Seldon adds `worker_id` (one series per
  gunicorn worker: always sum it away) and its own `model_version`, which is the image tag, not the bundle;
- the Seldon executor's `seldon_api_executor_server_requests_seconds_*` (executor :8000): what a client
  waits for, labelled `predictor_name` (= the track) and `predictor_version` (= the bundle version, from the
  predictor's `version` annotation; empty on pods started without it).

The PodMonitor copies the pod labels `rankship.io/model` and `rankship.io/track` onto both as `rankship_model`
and `rankship_track`; Prometheus adds `namespace`.
"""

from __future__ import annotations

from typing import Any

from infra.settings.serving import ModelSettings
from infra.settings.stack import StackSettings
from infra.specs import naming as n

EXECUTOR = "seldon_api_executor_server_requests_seconds"
# Everything but the client's 4xx spends the error budget: today 500 (an exception escaped the model) and
# 503 (not ready). Written as "not 4xx" so that a series without `code` counts against us, not for us.
SERVER_ERRORS, CLIENT_ERRORS = 'code!~"4.."', 'code=~"4.."'
MODEL_KEYS = f"namespace, {n.PROM_MODEL_LABEL}"
ERROR_WINDOWS = ("5m", "30m", "1h", "6h", "3d")
# Recorded p99s: end to end per model (the executor: the SLO) and inside the model class per bundle version.
SERVER_P99 = f"{n.PROM_MODEL_LABEL}:server_latency_p99_seconds:rate5m"
INFERENCE_P99 = "rankship_bundle:inference_latency_p99_seconds:rate5m"
# Per bundle version, whichever pod counted (feedback is credited by the answer's version, see
# model/serving/feedback.py): online quality, and the live scores' distance from the bundle's own offline ones.
BUNDLE_KEYS = f"{MODEL_KEYS}, {n.BUNDLE_VERSION_LABEL}"
FEEDBACK_CTR = "rankship_bundle:feedback_ctr:ratio1h"
FEEDBACK_MRR = "rankship_bundle:feedback_mrr:ratio1h"
SCORE_SKEW = "rankship_bundle:score_skew_ks:1h"


def server_error_ratio(window: str) -> str:
    """Name of the recorded share of live requests that failed on our side, per model."""
    return f"{n.PROM_MODEL_LABEL}:server_error_ratio:rate{window}"


def selector(settings: StackSettings, model: ModelSettings, *extra: str) -> str:
    parts = [f'namespace="{settings.serving.namespace}"', f'{n.PROM_MODEL_LABEL}="{model.name}"', *extra]
    return "{" + ", ".join(parts) + "}"


def live(settings: StackSettings, model: ModelSettings, *extra: str) -> str:
    # Shadow traffic is mirrored: its errors and latency are nobody's, so they spend no budget.
    return selector(settings, model, f'{n.PROM_TRACK_LABEL}!="shadow"', *extra)


def version_selector(settings: StackSettings, model: ModelSettings, version: str, *extra: str) -> str:
    return selector(settings, model, f'{n.BUNDLE_VERSION_LABEL}="{version}"', *extra)


def error_ratio(settings: StackSettings, model: ModelSettings, codes: str, window: str) -> str:
    """Share of live requests answered with `codes`, per model; 0 rather than absent while requests flow.

    An error series appears only with its first count, hence the `or`.
    """
    requests = f"sum by ({MODEL_KEYS}) (rate(rankship_requests_total{live(settings, model)}[{window}]))"
    errors = f"sum by ({MODEL_KEYS}) (rate(rankship_errors_total{live(settings, model, codes)}[{window}]))"
    return f"(\n  {errors}\nor\n  0 * {requests}\n)\n/\n{requests}"


def quantile(q: float, bucket_series: str, by: str, window: str, fn: str = "rate") -> str:
    """histogram_quantile over summed buckets; `by` names the labels kept besides `le` ("" for none)."""
    keep = f"{by}, le" if by else "le"
    return f"histogram_quantile({q:g}, sum by ({keep}) ({fn}({bucket_series}[{window}])))"


def combined_server_error_ratio(settings: StackSettings, model: ModelSettings, window: str) -> str:
    """The larger of the runtime's and the executor's server-error ratios.

    The runtime's counters move only when its model class answers; the executor counts every request,
    including those that fail before (a crashing worker, a timeout). A NaN side (no requests counted there)
    loses to the other in `max`.
    """
    # Imported here: outages.py builds on this module's selectors.
    from infra.specs.outages import executor_error_ratio

    runtime = error_ratio(settings, model, SERVER_ERRORS, window)
    executor = executor_error_ratio(settings, model, window)
    pairs = (("runtime", runtime), ("executor", executor))
    tagged = [f'label_replace(\n{q}\n, "source", "{name}", "", "")' for name, q in pairs]
    return f"max by ({MODEL_KEYS}) (\n" + "\nor\n".join(tagged) + "\n)"


def recording_rules(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    sel = live(settings, model)
    rules = [
        {"record": server_error_ratio(w), "expr": combined_server_error_ratio(settings, model, w)}
        for w in ERROR_WINDOWS
    ]
    by_version = f"{MODEL_KEYS}, {n.PROM_TRACK_LABEL}, {n.BUNDLE_VERSION_LABEL}"
    inference = quantile(0.99, f"rankship_inference_seconds_bucket{sel}", by_version, "5m")
    rules.append({"record": SERVER_P99, "expr": quantile(0.99, f"{EXECUTOR}_bucket{sel}", MODEL_KEYS, "5m")})
    rules.append({"record": INFERENCE_P99, "expr": inference})
    return rules + bundle_rules(settings, model)


def _ratio(part: str, whole: str, window: str) -> str:
    """sum(part) / sum(whole) per bundle; 0 rather than absent while `whole` counts (a part series appears
    with its first increment)."""
    p = f"sum by ({BUNDLE_KEYS}) (increase({part}[{window}]))"
    w = f"sum by ({BUNDLE_KEYS}) (increase({whole}[{window}]))"
    return f"(\n  {p}\nor\n  0 * {w}\n)\n/\n{w}"


def score_skew(sel: str, window: str) -> str:
    """Kolmogorov-Smirnov distance on the bundle's own buckets: the largest gap between the live and the
    offline cumulative share of scores (`rankship_offline_scores`). Scale-free: a recalibrated model is 0."""
    live = f"sum by ({BUNDLE_KEYS}, le) (increase(rankship_scores_total{sel}[{window}]))"
    live_all = f'sum by ({BUNDLE_KEYS}) (increase(rankship_scores_total{sel[:-1]}, le="+Inf"}}[{window}]))'
    offline = f"max by ({BUNDLE_KEYS}, le) (rankship_offline_scores{sel})"
    offline_all = f'max by ({BUNDLE_KEYS}) (rankship_offline_scores{sel[:-1]}, le="+Inf"}})'
    return (
        f"max by ({BUNDLE_KEYS}) (abs(\n  {live} / on ({BUNDLE_KEYS}) group_left {live_all}\n"
        f"  -\n  {offline} / on ({BUNDLE_KEYS}) group_left {offline_all}\n))"
    )


def bundle_rules(settings: StackSettings, model: ModelSettings) -> list[dict[str, Any]]:
    sel = selector(settings, model)
    return [
        {"record": FEEDBACK_CTR, "expr": _ratio(f"rankship_feedback_clicked_total{sel}", f"rankship_feedback_total{sel}", "1h")},
        {"record": FEEDBACK_MRR,
         "expr": _ratio(f"rankship_feedback_reciprocal_rank_total{sel}", f"rankship_feedback_total{sel}", "1h")},
        {"record": SCORE_SKEW, "expr": score_skew(sel, "1h")},
    ]  # fmt: skip
