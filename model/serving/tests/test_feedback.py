"""Feedback parsing and its counters, worked out by hand; then the Seldon hook in-process (fixture bundle)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.serving import feedback
from model.serving.contract import BadRequest
from model.serving.seldon_model import RankshipRanker

A = "aaaaaaaaaaaa"  # the answer's version, not the receiver's


def _answer(ids: list[str], version: str = A) -> dict[str, Any]:
    return {
        "meta": {"tags": {"model_version": version, "bundle_id": version + "0" * 52}},
        "jsonData": {"model_version": version, "results": [{"id": i, "score": 1.0} for i in ids]},
    }


def _message(events: list[dict[str, Any]], ids: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"response": _answer(ids or ["p1", "p2", "p3", "p4"]), "reward": 1.0,
            "truth": {"jsonData": {"events": events}}, **extra}  # fmt: skip


def _by_key(metrics: list[dict[str, Any]]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(m["key"], tuple(sorted(m["tags"].items()))): m["value"] for m in metrics}


def test_counts_under_the_answers_version_with_position_and_reciprocal_rank() -> None:
    parsed = feedback.parse(
        _message([{"id": "p3", "action": "click"}, {"position": 4, "action": "add_to_cart"}])
    )
    assert parsed.version == A and parsed.shown == ("p1", "p2", "p3", "p4")
    assert [(e.id, e.position, e.action) for e in parsed.events] == [
        ("p3", 3, "click"),
        ("p4", 4, "add_to_cart"),
    ]
    got = _by_key(feedback.metrics(parsed))
    v = (("bundle_version", A),)
    # Best position acted on is 3: reciprocal rank 1/3, squared 1/9.
    assert got == {
        ("rankship_feedback", v): 1,
        ("rankship_feedback_clicked", v): 1,
        ("rankship_feedback_reciprocal_rank", v): pytest.approx(1 / 3),
        ("rankship_feedback_reciprocal_rank_squared", v): pytest.approx(1 / 9),
        ("rankship_clicks", (("action", "click"), ("bundle_version", A), ("position_bucket", "3"))): 1,
        (
            "rankship_clicks",
            (("action", "add_to_cart"), ("bundle_version", A), ("position_bucket", "4-5")),
        ): 1,
    }


def test_an_impression_without_events_counts_only_the_impression() -> None:
    got = feedback.metrics(feedback.parse(_message([], reward=0)))
    assert got == [{"type": "COUNTER", "key": "rankship_feedback", "value": 1, "tags": {"bundle_version": A}}]


@pytest.mark.parametrize(
    ("position", "bucket"), [(1, "1"), (2, "2"), (3, "3"), (4, "4-5"), (5, "4-5"), (6, "6-10"), (10, "6-10"),
                             (11, "11-20"), (20, "11-20"), (21, "21+"), (500, "21+")],
)  # fmt: skip
def test_position_buckets(position: int, bucket: str) -> None:
    assert feedback.position_bucket(position) == bucket


def test_every_answer_form_and_str_truth() -> None:
    ids = ["x", "y"]
    as_str = {"meta": _answer(ids)["meta"], "strData": json.dumps(_answer(ids)["jsonData"])}
    as_rows = {
        "meta": _answer(ids)["meta"],
        "data": {"names": ["id", "score"], "ndarray": [["x", 2.0], ["y", 1.0]]},
    }
    truth = {"strData": json.dumps({"events": [{"id": "y", "position": 2.0, "action": "purchase"}]})}
    for response in (as_str, as_rows):
        parsed = feedback.parse({"response": response, "truth": truth})
        assert parsed.shown == ("x", "y") and parsed.events[0].position == 2 and parsed.reward == 0.0


@pytest.mark.parametrize(
    ("message", "reason", "names"),
    [
        ({"truth": {"jsonData": {"events": []}}}, "missing_field", "response: missing"),
        ({"response": {"jsonData": {"results": []}}, "truth": {"jsonData": {"events": []}}}, "missing_field",
         "response.meta.tags.model_version"),
        ({"response": _answer(["a"], version="canary"), "truth": {"jsonData": {"events": []}}}, "invalid",
         "response.meta.tags.model_version 'canary'"),
        ({"response": _answer(["a"])}, "missing_field", "truth: missing"),
        ({"response": _answer(["a"]), "truth": {"jsonData": {"clicks": []}}}, "missing_field",
         "truth.jsonData.events"),
        (_message([{"id": "zz", "action": "click"}]), "invalid", "events[0].id 'zz' is not among"),
        (_message([{"position": 9, "action": "click"}]), "out_of_range", "events[0].position 9"),
        (_message([{"id": "p1", "position": 2, "action": "click"}]), "invalid", "id 'p1' was shown at 1"),
        (_message([{"id": "p1", "action": "like"}]), "invalid", "events[0].action 'like'"),
        (_message([{"action": "click"}]), "missing_field", "events[0]: name the result"),
        (_message([{"id": "p1", "action": "click", "when": 3}]), "unknown_field", "events[0]: unknown field 'when'"),
        (_message([{"id": "p1", "action": "click"}, {"position": 1, "action": "click"}]), "duplicate_id",
         "events[1] repeats events[0]"),
        (_message([], reward="1"), "wrong_type", "reward must be a number"),
        (_message([], reward=float("nan")), "non_finite", "reward: NaN"),
        ({"response": {**_answer(["a"]), "jsonData": {"results": [{"score": 1}]}},
          "truth": {"jsonData": {"events": []}}}, "invalid", "response.jsonData is not a ranking answer"),
    ],
)  # fmt: skip
def test_bad_feedback_names_the_field(message: dict[str, Any], reason: str, names: str) -> None:
    with pytest.raises(BadRequest) as caught:
        feedback.parse(message)
    assert caught.value.reason == reason and caught.value.status == 400
    assert names in caught.value.message


def test_rejections_are_labelled_with_the_receiver() -> None:
    got = feedback.rejected_metrics("bbbbbbbbbbbb", {"invalid": 2, "wrong_type": 0})
    assert got == [{"type": "COUNTER", "key": "rankship_feedback_rejected", "value": 2,
                    "tags": {"bundle_version": "bbbbbbbbbbbb", "reason": "invalid"}}]  # fmt: skip


def test_another_comparison_plugs_in_without_changing_these_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    def wins(fb: feedback.Feedback) -> list[dict[str, Any]]:
        return [{"type": "COUNTER", "key": "other", "value": 1, "tags": {"team": fb.tags.get("team", "")}}]

    monkeypatch.setattr(feedback, "METRIC_BUILDERS", [*feedback.METRIC_BUILDERS, wins])
    message = _message([])
    message["response"]["meta"]["tags"]["team"] = "canary"
    keys = [m["key"] for m in feedback.metrics(feedback.parse(message))]
    assert keys == ["rankship_feedback", "other"]


# -- the Seldon hook, in-process (needs the fixture bundle) ---------------------------------------------
def test_feedback_on_another_versions_answer_is_counted_for_that_version(
    ranker: RankshipRanker, golden: dict[str, Any]
) -> None:
    request = {"jsonData": golden["requests"][0]["request"]}
    answer = ranker.predict_raw(request)
    answer.pop("meta")["metrics"] = []
    other = {**answer, "meta": {"tags": {"model_version": A, "bundle_id": A + "0" * 52}}}
    assert ranker.version != A
    top = answer["jsonData"]["results"][0]["id"]
    message = {"request": request, "response": other, "reward": 1.0,
               "truth": {"jsonData": {"events": [{"id": top, "action": "click"}]}}}  # fmt: skip
    proto = json_format.ParseDict(message, prediction_pb2.Feedback())
    out = seldon_message_to_json(ranker.send_feedback_raw(proto))
    assert out["meta"]["tags"]["feedback_version"] == A
    assert out["meta"]["tags"]["model_version"] == ranker.version  # who answered, for the logs
    counted = {m["key"]: m for m in out["meta"]["metrics"]}
    assert counted["rankship_feedback"]["tags"] == {"bundle_version": A}
    assert counted["rankship_feedback_reciprocal_rank"]["value"] == 1.0
    assert counted["rankship_clicks"]["tags"] == {
        "bundle_version": A,
        "position_bucket": "1",
        "action": "click",
    }
    assert json_to_seldon_message(out).status.status == 0


def test_bad_feedback_is_a_400_status_counted_for_the_receiver(ranker: RankshipRanker) -> None:
    proto = json_format.ParseDict({"response": {"jsonData": {"results": []}}}, prediction_pb2.Feedback())
    out = seldon_message_to_json(ranker.send_feedback_raw(proto))
    assert out["status"]["code"] == 400 and "response.meta.tags.model_version" in out["status"]["info"]
    assert out["meta"]["metrics"][0]["key"] == "rankship_feedback_rejected"
    assert out["meta"]["metrics"][0]["tags"] == {"bundle_version": ranker.version, "reason": "missing_field"}
