"""The request/response contract (Seldon protocol v1), independent of transport.

A request is a SeldonMessage (REST: its JSON form; gRPC: converted to that JSON form first) with
exactly one payload, plus an optional `meta`:

    {"jsonData": {"query": str, "candidates": [{"id": str, "title": str, "description": str?}],
                  "top_k": int?}}
    {"strData": "<the jsonData object above, JSON-encoded>"}
    {"data": {"names": ["query", "id", "title", "description"],
              "ndarray": [[query, id, title, description], ...]}}       # names optional, row per candidate

The answer uses the request's form: `jsonData` -> `{"model_version", "results": [{"id", "score"}]}`,
`strData` -> that object JSON-encoded, `data` -> `{"names": ["id", "score"], "ndarray": [[id, score]]}`;
results are sorted by score, highest first (ties keep request order). Every answer carries
`meta.tags.model_version` (and `meta.tags.bundle_id`).

Bad input raises `BadRequest` with a `reason` (a small fixed vocabulary, used as a metric label) and a
message that names the offending field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import fastjsonschema

from model.serving import jsonio
from model.text.tokenizer import product_text

FORMS = ("jsonData", "strData", "data")
NDARRAY_COLUMNS = ("query", "id", "title", "description")
# fastjsonschema rule -> metric reason. Anything else is "invalid".
_RULE_REASONS = {
    "required": "missing_field",
    "additionalProperties": "unknown_field",
    "type": "wrong_type",
    "maxItems": "too_many_candidates",
    "minItems": "empty_candidates",
    "maxLength": "text_too_long",
    "minLength": "empty_text",
    "minimum": "out_of_range",
}


class BadRequest(Exception):
    """Input the contract rejects. `status` is the HTTP status; `reason` a metric label."""

    def __init__(self, reason: str, message: str, status: int = 400):
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


@dataclass(frozen=True)
class RankRequest:
    query: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]  # product_text(title, description), what the tokenizer reads
    top_k: int | None
    form: str
    puid: str | None = None


def request_schema(max_candidates: int, max_text_chars: int) -> dict[str, Any]:
    """JSON Schema of the jsonData request (also published at Seldon's /metadata)."""
    text = {"type": "string", "maxLength": max_text_chars}
    candidate = {
        "type": "object",
        "properties": {"id": {**text, "minLength": 1}, "title": text, "description": text},
        "required": ["id", "title"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "query": {**text, "minLength": 1},
            "candidates": {"type": "array", "minItems": 1, "maxItems": max_candidates, "items": candidate},
            "top_k": {"type": "integer", "minimum": 1},
        },
        "required": ["query", "candidates"],
        "additionalProperties": False,
    }


def _ndarray_schema(max_candidates: int, max_text_chars: int) -> dict[str, Any]:
    cell = {"type": "string", "maxLength": max_text_chars}
    row = {"type": "array", "minItems": 3, "maxItems": 4, "items": cell}
    return {
        "type": "object",
        "properties": {
            "names": {"type": "array", "items": {"type": "string", "enum": list(NDARRAY_COLUMNS)}},
            "ndarray": {"type": "array", "minItems": 1, "maxItems": max_candidates, "items": row},
        },
        "required": ["ndarray"],
        "additionalProperties": False,
    }


def _reject_constant(name: str) -> Any:
    raise BadRequest("non_finite", f"strData: {name} is not valid JSON (numbers must be finite)")


class RequestParser:
    """Validates Seldon messages (as JSON dicts) into `RankRequest`s under fixed limits."""

    def __init__(self, max_candidates: int, max_text_chars: int):
        self.schema = request_schema(max_candidates, max_text_chars)
        self._validate = fastjsonschema.compile(self.schema)
        self._validate_ndarray = fastjsonschema.compile(_ndarray_schema(max_candidates, max_text_chars))

    def parse(self, message: Any) -> RankRequest:
        """Raises BadRequest naming the problem."""
        if not isinstance(message, dict):
            raise BadRequest("wrong_type", f"request must be a JSON object, got {_kind(message)}")
        unknown = sorted(set(message) - {*FORMS, "meta"})
        if unknown:
            reason = "unsupported_form" if unknown[0] in ("binData", "customData") else "unknown_field"
            raise BadRequest(
                reason, f"unknown top-level field {unknown[0]!r}; send one of {', '.join(FORMS)}"
            )
        forms = [f for f in FORMS if f in message]
        if len(forms) != 1:
            found = f"got {', '.join(forms)}" if forms else "got none"
            raise BadRequest("missing_field", f"send exactly one of jsonData, strData or data ({found})")
        puid = _puid(message.get("meta"))
        form = forms[0]
        if form == "data":
            return self._from_rows(self._rows(message["data"]), puid)
        payload = message[form]
        if form == "strData":
            payload = _decode_str_data(payload)
        return self.from_json_data(payload, form, puid)

    def from_json_data(self, payload: Any, form: str = "jsonData", puid: str | None = None) -> RankRequest:
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("top_k"), float)
            and payload["top_k"].is_integer()
        ):
            # gRPC's jsonData is a protobuf Value: every number arrives as a double.
            payload = {**payload, "top_k": int(payload["top_k"])}
        self._check(self._validate, payload, form)
        candidates = payload["candidates"]
        ids = tuple(c["id"] for c in candidates)
        _check_unique(ids, form)
        texts = tuple(product_text(c["title"], c.get("description")) for c in candidates)
        return RankRequest(payload["query"], ids, texts, payload.get("top_k"), form, puid)

    def _rows(self, data: Any) -> tuple[tuple[str, ...], list[list[str]]]:
        if isinstance(data, dict) and not set(data) <= {"names", "ndarray"}:
            other = sorted(set(data) - {"names", "ndarray"})[0]
            raise BadRequest("unsupported_form", f"data.{other} is not supported; send data.ndarray rows")
        self._check(self._validate_ndarray, data, "data")
        names = tuple(data.get("names") or ())
        if names:
            missing = [c for c in NDARRAY_COLUMNS[:3] if c not in names]
            if missing or len(set(names)) != len(names):
                raise BadRequest("wrong_columns", f"data.names must name query, id, title once each: {names}")
        for i, row in enumerate(data["ndarray"]):
            if len(row) != (len(names) or len(row)):
                raise BadRequest(
                    "wrong_columns", f"data.ndarray[{i}] has {len(row)} values for {len(names)} names"
                )
        return names or NDARRAY_COLUMNS, data["ndarray"]

    def _from_rows(self, table: tuple[tuple[str, ...], list[list[str]]], puid: str | None) -> RankRequest:
        names, rows = table
        records = [dict(zip(names, row, strict=False)) for row in rows]
        queries = {r["query"] for r in records}
        if len(queries) > 1:
            raise BadRequest(
                "mixed_queries", f"data.ndarray rows carry {len(queries)} different queries; send one"
            )
        payload = {
            "query": records[0]["query"],
            "candidates": [{k: v for k, v in r.items() if k != "query"} for r in records],
        }
        return self.from_json_data(payload, "data", puid)

    @staticmethod
    def _check(validate: Any, payload: Any, prefix: str) -> None:
        try:
            validate(payload)
        except fastjsonschema.JsonSchemaValueException as e:
            where = prefix + e.name[len("data") :] if e.name.startswith("data") else prefix
            value = e.value
            if isinstance(value, float) and not math.isfinite(value):
                raise BadRequest("non_finite", f"{where}: NaN/Infinity is not allowed") from e
            message = prefix + e.message[len("data") :] if e.message.startswith("data") else e.message
            reason = _RULE_REASONS.get(e.rule or "", "invalid")
            if prefix == "data" and len(e.path) == 3 and e.rule in ("minItems", "maxItems"):
                reason = "wrong_columns"  # an ndarray row (data.ndarray[i]) of the wrong length
            raise BadRequest(reason, message) from e


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _puid(meta: Any) -> str | None:
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise BadRequest("wrong_type", f"meta must be an object, got {_kind(meta)}")
    puid = meta.get("puid")
    return puid if isinstance(puid, str) and puid else None


def _decode_str_data(text: Any) -> Any:
    if not isinstance(text, str):
        raise BadRequest("wrong_type", f"strData must be a string, got {_kind(text)}")
    try:
        return jsonio.loads(text, fallback=lambda t: json.loads(t, parse_constant=_reject_constant))
    except json.JSONDecodeError as e:
        raise BadRequest("invalid_json", f"strData is not valid JSON: {e}") from e
    except RecursionError as e:
        raise BadRequest("invalid_json", "strData is nested too deeply") from e


def _check_unique(ids: tuple[str, ...], form: str) -> None:
    if len(set(ids)) == len(ids):
        return
    first: dict[str, int] = {}
    for i, cid in enumerate(ids):
        if cid in first:
            raise BadRequest(
                "duplicate_id", f"{form}.candidates[{i}].id {cid!r} repeats candidates[{first[cid]}].id"
            )
        first[cid] = i


def response_schema() -> dict[str, Any]:
    """JSON Schema of the jsonData answer (published at /metadata)."""
    result = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "score": {"type": "number"}},
        "required": ["id", "score"],
    }
    return {
        "type": "object",
        "properties": {
            "model_version": {"type": "string"},
            "results": {"type": "array", "items": result},
        },
        "required": ["model_version", "results"],
    }


def meta(version: str, bundle_id: str, puid: str | None = None, **extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {"tags": {"model_version": version, "bundle_id": bundle_id, **extra}}
    if puid:
        out["puid"] = puid
    return out


def success_body(
    request: RankRequest, ids: list[str], scores: list[float], version: str, bundle_id: str
) -> dict[str, Any]:
    """The answer in the request's form (see the module docstring)."""
    body: dict[str, Any] = {"meta": meta(version, bundle_id, request.puid)}
    if request.form == "data":
        body["data"] = {
            "names": ["id", "score"],
            "ndarray": [[i, s] for i, s in zip(ids, scores, strict=True)],
        }
        return body
    answer = {
        "model_version": version,
        "results": [{"id": i, "score": s} for i, s in zip(ids, scores, strict=True)],
    }
    if request.form == "strData":
        body["strData"] = jsonio.dumps(answer).decode()
    else:
        body["jsonData"] = answer
    return body


def error_body(error: BadRequest, version: str, bundle_id: str) -> dict[str, Any]:
    """A Seldon failure status; Seldon's REST wrapper uses `status.code` as the HTTP status."""
    seldon_reason = "MICROSERVICE_BAD_DATA"
    if error.status >= 500:
        seldon_reason = "MICROSERVICE_NOT_READY" if error.status == 503 else "MICROSERVICE_INTERNAL_ERROR"
    return {
        "status": {"code": error.status, "info": error.message, "reason": seldon_reason, "status": "FAILURE"},
        "meta": meta(version, bundle_id, error_reason=error.reason),
    }
