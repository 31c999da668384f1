"""The interleaving predictor's COMBINER: team-draft interleaving of stable's and the canary's answers.

    seldon-core-microservice model.serving.combiner.RankshipInterleaver --service-type COMBINER

Seldon's executor sends the request to both MODEL children (the stable and the canary bundle, in parallel)
and their two answers to `aggregate_raw`. The combiner finds which answer is which by `meta.tags.
model_version` (RANKSHIP_INTERLEAVE_STABLE / RANKSHIP_INTERLEAVE_CANARY, 12 hex each, set by the spec),
interleaves them (`model.serving.interleaving`, the coin seeded by the request's `meta.puid`, else by the two
answers' ids) and answers in the children's form, every result tagged with its team:

    jsonData: {"model_version": "interleaved", "results": [{"id", "score", "team"}]}   (strData: encoded)
    data:     {"names": ["id", "score", "team"], "ndarray": [[id, score, team], ...]}
    meta.tags: interleaving "team-draft", stable_version, canary_version, model_version "interleaved"

`score` is the score of the team's own model (the two scales differ: only the order means anything).

Feedback that lands on this predictor reaches the combiner (its node lists SEND_FEEDBACK) and both children;
the children run with RANKSHIP_INTERLEAVE_CHILD=1 and count nothing, so the combiner counts it once: the
same counters as a ranker (`model.serving.feedback`), i.e. the teams' outcome of an interleaved answer, or
the per-version counters of a plain answer whose feedback Istio sent here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.serving import contract, feedback
from model.serving.contract import BadRequest
from model.serving.interleaving import CANARY, INTERLEAVED_VERSION, STABLE, Pick, request_coin, team_draft

logger = logging.getLogger(__name__)

INTERLEAVING_TAG = "team-draft"
STABLE_ENV, CANARY_ENV = "RANKSHIP_INTERLEAVE_STABLE", "RANKSHIP_INTERLEAVE_CANARY"


class CombineError(ValueError):
    """The children's answers cannot be interleaved; the message names the answer and the field."""


@dataclass(frozen=True)
class Answer:
    """One child's ranked answer."""

    version: str
    form: str
    ids: list[str]
    scores: dict[str, float]
    puid: str | None


def parse_answer(message: Mapping[str, Any], which: str) -> Answer:
    """A child's answer (JSON form) as ids and scores; CombineError names what is missing."""
    meta = message.get("meta") or {}
    version = (meta.get("tags") or {}).get("model_version")
    if not isinstance(version, str):
        raise CombineError(f"{which}: no meta.tags.model_version")
    status = message.get("status") or {}
    if status.get("status") == "FAILURE":
        raise CombineError(f"{which} ({version}) failed: {status.get('info')}")
    puid = meta.get("puid") if isinstance(meta.get("puid"), str) and meta.get("puid") else None
    if "data" in message:
        rows = (message["data"] or {}).get("ndarray")
        if not isinstance(rows, list):
            raise CombineError(f"{which} ({version}): data.ndarray missing")
        pairs = [(str(r[0]), float(r[1])) for r in rows]
        form = "data"
    else:
        form = "strData" if "strData" in message else "jsonData"
        body = json.loads(message["strData"]) if form == "strData" else message.get("jsonData")
        results = (body or {}).get("results")
        if not isinstance(results, list):
            raise CombineError(f"{which} ({version}): {form}.results missing")
        pairs = [(str(r["id"]), float(r["score"])) for r in results]
    return Answer(version, form, [i for i, _ in pairs], dict(pairs), puid)


def request_id(stable: Answer, canary: Answer) -> str:
    """Seldon's request id when the request carried one, else a digest of both rankings (a retry of the same
    request gets the same answers from the same models, hence the same list)."""
    puid = stable.puid or canary.puid
    if puid:
        return puid
    digest = hashlib.sha256(json.dumps([stable.ids, canary.ids]).encode()).hexdigest()
    return f"rankings:{digest}"


def interleaved_body(stable: Answer, canary: Answer, picks: list[Pick]) -> dict[str, Any]:
    """The combined answer in the children's form (see the module docstring)."""
    answers = {STABLE: stable, CANARY: canary}
    rows = [(p.id, answers[p.team].scores[p.id], p.team) for p in picks]
    tags = {
        "model_version": INTERLEAVED_VERSION,
        "interleaving": INTERLEAVING_TAG,
        "stable_version": stable.version,
        "canary_version": canary.version,
    }
    body: dict[str, Any] = {"meta": {"tags": tags}}
    if stable.puid or canary.puid:
        body["meta"]["puid"] = stable.puid or canary.puid
    if stable.form == "data":
        body["data"] = {"names": ["id", "score", "team"], "ndarray": [list(r) for r in rows]}
        return body
    answer = {
        "model_version": INTERLEAVED_VERSION,
        "results": [{"id": i, "score": s, "team": t} for i, s, t in rows],
    }
    if stable.form == "strData":
        body["strData"] = json.dumps(answer)
    else:
        body["jsonData"] = answer
    return body


def combine(messages: list[Mapping[str, Any]], stable_version: str, canary_version: str) -> dict[str, Any]:
    """Interleave the two children's answers (in any order). Raises CombineError."""
    if len(messages) != 2:
        raise CombineError(f"expected the answers of 2 children (stable, canary), got {len(messages)}")
    answers = [parse_answer(m, f"child answer {i}") for i, m in enumerate(messages)]
    by_version = {a.version: a for a in answers}
    missing = [v for v in (stable_version, canary_version) if v not in by_version]
    if missing:
        got = ", ".join(a.version for a in answers)
        raise CombineError(f"no child answered as version {missing[0]} (got {got})")
    stable, canary = by_version[stable_version], by_version[canary_version]
    limit = max(len(stable.ids), len(canary.ids))  # each child already cut its list to the request's top_k
    picks = team_draft(stable.ids, canary.ids, request_coin(request_id(stable, canary)), limit)
    return interleaved_body(stable, canary, picks)


class RankshipInterleaver:
    """Seldon COMBINER class. The two versions come from the environment, read once here."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.stable_version, self.canary_version = env.get(STABLE_ENV, ""), env.get(CANARY_ENV, "")
        if not self.stable_version or not self.canary_version:
            raise ValueError(f"{STABLE_ENV} and {CANARY_ENV} must name the two bundle versions")

    def health_status_raw(self) -> dict[str, Any]:
        """Seldon's /health/status (the readiness probe): the pair this combiner interleaves."""
        return {
            "status": "ready",
            "stable_version": self.stable_version,
            "canary_version": self.canary_version,
        }

    def aggregate_raw(
        self, msgs: dict[str, Any] | prediction_pb2.SeldonMessageList
    ) -> dict[str, Any] | prediction_pb2.SeldonMessage:
        """Seldon's raw combiner hook: REST passes {"seldonMessages": [...]}, gRPC a SeldonMessageList."""
        is_proto = isinstance(msgs, prediction_pb2.SeldonMessageList)
        if is_proto:
            messages = [seldon_message_to_json(m) for m in msgs.seldonMessages]
        else:
            messages = list((msgs or {}).get("seldonMessages") or [])
        try:
            body = combine(messages, self.stable_version, self.canary_version)
        except (CombineError, KeyError, TypeError, ValueError) as e:
            # The children answered something the combiner cannot read: ours, a 500 with the reason.
            logger.error("cannot interleave: %s", e)
            raise SeldonMicroserviceException(f"cannot interleave: {e}", status_code=500) from e
        return json_to_seldon_message(body) if is_proto else body

    def send_feedback_raw(self, msg: prediction_pb2.Feedback) -> prediction_pb2.SeldonMessage:
        """Seldon's raw feedback hook: count the feedback once for this predictor (see the module docstring).

        Returns:
            `counted_for` the credited version (or "interleaved"), or a failure status 400 naming the field.
        """
        pair = f"{self.stable_version}-{self.canary_version}"
        try:
            parsed = feedback.parse(seldon_message_to_json(msg))
        except BadRequest as e:
            body = contract.error_body(e, INTERLEAVED_VERSION, pair)
            body["meta"]["metrics"] = feedback.rejected_metrics(INTERLEAVED_VERSION, {e.reason: 1})
            return json_to_seldon_message(body)
        body = {
            "meta": contract.meta(INTERLEAVED_VERSION, pair, feedback_version=parsed.version),
            "jsonData": {"counted_for": parsed.version, "events": len(parsed.events)},
        }
        body["meta"]["metrics"] = feedback.metrics(parsed)
        return json_to_seldon_message(body)
