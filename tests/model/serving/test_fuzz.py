"""Property-based fuzz over HTTP: >= 500 malformed requests, every one a 4xx, and the server unharmed.

Three families: arbitrary bytes, arbitrary JSON (NaN and Infinity included), and a valid request with
one mutation drawn from a list of mutations that each make it invalid (so 200 is a failure too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model.serving.serving_process import ServingProcess

pytestmark = pytest.mark.e2e
PREDICT = "/api/v1.0/predictions"
EXAMPLES = 600
MAX_CANDIDATES, MAX_CHARS = 50, 200  # the `server` fixture's limits

short_text = st.text(min_size=1, max_size=20)
not_a_string = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=2)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)


@st.composite
def valid_request(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(short_text, min_size=1, max_size=5, unique=True))
    return {
        "query": draw(short_text),
        "candidates": [{"id": i, "title": draw(st.text(max_size=30))} for i in ids],
    }


def _set(path: list[Any], value: st.SearchStrategy[Any]) -> Callable[[st.DrawFn, dict[str, Any]], Any]:
    """Set req[path] to a drawn value; path items may be strategies (random unknown keys)."""

    def mutate(draw: st.DrawFn, req: dict[str, Any]) -> Any:
        keys = [draw(k) if isinstance(k, st.SearchStrategy) else k for k in path]
        target = req
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = draw(value)
        return {"jsonData": req}

    return mutate


def _drop(key: str) -> Callable[[st.DrawFn, dict[str, Any]], Any]:
    return lambda draw, req: {"jsonData": {k: v for k, v in req.items() if k != key}}


def _duplicate_id(draw: st.DrawFn, req: dict[str, Any]) -> Any:
    req["candidates"].append(dict(req["candidates"][0]))
    return {"jsonData": req}


def _mixed_rows(draw: st.DrawFn, req: dict[str, Any]) -> Any:
    rows = [[req["query"], c["id"], c["title"]] for c in req["candidates"]]
    rows.append([req["query"] + "x", "other-id", "t"])
    return {"data": {"ndarray": rows}}


too_long = st.text(min_size=MAX_CHARS + 1, max_size=MAX_CHARS + 5)
MUTATIONS: list[Callable[[st.DrawFn, dict[str, Any]], Any]] = [
    _drop("query"),
    _drop("candidates"),
    _set(["query"], not_a_string),
    _set(["query"], too_long),
    _set(["candidates"], st.just([])),
    _set(
        ["candidates"],
        st.lists(
            st.just({"id": "x", "title": "t"}), min_size=MAX_CANDIDATES + 1, max_size=MAX_CANDIDATES + 3
        ),
    ),
    _set(["candidates"], not_a_string),
    _set(["candidates", 0, "id"], not_a_string),
    _set(["candidates", 0, "id"], st.just("")),
    _set(["candidates", 0, "title"], not_a_string | too_long),
    _set(["candidates", 0, "description"], not_a_string | too_long),
    _set(
        ["candidates", 0, st.text(min_size=1).filter(lambda k: k not in ("id", "title", "description"))],
        json_values,
    ),
    _set(
        ["top_k"],
        st.integers(max_value=0)
        | st.floats().filter(lambda f: not f.is_integer())
        | st.text()
        | st.booleans(),
    ),
    _set([st.text(min_size=1).filter(lambda k: k not in ("query", "candidates", "top_k"))], json_values),
    _duplicate_id,
    _mixed_rows,
    lambda draw, req: {"jsonData": req, draw(st.sampled_from(["strData", "data", "binData", "extra"])): "x"},
    lambda draw, req: {"strData": json.dumps(req)[: draw(st.integers(0, 8))]},
    lambda draw, req: {"data": {"ndarray": [[draw(json_values)]]}},
]


@st.composite
def mutated_body(draw: st.DrawFn) -> bytes:
    mutation = MUTATIONS[draw(st.integers(0, len(MUTATIONS) - 1))]
    body = json.dumps(mutation(draw, draw(valid_request())), allow_nan=True).encode()
    if draw(st.booleans()) and b'"' in body:  # and sometimes break the UTF-8 inside a string
        at = body.index(b'"') + 1
        body = body[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + body[at:]
    return body


bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()), mutated_body())


def test_malformed_requests_get_4xx_and_the_server_survives(
    server: ServingProcess, golden: dict[str, Any]
) -> None:
    session = requests.Session()
    good = {"jsonData": golden["requests"][0]["request"]}
    assert session.post(server.url + PREDICT, json=good, timeout=10).status_code == 200
    before = server.pids()
    seen: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def one(body: bytes) -> None:
        response = session.post(
            server.url + PREDICT, data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        seen.append(response.status_code)
        assert 400 <= response.status_code < 500, (body[:200], response.status_code, response.text[:300])
        assert response.json()["status"]["info"]  # a message naming the problem

    one()
    assert len(seen) >= 500
    assert server.pids() == before  # no worker died and was replaced
    assert session.post(server.url + PREDICT, json=good, timeout=10).status_code == 200
    assert requests.get(f"{server.url}/health/status", timeout=5).status_code == 200
