"""Bad input that Seldon's own REST/gRPC layers see first still gets a 4xx / INVALID_ARGUMENT, in-process.

REST goes through Seldon's real Flask app (`seldon_core.wrapper.get_rest_microservice`) with Flask's
test client; gRPC through Seldon's real servicer with a recording context.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from seldon_core import wrapper
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.release.bundle import BundleInfo
from model.serving import grpc_status, metrics_batch
from model.serving.seldon_model import RankshipRanker

from .conftest import make_ranker

PREDICT = "/api/v1.0/predictions"
GOOD = {"jsonData": {"query": "shoes", "candidates": [{"id": "a", "title": "red shoe"}]}}


@pytest.fixture(scope="module")
def metrics() -> Iterator[SeldonMetrics]:
    seldon_metrics = SeldonMetrics()  # starts a multiprocessing Manager, as the microservice does
    yield seldon_metrics
    seldon_metrics._manager.shutdown()


@pytest.fixture(scope="module")
def served(bundle: BundleInfo) -> RankshipRanker:
    return make_ranker(bundle.path, max_request_bytes=2000)


@pytest.fixture(scope="module")
def client(served: RankshipRanker, metrics: SeldonMetrics) -> Any:
    return wrapper.get_rest_microservice(served, metrics).test_client()


def _status(response: Any) -> tuple[int, str, str]:
    body = response.get_json()
    return response.status_code, body["meta"]["tags"]["error_reason"], body["status"]["info"]


JSON = "application/json"
MULTIPART = "multipart/form-data"
REST_CASES = [
    # (id, post kwargs, HTTP status, reason, text in the message)
    ("json", {"data": b'{"jsonData": ', "content_type": JSON}, 400, "invalid_json",
     "request body is not valid JSON: Expecting value: line 1 column 14"),
    ("utf8", {"data": b'{"strData": "\xff"}', "content_type": JSON}, 400, "not_utf8",
     "request body is not valid UTF-8 (byte 0xff at offset 13)"),
    ("size", {"data": b"[" * 50_000 + b"]" * 50_000, "content_type": JSON}, 413, "too_large",
     "request body is 100000 bytes; the limit is 2000"),
    ("depth", {"data": b"[" * 1500, "content_type": JSON}, 400, "invalid_json",
     "request body is nested too deeply"),
    ("null", {"data": b"null", "content_type": JSON}, 400, "wrong_type",
     "request body must be a JSON object, got null"),
    ("empty", {"data": b"", "content_type": JSON}, 400, "missing_field", "request body is empty"),
    ("ctype", {"data": b'{"jsonData": {}}', "content_type": "text/plain"}, 415, "wrong_content_type",
     "Content-Type must be application/json, got text/plain"),
    ("json-param", {"data": {"json": "{oops"}}, 400, "invalid_json", "the json parameter is not valid JSON"),
    ("json-param-nan", {"data": {"json": '{"jsonData": NaN}'}}, 400, "non_finite",
     "jsonData: NaN/Infinity is not allowed"),
    ("multipart-json", {"data": {"jsonData": "{oops"}, "content_type": MULTIPART}, 400, "invalid_json",
     "request is not valid JSON"),
    ("multipart-utf8", {"data": {"strData": (io.BytesIO(b"\xfe\xff"), "x.bin")}, "content_type": MULTIPART},
     400, "not_utf8", "request is not valid UTF-8"),
    ("contract", {"json": {"jsonData": {"query": "q", "candidates": []}}}, 400, "empty_candidates",
     "jsonData.candidates must contain at least 1 items"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "code", "reason", "text"), [c[1:] for c in REST_CASES], ids=[c[0] for c in REST_CASES]
)
def test_rest_bad_input_is_4xx_naming_the_problem(
    client: Any, kwargs: dict[str, Any], code: int, reason: str, text: str
) -> None:
    got_code, got_reason, info = _status(client.post(PREDICT, **kwargs))
    assert (got_code, got_reason) == (code, reason)
    assert text in info


def test_rest_unknown_route_and_method_keep_their_status(client: Any) -> None:
    assert client.get("/nope").status_code == 404
    assert client.put(PREDICT, json=GOOD).status_code == 405


def test_rejections_before_the_model_are_counted_with_the_next_prediction(
    client: Any, served: RankshipRanker, metrics: SeldonMetrics
) -> None:
    client.post(PREDICT, data=b"\xff", content_type="application/json")
    client.post(PREDICT, data=b"{", content_type="application/json")
    assert client.post(PREDICT, json=GOOD).status_code == 200
    metrics_batch.flush()  # Seldon's metrics are written off the request path (model/serving/metrics_batch.py)
    counted = {
        (key, tags.get("reason", "")): entry["value"]
        for (_, key, _), entry in metrics.data[next(iter(metrics.data))].items()
        for tags in [entry["tags"]]
    }
    assert counted[("rankship_errors", "not_utf8")] >= 1
    assert counted[("rankship_errors", "invalid_json")] >= 1


def test_rest_good_request_after_bad_ones(client: Any, served: RankshipRanker) -> None:
    client.post(PREDICT, data=b"\xff", content_type="application/json")
    response = client.post(PREDICT, json=GOOD)
    assert response.status_code == 200
    assert response.get_json()["jsonData"]["model_version"] == served.version


class _Aborted(Exception):
    pass


class _Context:
    """The parts of grpc.ServicerContext that Seldon's servicer and grpc_status use."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.trailing: tuple[tuple[str, str], ...] = ()

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailing = metadata

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details
        raise _Aborted(details)


@pytest.fixture(scope="module")
def servicer(served: RankshipRanker, metrics: SeldonMetrics) -> Any:
    grpc_status.install()  # idempotent; importing the model module already did it
    return wrapper.SeldonModelGRPC(served, metrics)


def test_grpc_bad_input_is_invalid_argument(servicer: Any, served: RankshipRanker) -> None:
    context = _Context()
    with pytest.raises(_Aborted):
        servicer.Predict(json_to_seldon_message({"jsonData": {"query": "q"}}), context)
    assert (context.code, context.details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "jsonData must contain ['candidates'] properties",
    )
    assert dict(context.trailing) == {
        "rankship-error-reason": "missing_field",
        "rankship-model-version": served.version,
    }


def test_grpc_undecodable_bytes_are_invalid_argument(servicer: Any) -> None:
    raw = prediction_pb2.SeldonMessage(strData="abc").SerializeToString().replace(b"abc", b"a\xffc")
    message = grpc_status.decode_request(raw)  # what the patched deserializer hands Seldon
    context = _Context()
    with pytest.raises(_Aborted):
        servicer.Predict(message, context)
    assert context.code == grpc.StatusCode.INVALID_ARGUMENT
    assert context.details.startswith("request is not a valid SeldonMessage")


def test_grpc_good_request_is_answered(servicer: Any, served: RankshipRanker) -> None:
    answer = servicer.Predict(json_to_seldon_message(GOOD), _Context())
    assert answer.meta.tags["model_version"].string_value == served.version
    assert seldon_message_to_json(answer)["jsonData"]["results"][0]["id"] == "a"


def test_grpc_status_codes() -> None:
    assert grpc_status.grpc_code(400) == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_status.grpc_code(413) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_status.grpc_code(503) == grpc.StatusCode.UNAVAILABLE
