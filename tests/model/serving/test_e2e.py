"""End to end: the real seldon-core-microservice on the fixture bundle, over REST, gRPC and metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from model.release.bundle import BundleInfo
from tests.model.serving.serving_process import REPO, ServingProcess

pytestmark = pytest.mark.e2e
PREDICT = "/api/v1.0/predictions"
SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def offline_order(item: dict[str, Any]) -> list[str]:
    return sorted(item["scores"], key=lambda cid: -item["scores"][cid])


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in requests.get(url, timeout=5).text.splitlines():
        if match := SAMPLE.match(line):
            samples.append((match[1], dict(LABEL.findall(match[2])), float(match[3])))
    return samples


def test_health_reflects_the_verified_bundle(server: ServingProcess, bundle: BundleInfo) -> None:
    assert requests.get(f"{server.url}/health/ping", timeout=5).text == "pong"
    status = requests.get(f"{server.url}/health/status", timeout=5)
    assert status.status_code == 200
    assert (status.json()["model_version"], status.json()["bundle_id"]) == (bundle.version, bundle.bundle_id)


def test_rest_predictions_take_the_fast_path_and_say_how_long_the_model_took(server: ServingProcess) -> None:
    request = {"query": "red shoe", "candidates": [{"id": "a", "title": "red shoe"}]}
    timing = requests.post(server.url + PREDICT, json={"jsonData": request}, timeout=10).headers[
        "Server-Timing"
    ]
    # predict_raw's own time, then the app's around it (model/serving/rest_fastpath.py under gunicorn).
    assert re.fullmatch(r'predict;dur=[\d.]+, app;dur=[\d.]+;desc="fast path"', timing), timing
    predict, app = (float(ms) for ms in re.findall(r"dur=([\d.]+)", timing))
    assert 0 < predict <= app
    refused = requests.post(
        server.url + PREDICT, data=b"{}", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert refused.status_code == 415 and "predict" not in refused.headers["Server-Timing"]


def test_rest_ranks_like_offline_evaluation_in_every_form(
    server: ServingProcess, bundle: BundleInfo, golden: dict[str, Any]
) -> None:
    tolerance = golden["tolerance"]["absolute"]
    for item in golden["requests"]:
        request = item["request"]
        answer = requests.post(server.url + PREDICT, json={"jsonData": request}, timeout=10).json()
        assert (
            answer["meta"]["tags"]["model_version"] == answer["jsonData"]["model_version"] == bundle.version
        )
        assert [r["id"] for r in answer["jsonData"]["results"]] == offline_order(item)
        for r in answer["jsonData"]["results"]:
            assert abs(r["score"] - item["scores"][r["id"]]) <= tolerance
        assert "metrics" not in answer["meta"]  # INCLUDE_METRICS_IN_CLIENT_RESPONSE=false
        rows = [
            [request["query"], c["id"], c["title"], c.get("description", "")] for c in request["candidates"]
        ]
        ndarray = requests.post(server.url + PREDICT, json={"data": {"ndarray": rows}}, timeout=10).json()
        assert [row[0] for row in ndarray["data"]["ndarray"]] == offline_order(item)
        as_str = requests.post(server.url + PREDICT, json={"strData": json.dumps(request)}, timeout=10).json()
        assert [r["id"] for r in json.loads(as_str["strData"])["results"]] == offline_order(item)


def test_grpc_predictions_and_bad_input(
    server: ServingProcess, serving_python: Path, bundle: BundleInfo, golden: dict[str, Any]
) -> None:
    item = golden["requests"][0]
    request = item["request"]
    rows = [[request["query"], c["id"], c["title"], c.get("description", "")] for c in request["candidates"]]
    not_utf8 = b"\x2a\x03a\xffc".hex()  # field 5 (strData), length 3, bytes a 0xff c
    calls = [
        {"message": {"jsonData": {**request, "top_k": 2}}},
        {"message": {"data": {"names": ["query", "id", "title", "description"], "ndarray": rows}}},
        {"message": {"jsonData": {"query": "q", "candidates": []}}},
        {"raw_hex": not_utf8},
        {"raw_hex": "ffffff"},
    ]
    out = subprocess.run(
        [str(serving_python), str(REPO / "tests/model/serving/grpc_client.py"), server.grpc_target],
        input=json.dumps(calls), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    top2, ndarray, empty, utf8, garbage = json.loads(out.stdout)
    assert [r["id"] for r in top2["response"]["jsonData"]["results"]] == offline_order(item)[:2]
    assert top2["response"]["meta"]["tags"]["model_version"] == bundle.version
    assert [row[0] for row in ndarray["response"]["data"]["ndarray"]] == offline_order(item)
    assert (empty["ok"], empty["code"]) == (False, "INVALID_ARGUMENT")
    assert empty["details"] == "jsonData.candidates must contain at least 1 items"
    assert empty["trailing"] == {
        "rankship-error-reason": "empty_candidates",
        "rankship-model-version": bundle.version,
    }
    for bad in (utf8, garbage):
        assert (bad["code"], bad["trailing"]["rankship-error-reason"]) == (
            "INVALID_ARGUMENT",
            "invalid_protobuf",
        )
    assert "utf-8" in utf8["details"]


JSON = "application/json"


def _request(candidates: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"jsonData": {"query": "q", "candidates": candidates, **extra}}).encode()


ONE = [{"id": "a", "title": "t"}]
BAD_REST = [
    # (body, content type, HTTP status, text in the message)
    (b'{"jsonData": {"query": "q"', JSON, 400, "request body is not valid JSON"),
    (b'{"jsonData": "\xc3\x28"}', JSON, 400, "request body is not valid UTF-8 (byte 0xc3 at offset 14)"),
    (b'{"jsonData": {"query": 1, "candidates": []}}', JSON, 400, "jsonData.query must be string"),
    (b'{"jsonData": {"candidates": [{"id": "a", "title": "t"}]}}', JSON, 400, "must contain ['query']"),
    (_request([]), JSON, 400, "at least 1 items"),
    (_request(ONE * 51), JSON, 400, "jsonData.candidates must contain less than or equal to 50 items"),
    (_request(ONE * 2), JSON, 400, "candidates[1].id 'a' repeats candidates[0].id"),
    (_request(ONE, top_k=float("nan")), JSON, 400, "jsonData.top_k: NaN/Infinity is not allowed"),
    (_request([{"id": "a", "title": "t", "price": 3}]), JSON, 400, "must not contain {'price'} properties"),
    (_request([{"id": "a", "title": "x" * 201}]), JSON, 400, "shorter than or equal to 200"),
    (b"x" * 70_000, JSON, 413, "request body is 70000 bytes; the limit is 65536"),
    (b'{"jsonData": {}}', "text/plain", 415, "Content-Type must be application/json"),
]


def test_rest_bad_input_is_4xx_and_the_next_request_succeeds(
    server: ServingProcess, golden: dict[str, Any]
) -> None:
    for body, content_type, code, text in BAD_REST:
        response = requests.post(
            server.url + PREDICT, data=body, headers={"Content-Type": content_type}, timeout=10
        )
        assert response.status_code == code, (body[:60], response.text)
        assert text in response.json()["status"]["info"], response.text
        good = requests.post(
            server.url + PREDICT, json={"jsonData": golden["requests"][1]["request"]}, timeout=10
        )
        assert good.status_code == 200


def test_metrics_port_exposes_rankship_series(
    server: ServingProcess, bundle: BundleInfo, golden: dict[str, Any]
) -> None:
    bad = {"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}] * 2}}
    requests.post(server.url + PREDICT, json=bad, timeout=10)
    requests.post(server.url + PREDICT, json={"jsonData": golden["requests"][0]["request"]}, timeout=10)
    histogram = {f"rankship_inference_seconds_{part}" for part in ("bucket", "sum", "count")}
    counters = {f"rankship_{name}_total" for name in ("requests", "errors", "candidates", "scores")}
    deadline = time.monotonic() + 10  # written off the request path, up to RANKSHIP_METRICS_FLUSH_MS late
    while True:
        samples = scrape(server.metrics_url)
        mine = [
            (name, labels) for name, labels, _ in samples if labels.get("bundle_version") == bundle.version
        ]
        names = {name for name, _ in mine}
        duplicate = [
            lab for n, lab in mine if n == "rankship_errors_total" and lab["reason"] == "duplicate_id"
        ]
        if (histogram | counters <= names and duplicate) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert histogram | counters <= names
    assert any(
        n == "rankship_errors_total" and (lab["reason"], lab["code"]) == ("duplicate_id", "400")
        for n, lab in mine
    )
    assert any(n == "rankship_scores_total" and lab["le"] == "+Inf" for n, lab in mine)
    assert any(n == "rankship_inference_seconds_bucket" and lab["le"] == "0.001" for n, lab in mine)
    # Seldon's own labels ride along; its model_version is the image tag, hence our bundle_version.
    for _, labels in mine:
        assert {"method", "worker_id", "model_version", "model_name", "predictor_name"} <= set(labels)


def test_damaged_bundle_never_becomes_ready(serving_python: Path, bundle: BundleInfo, tmp_path: Path) -> None:
    damaged = Path(shutil.copytree(bundle.path, tmp_path / "damaged"))
    with open(damaged / "model.tflite", "r+b") as f:
        f.seek(64)
        f.write(b"\xde\xad\xbe\xef")
    proc = ServingProcess(damaged, tmp_path / "seldon.log").start()
    try:
        status = proc.wait(ready=False)
        assert status.status_code == 503
        assert "model.tflite: sha256 does not match MANIFEST" in status.json()["status"]["info"]
        answer = requests.post(
            proc.url + PREDICT,
            json={"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}]}},
            timeout=10,
        )
        assert answer.status_code == 503
        assert "model.tflite: sha256 does not match MANIFEST" in proc.log()
    finally:
        proc.stop()
