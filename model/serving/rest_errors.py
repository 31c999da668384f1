"""REST bad-input handling that Seldon's Flask app does not do itself.

seldon-core 1.17.1 parses the body before the model sees it, and its catch-all error handler turns
anything unexpected into a 500: a `json=` form field that is not JSON, a multipart field that is not
UTF-8, a 404/405, a body nested too deeply for the JSON parser. Seldon registers the model's
`model_error_handler` blueprint on its app, so this module supplies one that

- checks prediction requests before Seldon parses them (size, content type, UTF-8, JSON) and answers
  400/413/415 with a message naming the problem, and
- maps the remaining parse errors and HTTP errors to their 4xx status in Seldon's error format,
- and reports, in a `Server-Timing` header on every prediction answer, how long the model's
  `predict_raw` took (`predict`) and the whole request inside the app (`app`: from the WSGI layer's
  entry through checks, parse, Seldon, predict and serialise, for Flask up to its last hooks; `desc`
  names the route, "fast path" (rest_fastpath.py) or "flask"), so a client
  (and `make bench-serve`) can tell the model's time from the wrapper's and the network's on the very
  same request.

Rejections here never reach `predict_raw`, so the model counts them and reports them with its next
prediction's metrics (Seldon gives blueprints no handle on its metrics registry).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from werkzeug.exceptions import HTTPException

from model.serving import jsonio
from model.serving.contract import BadRequest
from model.serving.rest_fastpath import START_KEY, FastPredict, timing_header

if TYPE_CHECKING:
    from model.serving.seldon_model import RankshipRanker

PREDICT_ENDPOINT = "Predict"  # the view function names in seldon_core/wrapper.py
FEEDBACK_ENDPOINT = "SendFeedback"


def _decode(raw: bytes | str, source: str) -> None:
    """Raise BadRequest unless `raw` is UTF-8 JSON."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            byte = e.object[e.start : e.start + 1].hex()
            raise BadRequest(
                "not_utf8", f"{source} is not valid UTF-8 (byte 0x{byte} at offset {e.start})"
            ) from e
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadRequest("invalid_json", f"{source} is not valid JSON: {e}") from e
    except RecursionError as e:
        raise BadRequest("invalid_json", f"{source} is nested too deeply") from e
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        raise BadRequest("wrong_type", f"{source} must be a JSON object, got {kind}")


def _precheck(max_bytes: int) -> None:
    """Raise BadRequest for a prediction request that Seldon would fail to parse, or parse into a 500."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BadRequest("too_large", f"request body is {length} bytes; the limit is {max_bytes}", 413)
    if "multipart/form-data" in (request.content_type or ""):
        return  # Seldon parses the parts; their errors reach the handlers below.
    field = request.form.get("json") or request.args.get("json")
    if field:
        _decode(field, "the json parameter")
        return
    if not request.is_json:
        kind = request.content_type or "none"
        raise BadRequest("wrong_content_type", f"Content-Type must be application/json, got {kind}", 415)
    body = request.get_data(cache=True)
    if not body:
        raise BadRequest("missing_field", "request body is empty; send a JSON SeldonMessage")
    try:
        parsed = request.get_json(silent=True)  # parses once; Seldon reuses the cached result
    except RecursionError as e:  # not a ValueError, so `silent` lets it through
        raise BadRequest("invalid_json", "request body is nested too deeply") from e
    if parsed is None:
        _decode(body, "request body")


def _precheck_feedback(max_bytes: int) -> None:
    """Also reject what Seldon's `json_to_feedback` would answer in its own format (unknown fields...)."""
    _precheck(max_bytes)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return  # a form field: Seldon parses it, and parse errors reach the handlers below
    try:
        json_format.ParseDict(body, prediction_pb2.Feedback())
    except json_format.ParseError as e:
        raise BadRequest("invalid", f"feedback is not a Seldon Feedback message: {e}") from e


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON (request.get_json, jsonify) through `jsonio`: one orjson parse of the body, shared by
    the pre-check below and Seldon's handler (Flask caches it), and one orjson write of the answer."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsonio.loads(s) if not kwargs else super().loads(s, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return jsonio.dumps(obj).decode() if not kwargs else super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = jsonio.dumps(self._prepare_response_obj(args, kwargs)) + b"\n"  # Flask ends with one too
        return self._app.response_class(body, mimetype=self.mimetype)


def _use_jsonio(app: Flask) -> None:
    app.json = JsonProvider(app)


def _install_fast_path(app: Flask, model: RankshipRanker, hooks: set[Any]) -> None:
    app.wsgi_app = FastPredict(app, model, hooks)  # type: ignore[method-assign]


def blueprint(model: RankshipRanker) -> Blueprint:
    """The `model_error_handler` that Seldon registers on its REST app (which also gets `JsonProvider`)."""
    bp = Blueprint("rankship_errors", __name__)
    bp.record_once(lambda state: _use_jsonio(state.app))

    def reject(error: BadRequest) -> tuple[Response, int]:
        if request.endpoint == FEEDBACK_ENDPOINT:
            model.count_feedback_rejected(error.reason)
        else:
            model.count_rejected(error.reason, error.status)
        return jsonify(model.error_body(error)), error.status

    @bp.before_app_request
    def check_request() -> Any:
        if request.endpoint not in (PREDICT_ENDPOINT, FEEDBACK_ENDPOINT):
            return None
        if request.endpoint == PREDICT_ENDPOINT:
            model.forget_predict_ms()
        limit = model.max_request_bytes
        # werkzeug enforces this while reading a chunked body that has no Content-Length.
        current_app.config["MAX_CONTENT_LENGTH"] = limit
        try:
            (_precheck if request.endpoint == PREDICT_ENDPOINT else _precheck_feedback)(limit)
        except BadRequest as e:
            return reject(e)
        return None

    @bp.after_app_request
    def server_timing(response: Response) -> Response:
        # From the WSGI layer's entry (rest_fastpath), so Flask's own context and routing count too.
        start = request.environ.get(START_KEY) if request.endpoint == PREDICT_ENDPOINT else None
        if start is not None:  # no `predict` part when the request was refused before the model
            response.headers["Server-Timing"] = timing_header(start, model.last_predict_ms(), "flask")
        return response

    @bp.after_app_request
    def feedback_status(response: Response) -> Response:
        # Seldon's SendFeedback view answers 200 whatever the model's status says; apply status.code.
        if request.endpoint == FEEDBACK_ENDPOINT and response.status_code == 200 and response.is_json:
            code = ((response.get_json(silent=True) or {}).get("status") or {}).get("code")
            if isinstance(code, int) and code >= 400:
                response.status_code = code
        return response

    @bp.app_errorhandler(json.JSONDecodeError)
    def bad_json(e: json.JSONDecodeError) -> tuple[Response, int]:
        return reject(BadRequest("invalid_json", f"request is not valid JSON: {e}"))

    @bp.app_errorhandler(UnicodeDecodeError)
    def bad_utf8(e: UnicodeDecodeError) -> tuple[Response, int]:
        return reject(BadRequest("not_utf8", f"request is not valid UTF-8 (offset {e.start})"))

    @bp.app_errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response, int]:
        code = e.code or 400
        if code == 413:
            return reject(
                BadRequest("too_large", f"request body exceeds {model.max_request_bytes} bytes", 413)
            )
        # Not a prediction (unknown route, wrong method): no metric, but Seldon's error format.
        error = BadRequest("http_error", f"{request.method} {request.path}: {e.name}", code)
        return jsonify(model.error_body(error)), code

    hooks = {check_request, server_timing, feedback_status}
    bp.record_once(lambda state: _install_fast_path(state.app, model, hooks))
    return bp
