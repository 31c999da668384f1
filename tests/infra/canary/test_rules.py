"""The PrometheusRules of `infra/specs/` (monitoring, alerts, promql), unit-tested with `promtool test rules`
(Debian `prometheus`): each alert firing, and not firing, on input series shaped like the real ones.

The rules file is rendered from the fixture stack (SLO p99 120 ms, availability 0.995 -> error budget 0.5 %,
canary window 2m, >= 100 canary requests), so these tests follow the builder. Input series use promtool's
expanding notation: `a+bxN` is N+1 samples a, a+b, ..., one per `interval` (1m); a counter growing by 600 a
minute is 10 requests per second.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings.stack import StackSettings
from infra.specs.monitoring import prometheus_rule

LABELS = 'namespace="rankship-serving", rankship_model="search-ranker"'
ALERT_LABELS = {"namespace": "rankship-serving", "rankship_model": "search-ranker"}
STABLE, CANARY = "a1a1a1a1a1a1", "b2b2b2b2b2b2"
Series = list[dict[str, str]]


def version(track: str = "stable") -> str:
    bundle = CANARY if track == "canary" else STABLE
    return f'{LABELS}, rankship_track="{track}", bundle_version="{bundle}"'


def histogram(name: str, bucket: str, track: str = "stable") -> Series:
    """10 requests/s for 30 minutes, every one in the bucket with upper bound `bucket` (0.1 or 0.25 s)."""
    series = []
    for le in ("0.1", "0.25", "+Inf"):
        grows = le == "+Inf" or float(le) >= float(bucket)
        labels = f'{version(track)}, le="{le}"'
        series.append({"series": f"{name}{{{labels}}}", "values": "0+600x30" if grows else "0x30"})
    return series


def executor_latency(bucket: str, track: str = "stable") -> Series:
    return histogram("seldon_api_executor_server_requests_seconds_bucket", bucket, track)


def model_latency(bucket: str, track: str = "stable") -> Series:
    return histogram("rankship_inference_seconds_bucket", bucket, track)


def traffic(errors: str, code: str = "500", track: str = "stable", minutes: int = 120) -> Series:
    return [
        {"series": f"rankship_requests_total{{{version(track)}}}", "values": f"0+600x{minutes}"},
        {"series": f'rankship_errors_total{{{version(track)}, reason="r", code="{code}"}}', "values": errors},
    ]


def alert(severity: str, summary: str, value: str, **labels: str) -> dict[str, Any]:
    return {
        "exp_labels": {**ALERT_LABELS, "severity": severity, **labels},
        "exp_annotations": {
            "summary": f"search-ranker: {summary}",
            "description": f"{summary} (now {value})",
        },
    }


def expect(eval_time: str, name: str, *firing: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": eval_time, "alertname": name, "exp_alerts": list(firing)}


def promtool(tmp_path: Path, settings: StackSettings, series: Series, tests: list[dict[str, Any]]) -> None:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(prometheus_rule(settings, settings.models[0])["spec"], sort_keys=False))
    case = {"interval": "1m", "input_series": series, "alert_rule_test": tests}
    spec = {"rule_files": [rules.name], "evaluation_interval": "30s", "tests": [case]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [binary, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


LATENCY = "p99 server latency above the 120 ms SLO"


def test_latency_alert_fires_after_ten_minutes_above_the_slo(tmp_path: Path, settings: StackSettings) -> None:
    # Executor: every request in (0.1 s, 0.25 s], p99 = 0.1 + 0.99 * 0.15 = 0.2485 s > 0.12 s from minute 1.
    # The model class itself is fast (p99 0.099 s): the time goes elsewhere, so the model-wide alert pages.
    tests = [
        expect("8m", "RankshipLatencyP99High"),  # pending: `for` is 10m
        expect("15m", "RankshipLatencyP99High", alert("page", LATENCY, "248.5ms")),
        expect("15m", "RankshipInferenceLatencyP99High"),
    ]
    promtool(tmp_path, settings, executor_latency("0.25") + model_latency("0.1"), tests)


def test_latency_alert_stays_quiet_below_the_slo(tmp_path: Path, settings: StackSettings) -> None:
    # Every request in (0, 0.1 s]: p99 = 0.099 s < 0.12 s.
    promtool(tmp_path, settings, executor_latency("0.1"), [expect("25m", "RankshipLatencyP99High")])


def test_a_slow_bundle_pages_once_naming_its_version(tmp_path: Path, settings: StackSettings) -> None:
    # The canary's model class is slow (p99 0.2485 s), and so the executor over all traffic: the per-version
    # alert names bundle and track, the model-wide one stays quiet (one cause, one page).
    series = executor_latency("0.25") + model_latency("0.25", track="canary") + model_latency("0.1")
    summary = f"p99 model latency of bundle {CANARY} (canary) above the 120 ms SLO"
    firing = alert("page", summary, "248.5ms", bundle_version=CANARY, rankship_track="canary")
    tests = [
        expect("15m", "RankshipInferenceLatencyP99High", firing),
        expect("15m", "RankshipLatencyP99High"),
    ]
    promtool(tmp_path, settings, series, tests)


def test_a_slow_shadow_does_not_page(tmp_path: Path, settings: StackSettings) -> None:
    # Mirrored traffic is nobody's latency: only the shadow is slow.
    shadow = executor_latency("0.25", track="shadow") + model_latency("0.25", track="shadow")
    tests = [expect("25m", "RankshipLatencyP99High"), expect("25m", "RankshipInferenceLatencyP99High")]
    promtool(tmp_path, settings, executor_latency("0.1") + shadow, tests)


FAST_BURN = "error budget burning at 14.4x over 1h and 5m (SLO 0.995)"


def test_fast_burn_pages_when_both_windows_burn(tmp_path: Path, settings: StackSettings) -> None:
    # 60 server errors of 600 requests a minute: 10 % > 14.4 * 0.5 % = 7.2 % over 1h and over 5m.
    firing = alert("page", FAST_BURN, "10% errors")
    promtool(tmp_path, settings, traffic("0+60x120"), [expect("70m", "RankshipErrorBudgetBurn1h", firing)])


def test_a_short_spike_does_not_page(tmp_path: Path, settings: StackSettings) -> None:
    # No errors for an hour, then 180 a minute (30 %) for 5 minutes: the 5m window burns, but the 1h window
    # holds 900 errors in 36000 requests = 2.5 % < 7.2 %, so the multiwindow rule stays quiet.
    series = traffic("0x60 180+180x10", minutes=70)
    promtool(tmp_path, settings, series, [expect("65m", "RankshipErrorBudgetBurn1h")])


def test_a_low_error_rate_does_not_page(tmp_path: Path, settings: StackSettings) -> None:
    # 0.4 % errors: below even the 1x budget (0.5 %).
    names = ("RankshipErrorBudgetBurn1h", "RankshipErrorBudgetBurn6h", "RankshipErrorBudgetBurn3d")
    promtool(tmp_path, settings, traffic("0+2.4x120"), [expect("110m", name) for name in names])


def test_shadow_errors_do_not_spend_the_budget(tmp_path: Path, settings: StackSettings) -> None:
    series = traffic("0x120") + traffic("0+600x120", track="shadow")  # the shadow fails every request
    promtool(tmp_path, settings, series, [expect("70m", "RankshipErrorBudgetBurn1h")])


def test_bad_input_opens_a_ticket_but_spends_no_budget(tmp_path: Path, settings: StackSettings) -> None:
    # 10 % of requests rejected with 400: above the 5 % bad-input limit for 15m, but the client's mistake.
    summary = "more than 5% of live requests rejected as bad input (4xx) over 15m"
    tests = [
        expect("40m", "RankshipBadInputSurge", alert("ticket", summary, "10%")),
        expect("70m", "RankshipErrorBudgetBurn1h"),
    ]
    promtool(tmp_path, settings, traffic("0+60x120", code="400"), tests)


def scores(track: str, low: bool, requests: str = "0+600x40") -> Series:
    """Every score of the version in (-1, 0] (`low`) or in (0, 1], as cumulative `le` counters."""
    grows = ("0.0", "1.0", "+Inf") if low else ("1.0", "+Inf")
    series = [{"series": f"rankship_requests_total{{{version(track)}}}", "values": requests}]
    for le in ("-1.0", "0.0", "1.0", "+Inf"):
        name = f'rankship_scores_total{{{version(track)}, le="{le}"}}'
        series.append({"series": name, "values": "0+600x40" if le in grows else "0x40"})
    return series


def drift(quantile: str) -> dict[str, Any]:
    summary = f"canary {CANARY} score quantile {quantile} moved more than 0.1 from stable {STABLE}"
    return alert("ticket", summary, "1.000", quantile=quantile, canary_version=CANARY, stable_version=STABLE)


def test_drift_alert_fires_per_quantile(tmp_path: Path, settings: StackSettings) -> None:
    # Stable's scores all in (-1, 0], the canary's in (0, 1]: medians -0.5 and 0.5, p90s -0.1 and 0.9, both
    # shifts 1.0 > 0.1, with 1200 canary requests in the 2m window (>= 100).
    series = scores("stable", low=True) + scores("canary", low=False)
    promtool(
        tmp_path, settings, series, [expect("30m", "RankshipCanaryScoreDrift", drift("0.5"), drift("0.9"))]
    )


def test_drift_waits_for_enough_canary_traffic(tmp_path: Path, settings: StackSettings) -> None:
    # The same shift, but 10 canary requests a minute: 20 in the window < 100, too few to judge.
    series = scores("stable", low=True) + scores("canary", low=False, requests="0+10x40")
    promtool(tmp_path, settings, series, [expect("30m", "RankshipCanaryScoreDrift")])


def test_same_scores_do_not_drift(tmp_path: Path, settings: StackSettings) -> None:
    series = scores("stable", low=True) + scores("canary", low=True)
    promtool(tmp_path, settings, series, [expect("30m", "RankshipCanaryScoreDrift")])
