"""Feedback end to end: the real seldon-core-microservice over REST and gRPC, counters on its metrics port."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
import requests

from model.release.bundle import BundleInfo
from tests.model.serving.serving_process import REPO, ServingProcess
from tests.model.serving.test_e2e import scrape

pytestmark = pytest.mark.e2e
PREDICT, FEEDBACK = "/api/v1.0/predictions", "/api/v1.0/feedback"
OTHER = "0123456789ab"  # another version's answer, arriving at this process (Istio splits /feedback too)


def _feedback(
    answer: dict[str, Any], request: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"request": request, "response": answer, "reward": float(bool(events)),
            "truth": {"jsonData": {"events": events}}}  # fmt: skip


def _as_other_version(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "meta": {"tags": {**answer["meta"]["tags"], "model_version": OTHER}}}


def _counter(server: ServingProcess, name: str, at_least: float | None = None, **labels: str) -> float:
    """The counter's value, summed over series with `labels`; with `at_least`, polled until it gets there
    (Seldon metrics are written off the request path, up to RANKSHIP_METRICS_FLUSH_MS late)."""
    deadline = time.monotonic() + 20  # the metrics server may come up after /health/status
    while True:
        try:
            samples = scrape(server.metrics_url)
        except requests.ConnectionError:
            samples = None
        if samples is not None:
            value = sum(
                v for n, got, v in samples if n == name and all(got.get(k) == w for k, w in labels.items())
            )
            if at_least is None or value >= at_least:
                return value
        if time.monotonic() > deadline:
            if samples is None:
                raise requests.ConnectionError(f"{server.metrics_url}: metrics server not reachable")
            return value
        time.sleep(0.25)


def test_rest_feedback_is_counted_for_the_answers_version(
    server: ServingProcess, golden: dict[str, Any]
) -> None:
    request = {"jsonData": golden["requests"][0]["request"]}
    answer = requests.post(server.url + PREDICT, json=request, timeout=10).json()
    second = answer["jsonData"]["results"][1]["id"]
    before = _counter(server, "rankship_feedback_total", bundle_version=OTHER)
    clicked = _feedback(_as_other_version(answer), request, [{"id": second, "action": "click"}])
    reply = requests.post(server.url + FEEDBACK, json=clicked, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["meta"]["tags"]["feedback_version"] == OTHER
    none = _feedback(_as_other_version(answer), request, [])
    assert requests.post(server.url + FEEDBACK, json=none, timeout=10).status_code == 200
    # Two impressions, one click at position 2: reciprocal-rank sum 0.5.
    assert _counter(server, "rankship_feedback_total", before + 2, bundle_version=OTHER) == before + 2
    assert (
        _counter(
            server, "rankship_feedback_reciprocal_rank_total", 0.5, bundle_version=OTHER, method="feedback"
        )
        >= 0.5
    )
    assert (
        _counter(
            server, "rankship_clicks_total", 1, bundle_version=OTHER, position_bucket="2", action="click"
        )
        >= 1
    )


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{", 400, "request body is not valid JSON"),
        (json.dumps({"response": {}, "truth": {}, "colour": 1}).encode(), 400, 'no field named "colour"'),
        (
            json.dumps({"response": {"jsonData": {"results": []}}}).encode(),
            400,
            "response.meta.tags.model_version",
        ),
    ],
)
def test_rest_bad_feedback_is_a_400_naming_the_field(
    server: ServingProcess, body: bytes, status: int, names: str
) -> None:
    reply = requests.post(
        server.url + FEEDBACK, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert reply.status_code == status, reply.text
    assert names in reply.json()["status"]["info"]
    assert reply.json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"


def test_grpc_feedback_counts_and_rejects(
    server: ServingProcess, golden: dict[str, Any], bundle: BundleInfo
) -> None:
    request = {"jsonData": golden["requests"][0]["request"]}
    answer = requests.post(server.url + PREDICT, json=request, timeout=10).json()
    good = _feedback(_as_other_version(answer), request, [{"position": 1, "action": "add_to_cart"}])
    bad = _feedback(answer, request, [{"position": 99, "action": "click"}])
    calls = json.dumps([{"feedback": good}, {"feedback": bad}])
    out = subprocess.run(
        [str(REPO / ".venv-serving/bin/python"), str(REPO / "tests/model/serving/grpc_client.py"), server.grpc_target],
        input=calls, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    ok, rejected = json.loads(out.stdout)
    assert ok["ok"] and ok["response"]["meta"]["tags"]["feedback_version"] == OTHER
    assert not rejected["ok"] and rejected["code"] == "INVALID_ARGUMENT"
    assert "events[0].position 99" in rejected["details"]
    assert (
        _counter(
            server,
            "rankship_feedback_rejected_total",
            1,
            bundle_version=bundle.version,
            reason="out_of_range",
        )
        >= 1
    )


def test_seldon_client_example(server: ServingProcess, golden: dict[str, Any]) -> None:
    request = {"jsonData": golden["requests"][0]["request"]}
    out = subprocess.run(
        [str(REPO / ".venv-serving/bin/python"), str(REPO / "tests/model/serving/seldon_client_feedback.py"),
         f"127.0.0.1:{server.http_port}"],
        input=json.dumps(request), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    version = result["answer"]["meta"]["tags"]["model_version"]
    assert result["feedback"]["meta"]["tags"]["feedback_version"] == version
    assert _counter(server, "rankship_clicks_total", 1, bundle_version=version, position_bucket="2") >= 1
