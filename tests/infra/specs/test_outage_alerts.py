"""Outage alerts under `promtool test rules`: each fires on a series where every request fails (or nothing
runs), and stays quiet on healthy traffic. Same fixture stack and helpers as the SLO rule tests
(`tests/infra/canary/test_rules.py`): budget 0.5 %, series in promtool's `a+bxN` notation, one sample a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings.stack import StackSettings, load_stack_settings
from tests.infra.canary.test_rules import LABELS, Series, alert, expect, promtool, version
from tests.infra.infra_stacks import ROOT

FIXTURE = ROOT / "tests" / "infra" / "canary" / "fixtures"
GATEWAY = (
    'reporter="source", destination_service_namespace="rankship-serving", '
    'destination_service_name="search-ranker-stable"'
)


@pytest.fixture
def settings() -> StackSettings:
    return load_stack_settings("canary", FIXTURE)


def executor(code: str, per_minute: int = 600, minutes: int = 120) -> Series:
    labels = f'{version()}, service="predictions", method="post", code="{code}"'
    return [
        {
            "series": f"seldon_api_executor_server_requests_seconds_count{{{labels}}}",
            "values": f"0+{per_minute}x{minutes}",
        }
    ]


def runtime_silent(minutes: int = 120) -> Series:
    """The model process answered nothing, so its own counters never move."""
    return [{"series": f"rankship_requests_total{{{version()}}}", "values": f"0x{minutes}"}]


def gateway(code: str) -> Series:
    return [{"series": f'istio_requests_total{{{GATEWAY}, response_code="{code}"}}', "values": "0+600x30"}]


def up(value: int, minutes: int = 30) -> Series:
    return [
        {
            "series": f'up{{{version()}, pod="search-ranker-stable-0-ranker-abc"}}',
            "values": f"{value}x{minutes}",
        }
    ]


def test_every_request_failing_at_the_executor_burns_the_budget(
    tmp_path: Path, settings: StackSettings
) -> None:
    # The executor answers 500 to all 10 requests/s; the runtime counted nothing (ratio 0/0 there).
    # Combined ratio = max(NaN, 1) = 1 > 14.4 * 0.005 on both windows: pages after its 2m `for`.
    fast = alert(
        "page",
        "error budget burning at 14.4x over 1h and 5m (SLO 0.995)",
        "100% errors",
    )
    series = executor("500") + runtime_silent()
    promtool(tmp_path, settings, series, [expect("10m", "RankshipErrorBudgetBurn1h", fast)])


def test_healthy_executor_traffic_burns_nothing(tmp_path: Path, settings: StackSettings) -> None:
    series = executor("200") + runtime_silent()
    names = ("RankshipErrorBudgetBurn1h", "RankshipErrorBudgetBurn6h", "RankshipRequestsFailing")
    promtool(tmp_path, settings, series, [expect("70m", name) for name in names])


def test_the_gateway_answering_503_pages(tmp_path: Path, settings: StackSettings) -> None:
    # No ready pod: Istio answers 503 itself and neither the executor nor the model sees a request.
    failing = alert(
        "page",
        "more than 50% of requests through the gateway answered 5xx",
        "100%",
        destination_service_namespace="rankship-serving",
    )
    promtool(tmp_path, settings, gateway("503"), [expect("12m", "RankshipRequestsFailing", failing)])
    promtool(tmp_path, settings, gateway("200"), [expect("12m", "RankshipRequestsFailing")])


def test_a_pod_that_cannot_be_scraped_pages(tmp_path: Path, settings: StackSettings) -> None:
    summary = "Prometheus cannot scrape pod search-ranker-stable-0-ranker-abc (stable)"
    labels = {
        "rankship_track": "stable",
        "bundle_version": "a1a1a1a1a1a1",
        "pod": "search-ranker-stable-0-ranker-abc",
    }
    down = alert("page", summary, "0", **labels)
    promtool(tmp_path, settings, up(0), [expect("10m", "RankshipTargetDown", down)])
    promtool(tmp_path, settings, up(1), [expect("10m", "RankshipTargetDown")])


def test_no_stable_pod_at_all_pages(tmp_path: Path, settings: StackSettings) -> None:
    # Only another model's target exists: nothing of search-ranker is scraped.
    other = [
        {
            "series": 'up{namespace="rankship-serving", rankship_model="other", rankship_track="stable"}',
            "values": "1x30",
        }
    ]
    absent = alert("page", "no stable pod is running (nothing to scrape)", "1", rankship_track="stable")
    promtool(tmp_path, settings, other, [expect("15m", "RankshipModelAbsent", absent)])
    promtool(tmp_path, settings, up(1), [expect("15m", "RankshipModelAbsent")])


def test_a_deployment_without_available_replicas_pages(tmp_path: Path, settings: StackSettings) -> None:
    def replicas(value: int) -> Series:
        labels = 'namespace="rankship-serving", deployment="search-ranker-stable-0-ranker"'
        return [{"series": f"kube_deployment_status_replicas_available{{{labels}}}", "values": f"{value}x30"}]

    none = alert(
        "page",
        "Deployment search-ranker-stable-0-ranker has no available replica",
        "0",
        namespace="rankship-serving",
        deployment="search-ranker-stable-0-ranker",
    )
    promtool(tmp_path, settings, replicas(0), [expect("10m", "RankshipNoAvailableReplicas", none)])
    promtool(tmp_path, settings, replicas(2), [expect("10m", "RankshipNoAvailableReplicas")])


def test_the_labels_the_outage_rules_read_are_the_scraped_ones() -> None:
    # Same namespace/model labels as every other rule (the PodMonitor relabelings).
    assert LABELS == 'namespace="rankship-serving", rankship_model="search-ranker"'
