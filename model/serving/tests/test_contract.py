"""The request contract: the three Seldon forms and every rejection, with the reason and the message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model.serving.contract import BadRequest, RequestParser, error_body, success_body
from model.text.tokenizer import product_text

PARSER = RequestParser(max_candidates=3, max_text_chars=10)
CANDS = [{"id": "a", "title": "red shoe", "description": "mesh"}, {"id": "b", "title": "hat"}]
GOOD = {"query": "shoes", "candidates": CANDS}


def test_json_data_form() -> None:
    req = PARSER.parse({"jsonData": {**GOOD, "top_k": 1}, "meta": {"puid": "abc"}})
    assert (req.query, req.ids, req.top_k, req.form, req.puid) == ("shoes", ("a", "b"), 1, "jsonData", "abc")
    # The tokenizer reads the same product text as training does.
    assert req.texts == (product_text("red shoe", "mesh"), product_text("hat"))


def test_str_data_form_is_the_json_data_object_encoded() -> None:
    req = PARSER.parse({"strData": json.dumps(GOOD)})
    assert (req.ids, req.form) == (("a", "b"), "strData")


def test_ndarray_form_with_and_without_names() -> None:
    rows = [["shoes", "a", "red shoe", "mesh"], ["shoes", "b", "hat"]]
    req = PARSER.parse({"data": {"ndarray": rows}})
    assert (req.query, req.ids, req.form) == ("shoes", ("a", "b"), "data")
    assert req.texts == (product_text("red shoe", "mesh"), "hat")
    named = PARSER.parse(
        {"data": {"names": ["id", "title", "query"], "ndarray": [["a", "red shoe", "shoes"]]}}
    )
    assert (named.query, named.ids, named.texts) == ("shoes", ("a",), ("red shoe",))


def test_grpc_numbers_arrive_as_doubles_and_integral_top_k_is_accepted() -> None:
    assert PARSER.parse({"jsonData": {**GOOD, "top_k": 2.0}}).top_k == 2


CASES: list[tuple[Any, str, str]] = [
    ([1, 2], "wrong_type", "request must be a JSON object, got list"),
    ({}, "missing_field", "send exactly one of jsonData, strData or data (got none)"),
    ({"jsonData": GOOD, "strData": "{}"}, "missing_field", "(got jsonData, strData)"),
    ({"jsonData": GOOD, "extra": 1}, "unknown_field", "unknown top-level field 'extra'"),
    ({"binData": "AAAA"}, "unsupported_form", "unknown top-level field 'binData'"),
    ({"jsonData": GOOD, "meta": "x"}, "wrong_type", "meta must be an object, got str"),
    ({"jsonData": {"candidates": CANDS}}, "missing_field", "jsonData must contain ['query'] properties"),
    ({"jsonData": {**GOOD, "query": 5}}, "wrong_type", "jsonData.query must be string"),
    ({"jsonData": {**GOOD, "query": ""}}, "empty_text", "jsonData.query must be longer than or equal to 1"),
    ({"jsonData": {**GOOD, "colour": "red"}}, "unknown_field", "jsonData must not contain {'colour'}"),
    (
        {"jsonData": {**GOOD, "candidates": []}},
        "empty_candidates",
        "jsonData.candidates must contain at least 1",
    ),
    (
        {"jsonData": {**GOOD, "candidates": CANDS * 2}},
        "too_many_candidates",
        "must contain less than or equal to 3",
    ),
    (
        {"jsonData": {**GOOD, "candidates": [{"id": "a"}]}},
        "missing_field",
        "candidates[0] must contain ['title']",
    ),
    (
        {"jsonData": {**GOOD, "candidates": [{"id": "a", "title": None}]}},
        "wrong_type",
        "candidates[0].title must be string",
    ),
    (
        {"jsonData": {**GOOD, "candidates": [{"id": "a", "title": "x" * 11}]}},
        "text_too_long",
        "candidates[0].title must be shorter",
    ),
    (
        {"jsonData": {**GOOD, "candidates": [{"id": "", "title": "x"}]}},
        "empty_text",
        "candidates[0].id must be longer",
    ),
    (
        {"jsonData": {**GOOD, "candidates": [CANDS[0], CANDS[0]]}},
        "duplicate_id",
        "candidates[1].id 'a' repeats candidates[0].id",
    ),
    (
        {"jsonData": {**GOOD, "top_k": float("nan")}},
        "non_finite",
        "jsonData.top_k: NaN/Infinity is not allowed",
    ),
    (
        {"jsonData": {**GOOD, "top_k": float("inf")}},
        "non_finite",
        "jsonData.top_k: NaN/Infinity is not allowed",
    ),
    ({"jsonData": {**GOOD, "top_k": 0}}, "out_of_range", "jsonData.top_k must be bigger than or equal to 1"),
    ({"jsonData": {**GOOD, "top_k": True}}, "wrong_type", "jsonData.top_k must be integer"),
    ({"jsonData": {**GOOD, "top_k": 1.5}}, "wrong_type", "jsonData.top_k must be integer"),
    ({"strData": 7}, "wrong_type", "strData must be a string, got int"),
    ({"strData": "{nope"}, "invalid_json", "strData is not valid JSON: Expecting property name"),
    ({"strData": '{"query": NaN}'}, "non_finite", "strData: NaN is not valid JSON"),
    ({"strData": "[" * 100_000}, "invalid_json", "strData is nested too deeply"),
    (
        {"strData": json.dumps({"query": "q"})},
        "missing_field",
        "strData must contain ['candidates'] properties",
    ),
    ({"data": {"tensor": {"shape": [1], "values": [1]}}}, "unsupported_form", "data.tensor is not supported"),
    ({"data": {"ndarray": [[1, 2, 3]]}}, "wrong_type", "data.ndarray[0][0] must be string"),
    ({"data": {"ndarray": [["q", "a"]]}}, "wrong_columns", "data.ndarray[0] must contain at least 3"),
    (
        {"data": {"ndarray": [["q", "a", "t"], ["p", "b", "t"]]}},
        "mixed_queries",
        "rows carry 2 different queries",
    ),
    (
        {"data": {"names": ["id", "title"], "ndarray": [["a", "t", "x"]]}},
        "wrong_columns",
        "must name query, id, title",
    ),
    (
        {"data": {"names": ["query", "id", "title"], "ndarray": [["q", "a", "t", "d"]]}},
        "wrong_columns",
        "has 4 values for 3 names",
    ),
]


@pytest.mark.parametrize(
    ("message", "reason", "text"), CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)]
)
def test_bad_input_names_the_problem(message: Any, reason: str, text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        PARSER.parse(message)
    assert (caught.value.reason, caught.value.status) == (reason, 400)
    assert text in caught.value.message


def test_success_body_per_form_and_error_body() -> None:
    req = PARSER.parse({"jsonData": GOOD, "meta": {"puid": "p-1"}})
    body = success_body(req, ["b", "a"], [0.5, 0.25], "v1", "id1")
    assert body == {
        "meta": {"tags": {"model_version": "v1", "bundle_id": "id1"}, "puid": "p-1"},
        "jsonData": {
            "model_version": "v1",
            "results": [{"id": "b", "score": 0.5}, {"id": "a", "score": 0.25}],
        },
    }
    as_str = success_body(PARSER.parse({"strData": json.dumps(GOOD)}), ["a"], [1.0], "v1", "id1")
    assert json.loads(as_str["strData"]) == {"model_version": "v1", "results": [{"id": "a", "score": 1.0}]}
    rows = success_body(PARSER.parse({"data": {"ndarray": [["q", "a", "t"]]}}), ["a"], [1.0], "v1", "id1")
    assert rows["data"] == {"names": ["id", "score"], "ndarray": [["a", 1.0]]}
    err = error_body(BadRequest("duplicate_id", "boom"), "v1", "id1")
    assert err["status"] == {
        "code": 400,
        "info": "boom",
        "reason": "MICROSERVICE_BAD_DATA",
        "status": "FAILURE",
    }
    assert err["meta"]["tags"] == {"model_version": "v1", "bundle_id": "id1", "error_reason": "duplicate_id"}
    assert (
        error_body(BadRequest("not_ready", "x", 503), "v", "i")["status"]["reason"]
        == "MICROSERVICE_NOT_READY"
    )
