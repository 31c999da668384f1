"""Alert rules through promtool: syntax (`check rules`) and behaviour (`test rules`) on series shaped like the
serving runtime's (model/serving/telemetry.py: `bundle_version`, `code`, one series per gunicorn `worker_id`,
Seldon's own labels with `model_version` = the image tag) and the Seldon executor's.

Dev settings: availability 0.99 (budget 1%), p99 SLO 250 ms, bad input 5%, drift shift 0.1, canary analysis
window 2m with at least 50 requests. promtool's `a+bxN` is N+1 samples a, a+b, ..., one a minute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings.stack import StackSettings
from infra.specs.dashboard import dashboard
from infra.specs.monitoring import prometheus_rule
from tests.infra.infra_stacks import STACKS, raw_settings, settings_of

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`)"
)

DEV = settings_of(raw_settings("dev"))
STABLE, CANARY = DEV.models[0].stable.bundle.version, DEV.models[0].canary.bundle.version  # type: ignore[union-attr]
TARGET = 'namespace="rankship-serving", rankship_model="search-ranker"'
MODEL_LABELS = {"rankship_model": "search-ranker", "namespace": "rankship-serving"}
TRACK_OF = {STABLE: "stable", CANARY: "canary"}
WORKERS = ("101", "102")  # two gunicorn workers; every test splits its counts evenly between them


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def write_rules(settings: StackSettings, folder: Path) -> Path:
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(prometheus_rule(settings, settings.models[0])["spec"]), encoding="utf-8")
    return path


def run_rule_test(tmp_path: Path, series: list[dict[str, str]], checks: list[dict[str, Any]]) -> None:
    write_rules(DEV, tmp_path)
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def runtime(version: str, worker: str, track: str | None = None) -> str:
    """Labels of a model-container series: target labels, Seldon's, then the runtime's `bundle_version`."""
    track = track or TRACK_OF[version]
    seldon = (
        f'method="predict", worker_id="{worker}", model_name="ranker", model_version="1.4.0", '
        f'predictor_name="{track}", seldon_deployment_name="search-ranker", image_version="1.4.0"'
    )
    return f'{TARGET}, rankship_track="{track}", {seldon}, bundle_version="{version}"'


Series = list[dict[str, str]]


def per_worker(
    name: str, version: str, per_minute: float, minutes: int, track: str | None = None, **extra: str
) -> Series:
    """A counter growing by `per_minute` in all, half on each worker; extra labels such as reason and code."""
    tail = "".join(f', {k}="{v}"' for k, v in extra.items())
    return [
        {
            "series": f"{name}{{{runtime(version, worker, track)}{tail}}}",
            "values": f"0+{per_minute / len(WORKERS):g}x{minutes}",
        }
        for worker in WORKERS
    ]


def requests(version: str, per_minute: float, minutes: int = 100, track: str | None = None) -> Series:
    return per_worker("rankship_requests_total", version, per_minute, minutes, track)


def errors(version: str, per_minute: float, code: str, reason: str, track: str | None = None) -> Series:
    return per_worker("rankship_errors_total", version, per_minute, 100, track, reason=reason, code=code)


def alert(severity: str, summary: str, value: str, **labels: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": severity, **MODEL_LABELS, **labels},
        "exp_annotations": {
            "summary": f"search-ranker: {summary}",
            "description": f"{summary} (now {value})",
        },
    }


def quiet(at: str, *names: str) -> list[dict[str, Any]]:
    return [{"eval_time": at, "alertname": name, "exp_alerts": []} for name in names]


BURNS = ("RankshipErrorBudgetBurn1h", "RankshipErrorBudgetBurn6h", "RankshipErrorBudgetBurn3d")


@pytest.mark.parametrize("stack", STACKS)
def test_rules_pass_promtool_check(stack: str, tmp_path: Path) -> None:
    result = promtool(
        "check", "rules", str(write_rules(settings_of(raw_settings(stack)), tmp_path)), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # 5 error ratios + 2 p99s + 3 per-bundle (CTR, MRR, score skew) recorded; 2 latency, 3 burn-rate,
    # 1 bad-input, 1 drift and 4 outage alerts.
    assert "SUCCESS: 21 rules found" in result.stdout


def test_server_errors_burn_the_budget_fast(tmp_path: Path) -> None:
    # 100 requests a minute; 10 answered 500 (internal) and 10 answered 503 (not ready): 20% > 14.4 x 1%.
    series = (
        requests(STABLE, 100) + errors(STABLE, 10, "500", "internal") + errors(STABLE, 10, "503", "not_ready")
    )
    summary = "error budget burning at {} (SLO 0.99)"
    checks = [
        {
            "eval_time": "10m",
            "alertname": "RankshipErrorBudgetBurn1h",
            "exp_alerts": [alert("page", summary.format("14.4x over 1h and 5m"), "20% errors")],
        },
        # 20% > 6 x 1% as well, but that alert waits 15m: still pending at 10m, firing at 20m.
        *quiet("10m", "RankshipErrorBudgetBurn6h"),
        {
            "eval_time": "20m",
            "alertname": "RankshipErrorBudgetBurn6h",
            "exp_alerts": [alert("page", summary.format("6x over 6h and 30m"), "20% errors")],
        },
    ]
    run_rule_test(tmp_path, series, checks)


def test_half_a_percent_of_server_errors_stays_within_budget(tmp_path: Path) -> None:
    run_rule_test(
        tmp_path, requests(STABLE, 100) + errors(STABLE, 0.5, "503", "not_ready"), quiet("90m", *BURNS)
    )


def test_bad_input_spends_no_budget_but_opens_a_ticket(tmp_path: Path) -> None:
    # 15 of 100 requests a minute rejected as the client's fault (400 and 413): 15% > 5%, for 15 minutes.
    series = (
        requests(STABLE, 100)
        + errors(STABLE, 10, "400", "wrong_type")
        + errors(STABLE, 5, "413", "too_large")
    )
    summary = "more than 5% of live requests rejected as bad input (4xx) over 15m"
    checks = [
        *quiet("90m", *BURNS),
        *quiet("10m", "RankshipBadInputSurge"),
        {
            "eval_time": "40m",
            "alertname": "RankshipBadInputSurge",
            "exp_alerts": [alert("ticket", summary, "15%")],
        },
    ]
    run_rule_test(tmp_path, series, checks)


def test_a_little_bad_input_is_quiet(tmp_path: Path) -> None:
    series = requests(STABLE, 100) + errors(STABLE, 2, "400", "missing_field")
    run_rule_test(tmp_path, series, quiet("60m", "RankshipBadInputSurge"))


def test_shadow_errors_do_not_spend_the_budget(tmp_path: Path) -> None:
    shadow = "e" * 12
    series = (
        requests(STABLE, 100)
        + requests(shadow, 100, track="shadow")
        + errors(shadow, 50, "500", "internal", track="shadow")
    )
    run_rule_test(tmp_path, series, quiet("20m", "RankshipErrorBudgetBurn1h"))


def histogram(
    name: str, labels: str, per_minute: Mapping[str, float], minutes: int = 40
) -> list[dict[str, str]]:
    """Cumulative bucket series from per-minute counts per `le` (already cumulative, +Inf included)."""
    return [
        {"series": f'{name}{{{labels}, le="{le}"}}', "values": f"0+{count:g}x{minutes}"}
        for le, count in per_minute.items()
    ]


def inference(version: str, slow: bool) -> list[dict[str, str]]:
    # Fast: every request in (0.05, 0.1] (p99 99.5 ms); slow: every one in (0.25, 0.5] (p99 497.5 ms).
    cumulative = {"0.05": 0, "0.1": 0 if slow else 50, "0.25": 0 if slow else 50, "0.5": 50, "+Inf": 50}
    name = "rankship_inference_seconds_bucket"
    return [s for w in WORKERS for s in histogram(name, runtime(version, w), cumulative)]


def executor(track: str, per_minute: float, slow: bool) -> list[dict[str, str]]:
    labels = f'{TARGET}, rankship_track="{track}", deployment_name="search-ranker", predictor_name="{track}"'
    labels += ', service="/api/v1.0/predictions", method="post", code="200"'
    cumulative = {"0.05": 0, "0.1": 0 if slow else per_minute, "0.25": 0 if slow else per_minute}
    cumulative |= {"0.5": per_minute, "+Inf": per_minute}
    return histogram("seldon_api_executor_server_requests_seconds_bucket", labels, cumulative)


LATENCY = ("RankshipLatencyP99High", "RankshipInferenceLatencyP99High")


def test_a_slow_version_pages_once_naming_its_bundle_and_track(tmp_path: Path) -> None:
    # The canary's model class is slow (p99 497.5 ms). It takes 10% of the traffic, so the model-wide
    # executor p99 is slow too (0.25 + 0.25 x 9/10 = 475 ms), but that page is the same cause: suppressed.
    series = inference(STABLE, slow=False) + inference(CANARY, slow=True)
    series += executor("stable", 90, slow=False) + executor("canary", 10, slow=True)
    summary = f"p99 model latency of bundle {CANARY} (canary) above the 250 ms SLO"
    labels = {"bundle_version": CANARY, "rankship_track": "canary"}
    checks = [
        *quiet("8m", *LATENCY),  # pending for 10m
        {
            "eval_time": "20m",
            "alertname": "RankshipInferenceLatencyP99High",
            "exp_alerts": [alert("page", summary, "497.5ms", **labels)],
        },
        *quiet("20m", "RankshipLatencyP99High"),
    ]
    run_rule_test(tmp_path, series, checks)


def test_server_latency_pages_when_the_time_goes_outside_the_model(tmp_path: Path) -> None:
    # The model class answers in time (p99 99.5 ms) but clients wait 497.5 ms: queueing, executor, wrapper.
    series = inference(STABLE, slow=False) + executor("stable", 100, slow=True)
    summary = "p99 server latency above the 250 ms SLO"
    checks = [
        {
            "eval_time": "20m",
            "alertname": "RankshipLatencyP99High",
            "exp_alerts": [alert("page", summary, "497.5ms")],
        },
        *quiet("20m", "RankshipInferenceLatencyP99High"),
    ]
    run_rule_test(tmp_path, series, checks)


def test_latency_within_slo_is_quiet(tmp_path: Path) -> None:
    series = inference(STABLE, slow=False) + executor("stable", 100, slow=False)
    run_rule_test(tmp_path, series, quiet("30m", *LATENCY))


# Scores a minute: 20 in (-1, 0], 60 in (0, 1], 20 in (1, 2], as cumulative counts per `le`. The runtime
# writes a bucket series only once it has a count, so the buckets below the lowest score are absent. Over
# the 2m window (200 scores): the median (rank 100) falls in (0, 1]: 0 + (100 - 40)/120 = 0.5; p90 (rank
# 180) in (1, 2]: 1 + (180 - 160)/40 = 1.5.
STABLE_SCORES = {"0.0": 20, "1.0": 80, **{f"{e}.0": 100 for e in range(2, 9)}, "+Inf": 100}
# The top 20 moved up one bucket, to (2, 3]: the median stays 0.5, p90 = 2 + (180 - 160)/40 = 2.5.
TOP_MOVED = {"0.0": 20, "1.0": 80, "2.0": 80, **{f"{e}.0": 100 for e in range(3, 9)}, "+Inf": 100}


def scores(version: str, cumulative: Mapping[str, float]) -> list[dict[str, str]]:
    halves = {le: count / len(WORKERS) for le, count in cumulative.items()}
    return [s for w in WORKERS for s in histogram("rankship_scores_total", runtime(version, w), halves)]


def drift_series(canary_scores: Mapping[str, float], canary_requests: float) -> list[dict[str, str]]:
    traffic = requests(STABLE, 90, minutes=40) + requests(CANARY, canary_requests, minutes=40)
    return scores(STABLE, STABLE_SCORES) + scores(CANARY, canary_scores) + traffic


def test_drift_alert_names_the_quantile_that_moved(tmp_path: Path) -> None:
    summary = f"canary {CANARY} score quantile 0.9 moved more than 0.1 from stable {STABLE}"
    labels = {"quantile": "0.9", "canary_version": CANARY, "stable_version": STABLE}
    checks = [
        {
            "eval_time": "30m",
            "alertname": "RankshipCanaryScoreDrift",
            "exp_alerts": [alert("ticket", summary, "1.000", **labels)],
        }
    ]
    run_rule_test(tmp_path, drift_series(TOP_MOVED, canary_requests=100), checks)


def test_no_drift_alert_when_canary_scores_like_stable(tmp_path: Path) -> None:
    run_rule_test(
        tmp_path, drift_series(STABLE_SCORES, canary_requests=100), quiet("30m", "RankshipCanaryScoreDrift")
    )


def test_no_drift_alert_before_the_canary_served_enough_requests(tmp_path: Path) -> None:
    # 10 requests a minute: 20 in the 2m window, fewer than the 50 the analysis asks for.
    run_rule_test(
        tmp_path, drift_series(TOP_MOVED, canary_requests=10), quiet("30m", "RankshipCanaryScoreDrift")
    )


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    board = dashboard(DEV, DEV.models[0])
    exprs = [t["expr"].replace("$__rate_interval", "5m") for p in board["panels"] for t in p["targets"]]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + json.dumps(exprs, indent=1)
