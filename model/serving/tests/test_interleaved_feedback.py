"""Feedback on interleaved answers: the clicked results' teams are credited, once per predictor."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.serving import feedback
from model.serving.combiner import RankshipInterleaver, combine
from model.serving.contract import BadRequest
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings, SettingsError
from model.serving.tests.test_combiner import ENV, C, S, answer

# a(S) b(C) d(C) c(S): the worked example of tests/model/serving/test_interleaving.py.
SHOWN = combine([answer(S, "abcd"), answer(C, "badc")], S, C)


def message(events: list[dict[str, Any]], response: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"response": response or SHOWN, "reward": 1.0, "truth": {"jsonData": {"events": events}}}


def outcome(events: list[dict[str, Any]], response: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return feedback.metrics(feedback.parse(message(events, response)))


def counted(winner: str) -> list[dict[str, Any]]:
    tags = {"stable_version": S, "canary_version": C, "winner": winner}
    return [{"type": "COUNTER", "key": "rankship_interleaving", "value": 1, "tags": tags}]


def test_clicks_credit_the_teams_and_no_version_counters_move() -> None:
    # b and d are the canary's, a the stable's: 2 against 1.
    clicks = [
        {"id": "b", "action": "click"},
        {"position": 3, "action": "click"},
        {"id": "a", "action": "click"},
    ]
    assert outcome(clicks) == counted("canary")
    assert outcome([{"position": 4, "action": "add_to_cart"}]) == counted("stable")  # c is stable's
    assert outcome([]) == counted("tie")  # an impression without clicks prefers nobody


def test_every_answer_form_carries_the_teams() -> None:
    rows = combine([answer(S, "abcd", form="data"), answer(C, "badc", form="data")], S, C)
    assert outcome([{"id": "d", "action": "click"}], rows) == counted("canary")
    text = combine([answer(S, "abcd", form="strData"), answer(C, "badc", form="strData")], S, C)
    assert outcome([{"id": "a", "action": "click"}], text) == counted("stable")


def test_an_interleaved_answer_without_teams_or_pair_is_named() -> None:
    stripped = json.loads(json.dumps(SHOWN))
    del stripped["jsonData"]["results"][2]["team"]
    with pytest.raises(BadRequest, match="interleaved response: 3 of 4 results without a team"):
        feedback.parse(message([], stripped))
    renamed = json.loads(json.dumps(SHOWN))
    renamed["jsonData"]["results"][0]["team"] = "shadow"
    with pytest.raises(BadRequest, match="result 0 without a team"):
        feedback.parse(message([], renamed))
    unpaired = json.loads(json.dumps(SHOWN))
    unpaired["meta"]["tags"]["canary_version"] = "latest"
    with pytest.raises(BadRequest, match="canary_version 'latest' is not a bundle version"):
        feedback.parse(message([], unpaired))


def _feedback_proto(events: list[dict[str, Any]]) -> prediction_pb2.Feedback:
    msg = message(events)
    return prediction_pb2.Feedback(
        response=json_to_seldon_message(msg["response"]),
        reward=1.0,
        truth=json_to_seldon_message(msg["truth"]),
    )


def test_the_combiner_counts_and_its_children_do_not() -> None:
    out = seldon_message_to_json(RankshipInterleaver(ENV).send_feedback_raw(_feedback_proto([])))
    assert out["jsonData"]["counted_for"] == "interleaved"
    # COUNTER is the proto enum's 0, which proto3 JSON leaves out.
    assert out["meta"]["metrics"] == [
        {"key": "rankship_interleaving", "value": 1.0, "tags": counted("tie")[0]["tags"]}
    ]
    child = RankshipRanker(ServingSettings(interleave_child=True))
    quiet = seldon_message_to_json(child.send_feedback_raw(_feedback_proto([{"id": "a", "action": "click"}])))
    assert quiet["jsonData"] == {"counted_for": "combiner"} and not quiet["meta"].get("metrics")


def test_bad_feedback_at_the_combiner_is_a_400_naming_the_field() -> None:
    bad = prediction_pb2.Feedback(response=json_to_seldon_message(SHOWN), reward=1.0)  # no truth
    out = seldon_message_to_json(RankshipInterleaver(ENV).send_feedback_raw(bad))
    assert out["status"]["code"] == 400 and "truth: missing" in out["status"]["info"]


def test_interleave_child_flag_is_0_or_1() -> None:
    assert ServingSettings.from_env({"RANKSHIP_INTERLEAVE_CHILD": "1"}).interleave_child
    assert not ServingSettings.from_env({}).interleave_child
    with pytest.raises(SettingsError, match="RANKSHIP_INTERLEAVE_CHILD='yes': must be 0 or 1"):
        ServingSettings.from_env({"RANKSHIP_INTERLEAVE_CHILD": "yes"})
