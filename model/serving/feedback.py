"""User feedback on a ranked answer (Seldon `POST /api/v1.0/feedback`), turned into online-quality counters.

A feedback message is Seldon's `Feedback` (JSON form shown; gRPC `seldon.protos.Model/SendFeedback` is the
same message):

    {"request":  <the prediction request, optional>,
     "response": <the prediction's answer, unchanged: it carries meta.tags.model_version>,
     "reward":   <a number; Seldon records it in its own seldon_api_model_feedback_reward_total>,
     "truth":    {"jsonData": {"events": [{"id": "p3", "position": 1, "action": "click"}]}}}

`events` are what the user did with the shown list (the answer's results, in order): each names the
result by `id` or by 1-based `position` (or both, which must agree) and an `action` from `ACTIONS`;
`[]` is an impression the user did not act on. `truth` may also be `strData` (that object as a string).

**Attribution is by the answer, not by the receiver.** Istio splits `/feedback` by the same weights as
predictions and the executor sends it to every MODEL node of the predictor it lands on, so feedback on
version A's answer often reaches version B's process. Every counter is therefore labelled with the
`bundle_version` the echoed answer names (`response.meta.tags.model_version`); Prometheus sums them over
pods, whichever pod received them.

Counters per `bundle_version` (`method="feedback"` is added by Seldon):

    rankship_feedback_total                         impressions with feedback (one per message)
    rankship_feedback_clicked_total                 of those, impressions with at least one event
    rankship_clicks_total{position_bucket,action}   events by 1-based position bucket (POSITION_BUCKETS)
    rankship_feedback_reciprocal_rank_total         sum of 1/p, p = best position acted on (0 when none)
    rankship_feedback_reciprocal_rank_squared_total sum of (1/p)^2 (the variance of MRR, for its test)
    rankship_feedback_rejected_total{reason}        bad feedback (labelled with the receiver's version)

CTR = clicked / feedback; MRR of the click = reciprocal_rank / feedback. Further comparisons (e.g.
interleaving) add a builder to `METRIC_BUILDERS`: each maps a parsed `Feedback` to its own metrics, so
these counters never change for them.

**Interleaved answers** (the interleaving predictor's, `model/serving/combiner.py`) name no bundle:
`meta.tags` are `model_version: "interleaved"`, `interleaving: "team-draft"`, `stable_version`,
`canary_version`, and every result carries its `team`. Their feedback credits the clicked results' teams
(`interleaving.credit`) into `rankship_interleaving_total{stable_version, canary_version, winner}` and
leaves the per-version counters above alone: an interleaved impression is neither version's list.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from model.serving import interleaving, telemetry
from model.serving.contract import BadRequest

ACTIONS = ("click", "add_to_cart", "purchase")
# Upper bounds of the position buckets; label "1", "2", "3", "4-5", "6-10", "11-20", "21+".
POSITION_BUCKETS = (1, 2, 3, 5, 10, 20)
VERSION = re.compile(r"[0-9a-f]{12}")  # bundle.version_of: bounded label values, not free text

FEEDBACK = "rankship_feedback"
CLICKED = "rankship_feedback_clicked"
CLICKS = "rankship_clicks"
RECIPROCAL_RANK = "rankship_feedback_reciprocal_rank"
RECIPROCAL_RANK_SQUARED = "rankship_feedback_reciprocal_rank_squared"
REJECTED = "rankship_feedback_rejected"

Metric = dict[str, Any]


@dataclass(frozen=True)
class Event:
    id: str
    position: int  # 1-based, in the answer's results
    action: str


@dataclass(frozen=True)
class Feedback:
    version: str  # the bundle version that produced the answer (meta.tags.model_version)
    shown: tuple[str, ...]  # the answer's result ids, in the order shown
    events: tuple[Event, ...]
    reward: float
    tags: Mapping[str, Any]  # the answer's meta.tags, for builders that need more (e.g. interleaving teams)
    teams: tuple[str, ...] = ()  # interleaved answers: the team of each shown result, in order

    @property
    def interleaved(self) -> bool:
        return self.version == interleaving.INTERLEAVED_VERSION

    @property
    def best_position(self) -> int | None:
        return min((e.position for e in self.events), default=None)


def position_bucket(position: int) -> str:
    low = 1
    for high in POSITION_BUCKETS:
        if position <= high:
            return str(high) if low == high else f"{low}-{high}"
        low = high + 1
    return f"{low}+"


def parse(message: Any) -> Feedback:
    """A Feedback message (JSON form) -> Feedback. Raises BadRequest naming the field."""
    if not isinstance(message, dict):
        raise BadRequest("wrong_type", f"feedback must be a JSON object, got {_kind(message)}")
    response = message.get("response")
    if not response:
        raise BadRequest("missing_field", "response: missing; echo the prediction's answer unchanged")
    version, tags = _version(response)
    shown, teams = _shown_ids(response)
    if version == interleaving.INTERLEAVED_VERSION:
        _check_interleaved(tags, teams, shown)
    reward = message.get("reward", 0.0)
    if isinstance(reward, bool) or not isinstance(reward, int | float):
        raise BadRequest("wrong_type", f"reward must be a number, got {_kind(reward)}")
    if not math.isfinite(reward):
        raise BadRequest("non_finite", "reward: NaN/Infinity is not allowed")
    events = _events(message.get("truth"), shown)
    return Feedback(version, shown, events, float(reward), tags, teams)


def _version(response: Any) -> tuple[str, Mapping[str, Any]]:
    tags = response.get("meta", {}).get("tags", {}) if isinstance(response, dict) else {}
    if not isinstance(tags, dict):
        raise BadRequest("wrong_type", "response.meta.tags must be an object")
    version = tags.get("model_version")
    if version == interleaving.INTERLEAVED_VERSION:
        return version, tags
    if version is None:
        raise BadRequest(
            "missing_field",
            "response.meta.tags.model_version: missing; echo the prediction's answer unchanged",
        )
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise BadRequest(
            "invalid", f"response.meta.tags.model_version {version!r} is not a bundle version (12 hex)"
        )
    return version, tags


def _check_interleaved(tags: Mapping[str, Any], teams: tuple[str, ...], shown: tuple[str, ...]) -> None:
    for key in ("stable_version", "canary_version"):
        if not isinstance(tags.get(key), str) or not VERSION.fullmatch(tags[key]):
            raise BadRequest("invalid", f"response.meta.tags.{key} {tags.get(key)!r} is not a bundle version")
    bad = [i for i, t in enumerate(teams) if t not in interleaving.TEAMS]
    if len(teams) != len(shown) or bad:
        where = f"result {bad[0]}" if bad else f"{len(teams)} of {len(shown)} results"
        raise BadRequest("invalid", f"interleaved response: {where} without a team (stable or canary)")


def _shown_ids(response: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The shown ids and, for an interleaved answer, each result's team (else empty)."""
    forms = [f for f in ("jsonData", "strData", "data") if f in response]
    if len(forms) != 1:
        raise BadRequest("missing_field", "response: carry exactly one of jsonData, strData or data")
    form = forms[0]
    try:
        if form == "data":
            rows = response["data"]["ndarray"]
            ids = [row[0] for row in rows]
            teams = [row[2] for row in rows if len(row) > 2]
        else:
            answer = response[form] if form == "jsonData" else json.loads(response[form])
            ids = [r["id"] for r in answer["results"]]
            teams = [r["team"] for r in answer["results"] if "team" in r]
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
        raise BadRequest(
            "invalid", f"response.{form} is not a ranking answer (results with ids): {e!r}"
        ) from e
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise BadRequest("invalid", f"response.{form}: result ids must be distinct strings")
    return tuple(ids), tuple(str(t) for t in teams)


def _events(truth: Any, shown: tuple[str, ...]) -> tuple[Event, ...]:
    if not truth:
        raise BadRequest(
            "missing_field", "truth: missing; send truth.jsonData.events ([] when the user did nothing)"
        )
    payload = truth.get("jsonData") if isinstance(truth, dict) else None
    if isinstance(truth, dict) and "strData" in truth:
        try:
            payload = json.loads(truth["strData"])
        except (TypeError, json.JSONDecodeError) as e:
            raise BadRequest("invalid_json", f"truth.strData is not valid JSON: {e}") from e
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadRequest("missing_field", "truth.jsonData.events: missing; a list of {id, position, action}")
    extra = sorted(set(payload) - {"events"})
    if extra:
        raise BadRequest("unknown_field", f"truth.jsonData: unknown field {extra[0]!r}")
    events = tuple(_event(e, i, shown) for i, e in enumerate(payload["events"]))
    seen: dict[tuple[int, str], int] = {}
    for i, e in enumerate(events):
        if (e.position, e.action) in seen:
            raise BadRequest(
                "duplicate_id",
                f"truth.jsonData.events[{i}] repeats events[{seen[(e.position, e.action)]}] ({e.id!r}, {e.action})",
            )
        seen[(e.position, e.action)] = i
    return events


def _event(raw: Any, i: int, shown: tuple[str, ...]) -> Event:
    where = f"truth.jsonData.events[{i}]"
    if not isinstance(raw, dict):
        raise BadRequest("wrong_type", f"{where} must be an object, got {_kind(raw)}")
    extra = sorted(set(raw) - {"id", "position", "action"})
    if extra:
        raise BadRequest("unknown_field", f"{where}: unknown field {extra[0]!r}")
    action = raw.get("action")
    if action not in ACTIONS:
        raise BadRequest("invalid", f"{where}.action {action!r} is not one of {', '.join(ACTIONS)}")
    cid, position = raw.get("id"), raw.get("position")
    if cid is None and position is None:
        raise BadRequest("missing_field", f"{where}: name the result by id or position")
    if position is not None:
        if isinstance(position, float) and position.is_integer():
            position = int(position)  # gRPC's jsonData numbers are doubles
        if isinstance(position, bool) or not isinstance(position, int):
            raise BadRequest("wrong_type", f"{where}.position must be an integer, got {_kind(position)}")
        if not 1 <= position <= len(shown):
            raise BadRequest("out_of_range", f"{where}.position {position}: the answer shows 1..{len(shown)}")
    if cid is not None:
        if not isinstance(cid, str) or cid not in shown:
            raise BadRequest("invalid", f"{where}.id {cid!r} is not among the answer's results")
        at = shown.index(cid) + 1
        if position is not None and position != at:
            raise BadRequest("invalid", f"{where}.position {position} but id {cid!r} was shown at {at}")
        position = at
    assert isinstance(position, int)
    return Event(shown[position - 1], position, action)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _counter(key: str, value: float, tags: dict[str, str]) -> Metric:
    return {"type": "COUNTER", "key": key, "value": value, "tags": tags}


def quality_metrics(feedback: Feedback) -> list[Metric]:
    """The counters above for one feedback message (zero increments are never emitted, see telemetry)."""
    if feedback.interleaved:
        return []
    base = {"bundle_version": feedback.version}
    out = [_counter(FEEDBACK, 1, dict(base))]
    best = feedback.best_position
    if best is None:
        return out
    rr = 1.0 / best
    out += [
        _counter(CLICKED, 1, dict(base)),
        _counter(RECIPROCAL_RANK, rr, dict(base)),
        _counter(RECIPROCAL_RANK_SQUARED, rr * rr, dict(base)),
    ]
    by_bucket: dict[tuple[str, str], int] = {}
    for e in feedback.events:
        key = (position_bucket(e.position), e.action)
        by_bucket[key] = by_bucket.get(key, 0) + 1
    for (bucket, action), n in sorted(by_bucket.items()):
        out.append(_counter(CLICKS, n, {**base, "position_bucket": bucket, "action": action}))
    return out


def rejected_metrics(receiver_version: str, reasons: Mapping[str, int]) -> list[Metric]:
    base = {"bundle_version": receiver_version}
    return [_counter(REJECTED, n, {**base, "reason": r}) for r, n in sorted(reasons.items()) if n]


def interleaving_metrics(feedback: Feedback) -> list[Metric]:
    """An interleaved impression's outcome: the team with more clicked results wins (equal: tie)."""
    if not feedback.interleaved:
        return []
    teams = dict(zip(feedback.shown, feedback.teams, strict=True))
    outcome = interleaving.credit(teams, (e.id for e in feedback.events))
    tags = feedback.tags
    return telemetry.interleaving_metrics(tags["stable_version"], tags["canary_version"], outcome.winner)


# Each builder maps one parsed Feedback to metrics; append one to add a comparison.
METRIC_BUILDERS: list[Callable[[Feedback], list[Metric]]] = [quality_metrics, interleaving_metrics]


def metrics(feedback: Feedback) -> list[Metric]:
    return [m for build in METRIC_BUILDERS for m in build(feedback)]
