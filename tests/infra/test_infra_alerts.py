"""Alert rules through promtool: syntax (`check rules`) and behaviour on hand-made series (`test rules`).

Dev settings: availability 0.99 (budget 1%), p99 SLO 250 ms, drift shift 0.1, canary analysis window 2m.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_stacks import STACKS, raw_settings, settings_of

from infra.config import StackSettings
from infra.specs.dashboard import dashboard
from infra.specs.monitoring import prometheus_rule

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`)"
)

DEV = settings_of(raw_settings("dev"))
STABLE, CANARY = DEV.models[0].stable.bundle.version, DEV.models[0].canary.bundle.version  # type: ignore[union-attr]
BASE = 'namespace="rankship-serving", rankship_model="search-ranker"'
MODEL_LABELS = {"rankship_model": "search-ranker", "namespace": "rankship-serving"}


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


def traffic(track: str, requests: str, errors: str) -> list[dict[str, str]]:
    labels = f'{BASE}, rankship_track="{track}", model_version="{STABLE}"'
    return [
        {"series": f"rankship_requests_total{{{labels}}}", "values": requests},
        {"series": f'rankship_errors_total{{{labels}, reason="internal"}}', "values": errors},
    ]


def burn_alert(factor: str, windows: str, percent: str) -> dict[str, Any]:
    summary = f"error budget burning at {factor}x over {windows} (SLO 0.99)"
    return {
        "exp_labels": {"severity": "page", **MODEL_LABELS},
        "exp_annotations": {
            "summary": f"search-ranker: {summary}",
            "description": f"{summary} (now {percent} errors)",
        },
    }


@pytest.mark.parametrize("stack", STACKS)
def test_rules_pass_promtool_check(stack: str, tmp_path: Path) -> None:
    result = promtool(
        "check", "rules", str(write_rules(settings_of(raw_settings(stack)), tmp_path)), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_fast_burn_pages_at_20_percent_errors(tmp_path: Path) -> None:
    # 20 errors per 100 requests: ratio 0.2 > 14.4 x 0.01, on both the 1h and the 5m window.
    checks: list[dict[str, Any]] = [
        {
            "eval_time": "10m",
            "alertname": "RankshipErrorBudgetBurn1h",
            "exp_alerts": [burn_alert("14.4", "1h and 5m", "20%")],
        },
        # 0.2 > 6 x 0.01 as well, but that alert waits 15m: still pending at 10m, firing at 20m.
        {"eval_time": "10m", "alertname": "RankshipErrorBudgetBurn6h", "exp_alerts": []},
        {
            "eval_time": "20m",
            "alertname": "RankshipErrorBudgetBurn6h",
            "exp_alerts": [burn_alert("6", "6h and 30m", "20%")],
        },
    ]
    run_rule_test(tmp_path, traffic("stable", "0+100x30", "0+20x30"), checks)


def test_half_a_percent_errors_stay_within_budget(tmp_path: Path) -> None:
    checks: list[dict[str, Any]] = [
        {"eval_time": "90m", "alertname": name, "exp_alerts": []}
        for name in ("RankshipErrorBudgetBurn1h", "RankshipErrorBudgetBurn6h", "RankshipErrorBudgetBurn3d")
    ]
    run_rule_test(tmp_path, traffic("stable", "0+100x90", "0+0.5x90"), checks)


def test_shadow_errors_do_not_spend_the_budget(tmp_path: Path) -> None:
    series = traffic("stable", "0+100x30", "0+0x30") + traffic("shadow", "0+100x30", "0+50x30")
    checks: list[dict[str, Any]] = [
        {"eval_time": "20m", "alertname": "RankshipErrorBudgetBurn1h", "exp_alerts": []}
    ]
    run_rule_test(tmp_path, series, checks)


def latency_series(le_with_all_requests: str) -> list[dict[str, str]]:
    labels = f'{BASE}, rankship_track="stable", predictor_name="stable"'
    series = []
    for le in ("0.1", "0.25", "0.5", "+Inf"):
        below = le == "+Inf" or float(le) >= float(le_with_all_requests)
        values = "0+100x40" if below else "0+0x40"
        series.append(
            {
                "series": f'seldon_api_executor_server_requests_seconds_bucket{{{labels}, le="{le}"}}',
                "values": values,
            }
        )
    return series


def test_latency_alert_fires_when_p99_exceeds_the_slo(tmp_path: Path) -> None:
    # Every request in (0.25, 0.5]: p99 = 0.25 + 0.99 x 0.25 = 0.4975 s > 0.25 s, for longer than 10m.
    summary = "p99 server latency above the 250 ms SLO"
    expected = {
        "exp_labels": {
            "severity": "page",
            "rankship_model": "search-ranker",
            "namespace": "rankship-serving",
        },
        "exp_annotations": {
            "summary": f"search-ranker: {summary}",
            "description": f"{summary} (now 497.5ms)",
        },
    }
    checks: list[dict[str, Any]] = [
        {"eval_time": "8m", "alertname": "RankshipLatencyP99High", "exp_alerts": []},
        {"eval_time": "20m", "alertname": "RankshipLatencyP99High", "exp_alerts": [expected]},
    ]
    run_rule_test(tmp_path, latency_series("0.5"), checks)


def test_latency_within_slo_is_quiet(tmp_path: Path) -> None:
    # Every request in (0.05, 0.1]: p99 = 0.0995 s.
    checks: list[dict[str, Any]] = [
        {"eval_time": "30m", "alertname": "RankshipLatencyP99High", "exp_alerts": []}
    ]
    run_rule_test(tmp_path, latency_series("0.1"), checks)


def score_series(version: str, bucket_with_all: str) -> list[dict[str, str]]:
    series = []
    for le in ("0.2", "0.4", "0.6", "0.8", "1.0", "+Inf"):
        filled = le == "+Inf" or float(le) >= float(bucket_with_all)
        labels = f'{BASE}, rankship_track="x", model_version="{version}", le="{le}"'
        series.append(
            {"series": f"rankship_score_bucket{{{labels}}}", "values": "0+100x40" if filled else "0+0x40"}
        )
    return series


def test_drift_alert_fires_when_canary_median_moves(tmp_path: Path) -> None:
    # Stable scores in (0.4, 0.6]: median 0.5. Canary scores in (0.8, 1.0]: median 0.9. Shift 0.4 > 0.1.
    summary = f"canary {CANARY} scores moved more than 0.1 from stable {STABLE}"
    expected = {
        "exp_labels": {
            "severity": "ticket",
            **MODEL_LABELS,
            "canary_version": CANARY,
            "stable_version": STABLE,
        },
        "exp_annotations": {"summary": f"search-ranker: {summary}", "description": f"{summary} (now 0.400)"},
    }
    checks: list[dict[str, Any]] = [
        {"eval_time": "30m", "alertname": "RankshipCanaryScoreDrift", "exp_alerts": [expected]}
    ]
    run_rule_test(tmp_path, score_series(STABLE, "0.6") + score_series(CANARY, "1.0"), checks)


def test_no_drift_alert_when_canary_scores_like_stable(tmp_path: Path) -> None:
    checks: list[dict[str, Any]] = [
        {"eval_time": "30m", "alertname": "RankshipCanaryScoreDrift", "exp_alerts": []}
    ]
    run_rule_test(tmp_path, score_series(STABLE, "0.6") + score_series(CANARY, "0.6"), checks)


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    board = dashboard(DEV, DEV.models[0])
    exprs = [t["expr"].replace("$__rate_interval", "5m") for p in board["panels"] for t in p["targets"]]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + json.dumps(exprs, indent=1)
