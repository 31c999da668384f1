"""The REST fast path answers exactly as Seldon's Flask route does, and steps aside for anything else.

Two real Seldon apps (`seldon_core.wrapper.get_rest_microservice`) on the same bundle, one with the fast path
(the default), one with RANKSHIP_REST_FAST_PATH=0; every request goes to both and the answers must agree
byte for byte (the Server-Timing header aside). A counter on the Flask side of the fast one says which
requests took the fast path.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from seldon_core import wrapper
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.metrics import SeldonMetrics

from model.release.bundle import BundleInfo
from model.serving.bench_load import server_timing
from model.serving.rest_fastpath import FastPredict
from model.serving.seldon_model import RankshipRanker

from .conftest import make_ranker

PREDICT = "/api/v1.0/predictions"
JSON = "application/json"
CANDS = [{"id": "a", "title": "red shoe"}, {"id": "b", "title": "blue running shoe", "description": "light"}]
GOOD = {"jsonData": {"query": "running shoes", "candidates": CANDS, "top_k": 1}}


@pytest.fixture(scope="module")
def metrics() -> Iterator[SeldonMetrics]:
    seldon_metrics = SeldonMetrics()
    yield seldon_metrics
    seldon_metrics._manager.shutdown()


class Counting:
    """Wraps the Flask side of a FastPredict and counts the requests that reach it."""

    def __init__(self, fast: FastPredict) -> None:
        self.calls, self.inner = 0, fast.inner
        fast.inner = self

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.calls += 1
        return self.inner(environ, start_response)


def _app(ranker: RankshipRanker, metrics: SeldonMetrics) -> Any:
    return wrapper.get_rest_microservice(ranker, metrics)


@pytest.fixture(scope="module")
def pair(bundle: BundleInfo, metrics: SeldonMetrics) -> tuple[Any, Any, Counting]:
    fast_app = _app(make_ranker(bundle.path, max_request_bytes=4000), metrics)
    slow_app = _app(make_ranker(bundle.path, max_request_bytes=4000, rest_fast_path=False), metrics)
    assert isinstance(fast_app.wsgi_app, FastPredict)
    return fast_app.test_client(), slow_app.test_client(), Counting(fast_app.wsgi_app)


def _answer(response: Any) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers; the only differences allowed are timings (Server-Timing, TIMER values)."""
    headers = {k: v for k, v in response.headers.items() if k != "Server-Timing"}
    body = response.data
    assert int(headers.pop("Content-Length")) == len(body)
    if b'"TIMER"' in body:  # Seldon echoes the metrics unless INCLUDE_METRICS_IN_CLIENT_RESPONSE=false
        parsed = json.loads(body)
        for metric in parsed["meta"]["metrics"]:
            if metric["type"] == "TIMER":
                metric["value"] = "elapsed"
        body = json.dumps(parsed).encode()
    return response.status_code, body, headers


CASES = [
    # (id, post kwargs, takes the fast path)
    ("jsonData", {"json": GOOD}, True),
    ("strData", {"json": {"strData": '{"query": "shoe", "candidates": [{"id": "x", "title": "shoe"}]}'}}, True),
    ("ndarray", {"json": {"data": {"names": ["query", "id", "title"], "ndarray": [["q", "p", "t"]]}}}, True),
    ("contract 400", {"json": {"jsonData": {"query": "q", "candidates": []}}}, True),
    ("charset", {"data": b'{"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}]}}',
                 "content_type": "application/json; charset=utf-8"}, True),
    ("NaN", {"data": b'{"jsonData": NaN}', "content_type": JSON}, False),
    ("not utf-8", {"data": b'{"strData": "\xff"}', "content_type": JSON}, False),
    ("not json", {"data": b'{"jsonData": ', "content_type": JSON}, False),
    ("array", {"data": b"[1]", "content_type": JSON}, False),
    ("empty", {"data": b"", "content_type": JSON}, False),
    ("too large", {"data": b'{"x": "' + b"a" * 5000 + b'"}', "content_type": JSON}, False),
    ("text/plain", {"data": b'{"jsonData": {}}', "content_type": "text/plain"}, False),
    ("form field", {"data": {"json": '{"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}]}}'}},
     False),
    ("multipart", {"data": {"strData": (b"\xfe\xff", "x.bin")}, "content_type": "multipart/form-data"}, False),
    ("query string", {"json": GOOD, "query_string": {"x": "1"}}, False),
    ("browser CORS", {"json": GOOD, "headers": {"Origin": "https://shop.example"}}, False),
]  # fmt: skip


def _fresh(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A copy whose file parts are new streams (the test client reads and closes them)."""
    data = kwargs.get("data")
    if isinstance(data, dict):
        data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
        return {**kwargs, "data": data}
    return kwargs


@pytest.mark.parametrize(("kwargs", "fast"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_answer_as_flask(pair: tuple[Any, Any, Counting], kwargs: dict[str, Any], fast: bool) -> None:
    fast_client, slow_client, flask_side = pair
    before = flask_side.calls
    got = fast_client.post(PREDICT, **_fresh(kwargs))
    assert flask_side.calls - before == (0 if fast else 1)
    assert _answer(got) == _answer(slow_client.post(PREDICT, **_fresh(kwargs)))


def test_the_answer_is_ranked_and_versioned(pair: tuple[Any, Any, Counting]) -> None:
    body = pair[0].post(PREDICT, json=GOOD).get_json()
    assert len(body["jsonData"]["results"]) == 1  # top_k
    assert body["meta"]["tags"]["model_version"] == body["jsonData"]["model_version"]


def _timing(response: Any) -> dict[str, float]:
    return server_timing(response.headers["Server-Timing"])


def test_server_timing_names_the_model_and_the_app(pair: tuple[Any, Any, Counting]) -> None:
    for client, route in zip(pair[:2], ('desc="fast path"', 'desc="flask"'), strict=True):
        response = client.post(PREDICT, json=GOOD)
        assert response.headers["Server-Timing"].endswith(route)
        timing = _timing(response)
        assert set(timing) == {"predict", "app"}
        assert 0 < timing["predict"] <= timing["app"]
        # Refused before the model ran: no model time, and not the previous request's.
        rejected = client.post(PREDICT, data=b"{}", content_type="text/plain")
        assert rejected.status_code == 415
        assert set(_timing(rejected)) == {"app"}


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (RuntimeError("the model produced a non-finite score"), 500, b"MICROSERVICE_INTERNAL_ERROR"),
        (SeldonMicroserviceException("overloaded", status_code=503, reason="BUSY"), 503, b"BUSY"),
    ],
    ids=["model bug", "seldon error"],
)
def test_an_exception_is_answered_as_seldon_answers_it(
    bundle: BundleInfo, metrics: SeldonMetrics, error: Exception, status: int, reason: bytes
) -> None:
    answers, flask_calls = [], []
    for on in (True, False):
        ranker = make_ranker(bundle.path, rest_fast_path=on)

        def broken(request: Any) -> Any:
            raise error

        ranker.rank = broken  # type: ignore[method-assign]
        app = _app(ranker, metrics)
        flask_side = Counting(app.wsgi_app)
        answers.append(_answer(app.test_client().post(PREDICT, json=GOOD)))
        flask_calls.append(flask_side.calls)
    assert flask_calls == [0, 1]  # the fast path answered the first
    assert answers[0] == answers[1]
    assert answers[0][0] == status
    assert reason in answers[0][1] and str(error).encode() in answers[0][1]


def test_off_when_the_app_has_hooks_it_does_not_know(bundle: BundleInfo, metrics: SeldonMetrics) -> None:
    app = _app(make_ranker(bundle.path), metrics)
    seen: list[str] = []
    app.before_request(lambda: seen.append("traced") and None)  # as flask-opentracing does with --tracing
    flask_side = Counting(app.wsgi_app)
    response = app.test_client().post(PREDICT, json=GOOD)
    assert response.status_code == 200
    assert (flask_side.calls, seen) == (1, ["traced"])


def test_off_by_setting(bundle: BundleInfo, metrics: SeldonMetrics) -> None:
    app = _app(make_ranker(bundle.path, rest_fast_path=False), metrics)
    flask_side = Counting(app.wsgi_app)
    assert app.test_client().post(PREDICT, json=GOOD).status_code == 200
    assert flask_side.calls == 1


def test_off_when_seldon_passes_payloads_through(
    bundle: BundleInfo, metrics: SeldonMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wrapper, "PAYLOAD_PASSTHROUGH", True)
    app = _app(make_ranker(bundle.path), metrics)
    flask_side = Counting(app.wsgi_app)
    app.test_client().post(PREDICT, json=GOOD)
    assert flask_side.calls == 1


def _environ(**extra: str) -> dict[str, Any]:
    base = {"REQUEST_METHOD": "POST", "PATH_INFO": PREDICT, "CONTENT_TYPE": JSON, "CONTENT_LENGTH": "10"}
    return {**base, **extra}


@pytest.mark.parametrize(
    ("extra", "length"),
    [
        ({}, 10),
        ({"PATH_INFO": "/api/v0.1/predictions"}, 10),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, -1),  # gunicorn passes Content-Length along with it
        ({"CONTENT_LENGTH": "1²"}, -1),  # "²".isdigit() is True, int("²") fails
        ({"CONTENT_LENGTH": "0"}, -1),
        ({"CONTENT_LENGTH": "4001"}, -1),  # over max_request_bytes: Flask answers 413
        ({"REQUEST_METHOD": "GET"}, -1),
        ({"PATH_INFO": "/api/v1.0/feedback"}, -1),
    ],
)
def test_which_requests_may_take_the_fast_path(
    pair: tuple[Any, Any, Counting], extra: dict[str, str], length: int
) -> None:
    fast: FastPredict = pair[0].application.wsgi_app
    assert fast._eligible(_environ(**extra)) == length
