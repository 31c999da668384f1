"""A real Prometheus (Debian package) scrapes the microservice's metrics port; the numbers add up by hand."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from model.release.bundle import BundleInfo
from tests.model.serving.serving_process import ServingProcess, free_port

pytestmark = pytest.mark.e2e
PREDICT = "/api/v1.0/predictions"
GOOD_REQUESTS = 4


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (api base url, function(target) that starts scraping it) and stop Prometheus afterwards."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian: apt-get install prometheus)")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start(target: str) -> None:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: rankship\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        cmd = [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
               f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--log.level=warn"]  # fmt: skip
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - lives as long as the process
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    yield f"http://127.0.0.1:{port}/api/v1", start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(api: str, promql: str, want: float | None = None, timeout: float = 45.0) -> list[dict[str, Any]]:
    """Instant query; with `want`, poll until the single result equals it (scrapes run every second)."""
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            answer = requests.get(f"{api}/query", params={"query": promql}, timeout=5)
            result = answer.json()["data"]["result"]
        except (requests.ConnectionError, ValueError, KeyError):
            result = []  # not listening yet, or its plain-text 503 while the TSDB opens
        if result and (want is None or float(result[0]["value"][1]) == want):
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql}: wanted {want}, last result {result}")


def test_prometheus_scrapes_the_rankship_metrics(
    serving_python: Path,
    bundle: BundleInfo,
    golden: dict[str, Any],
    tmp_path: Path,
    prometheus: tuple[str, Any],
) -> None:
    api, start_prometheus = prometheus
    server = ServingProcess(bundle.path, tmp_path / "seldon.log").start()  # fresh counters
    try:
        server.wait(ready=True)
        start_prometheus(f"127.0.0.1:{server.metrics_port}")
        item = golden["requests"][0]
        good = {"jsonData": item["request"]}
        duplicate = {"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}] * 2}}
        for _ in range(GOOD_REQUESTS - 1):
            assert requests.post(server.url + PREDICT, json=good, timeout=10).status_code == 200
        for _ in range(2):
            assert requests.post(server.url + PREDICT, json=duplicate, timeout=10).status_code == 400
        bad_json = requests.post(
            server.url + PREDICT, data=b"{", headers={"Content-Type": "application/json"}, timeout=10
        )
        assert bad_json.status_code == 400
        # Rejected before the model: counted with this worker's next prediction.
        assert requests.post(server.url + PREDICT, json=good, timeout=10).status_code == 200

        v = f'bundle_version="{bundle.version}"'
        n = len(item["scores"])
        query(api, f"sum(rankship_requests_total{{{v}}})", want=GOOD_REQUESTS + 3)
        query(api, f'sum(rankship_errors_total{{{v},reason="duplicate_id"}})', want=2)
        query(api, f'sum(rankship_errors_total{{{v},reason="invalid_json"}})', want=1)
        query(api, f"sum(rankship_candidates_total{{{v}}})", want=GOOD_REQUESTS * n)
        query(api, f"sum(rankship_inference_seconds_count{{{v}}})", want=GOOD_REQUESTS)
        p99 = query(api, f"histogram_quantile(0.99, sum by (le) (rankship_inference_seconds_bucket{{{v}}}))")
        assert 0 < float(p99[0]["value"][1]) < 30
        # Score histogram: cumulative counts of the golden request's scores, worked out from golden.json.
        for le in ("-1.0", "0.0", "1.0", "+Inf"):
            edge = float("inf") if le == "+Inf" else float(le)
            count = sum(1 for s in item["scores"].values() if s <= edge) * GOOD_REQUESTS
            if count:
                query(api, f'sum(rankship_scores_total{{{v},le="{le}"}})', want=count)
        series = query(api, f"rankship_requests_total{{{v}}}")[0]["metric"]
        assert series["job"] == "rankship" and series["method"] == "predict"
        assert series["instance"] == f"127.0.0.1:{server.metrics_port}"
    finally:
        server.stop()
