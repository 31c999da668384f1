"""The interleaving COMBINER on hand-made child answers (no bundle needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.serving.combiner import CombineError, RankshipInterleaver, combine
from model.serving.interleaving import request_coin

S, C = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
ENV = {"RANKSHIP_INTERLEAVE_STABLE": S, "RANKSHIP_INTERLEAVE_CANARY": C}


def answer(version: str, ranked: str, puid: str | None = "req-5", form: str = "jsonData") -> dict[str, Any]:
    scores = {cid: float(len(ranked) - i) for i, cid in enumerate(ranked)}
    meta: dict[str, Any] = {"tags": {"model_version": version, "bundle_id": version * 5}}
    if puid:
        meta["puid"] = puid
    if form == "data":
        return {
            "meta": meta,
            "data": {"names": ["id", "score"], "ndarray": [[i, s] for i, s in scores.items()]},
        }
    body = {"model_version": version, "results": [{"id": i, "score": s} for i, s in scores.items()]}
    return {"meta": meta, form: json.dumps(body) if form == "strData" else body}


def test_the_coin_of_req_5_is_stable_then_canary() -> None:
    coin = request_coin("req-5")
    assert [coin(), coin()] == [True, False]  # what the worked example below relies on


def test_worked_example_with_teams_and_each_teams_own_scores() -> None:
    # stable a b c d, canary b a d c, coin stable then canary: a(S) b(C) d(C) c(S)
    # (tests/model/serving/test_interleaving.py works it out). Children may answer in any order.
    body = combine([answer(C, "badc"), answer(S, "abcd")], S, C)
    assert body["jsonData"]["results"] == [
        {"id": "a", "score": 4.0, "team": "stable"},
        {"id": "b", "score": 4.0, "team": "canary"},
        {"id": "d", "score": 2.0, "team": "canary"},
        {"id": "c", "score": 2.0, "team": "stable"},
    ]
    assert body["meta"]["tags"] == {
        "model_version": "interleaved", "interleaving": "team-draft", "stable_version": S, "canary_version": C,
    }  # fmt: skip
    assert body["meta"]["puid"] == "req-5"


def test_a_retry_shows_the_same_list_and_without_puid_too() -> None:
    first = combine([answer(S, "abcdefgh", None), answer(C, "hgfedcba", None)], S, C)
    again = combine([answer(C, "hgfedcba", None), answer(S, "abcdefgh", None)], S, C)
    assert first == again and "puid" not in first["meta"]


@pytest.mark.parametrize("form", ["strData", "data"])
def test_answers_in_the_childrens_form(form: str) -> None:
    body = combine([answer(S, "abcd", form=form), answer(C, "badc", form=form)], S, C)
    if form == "data":
        assert body["data"]["names"] == ["id", "score", "team"]
        assert [r[2] for r in body["data"]["ndarray"]] == ["stable", "canary", "canary", "stable"]
    else:
        assert [r["team"] for r in json.loads(body["strData"])["results"]] == [
            "stable", "canary", "canary", "stable",
        ]  # fmt: skip


def test_a_child_of_another_version_is_named() -> None:
    with pytest.raises(CombineError, match="no child answered as version bbbbbbbbbbbb"):
        combine([answer(S, "ab"), answer("cccccccccccc", "ab")], S, C)
    with pytest.raises(CombineError, match="expected the answers of 2 children"):
        combine([answer(S, "ab")], S, C)


def test_rest_and_grpc_hooks() -> None:
    interleaver = RankshipInterleaver(ENV)
    rest = interleaver.aggregate_raw({"seldonMessages": [answer(S, "abcd"), answer(C, "badc")]})
    assert isinstance(rest, dict)
    proto = prediction_pb2.SeldonMessageList(
        seldonMessages=[json_to_seldon_message(answer(S, "abcd")), json_to_seldon_message(answer(C, "badc"))]
    )
    out = interleaver.aggregate_raw(proto)
    assert isinstance(out, prediction_pb2.SeldonMessage)
    assert seldon_message_to_json(out)["jsonData"]["results"] == rest["jsonData"]["results"]


def test_an_unreadable_child_answer_is_a_500_with_the_reason() -> None:
    broken = {"meta": {"tags": {"model_version": C}}, "jsonData": {"oops": 1}}
    with pytest.raises(SeldonMicroserviceException) as caught:
        RankshipInterleaver(ENV).aggregate_raw({"seldonMessages": [answer(S, "ab"), broken]})
    assert caught.value.status_code == 500
    assert "child answer 1 (bbbbbbbbbbbb): jsonData.results missing" in caught.value.message


def test_needs_both_versions() -> None:
    with pytest.raises(ValueError, match="RANKSHIP_INTERLEAVE_STABLE and RANKSHIP_INTERLEAVE_CANARY"):
        RankshipInterleaver({"RANKSHIP_INTERLEAVE_STABLE": S})
