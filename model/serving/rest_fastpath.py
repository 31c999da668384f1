"""The cheapest REST route to `predict_raw`: a WSGI layer in front of Seldon's Flask app (1.17.1).

A well-formed prediction (POST to one of Seldon's prediction paths, `Content-Type: application/json`, a
`Content-Length` within RANKSHIP_MAX_REQUEST_BYTES, no query string, no browser `Origin`, a body that
orjson parses to a JSON object) goes straight to `seldon_core.seldon_methods.predict` — the very function
Seldon's `Predict` view calls, so `predict_raw`, Seldon's custom metrics and the answer are the same — and
its answer is written with one orjson call. That skips Flask's request context, routing, the before/after
hooks and flask-cors, which cost ~0.5 ms of the ~2 ms the wrapper adds to each request on a 2-core
machine (`make bench-serve`, wrapper/HTTP rows; docs/serving.md).

Everything else — form fields, multipart, a body that is not UTF-8 JSON or not an object, too large or
chunked, other paths and methods, CORS requests — goes to Flask unchanged (with the body it read put
back), so every bad input keeps the 4xx answer and message that rest_errors gives it. The layer turns
itself off, logging why, when the app has request hooks or Flask signal receivers it does not know
(Seldon's `--tracing` adds hooks; Sentry or prometheus-flask-exporter connect to signals), when Seldon
passes payloads through undecoded (PAYLOAD_PASSTHROUGH), or when Seldon's `Predict` view no longer holds
`user_model` and `seldon_metrics` (a seldon-core other than the pinned 1.17.1); RANKSHIP_REST_FAST_PATH=0
turns it off by hand.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import flask
import orjson
from flask import Flask
from seldon_core import seldon_methods, wrapper
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.http import HTTP_STATUS_CODES

from model.serving import jsonio

if TYPE_CHECKING:
    from model.serving.seldon_model import RankshipRanker

logger = logging.getLogger(__name__)

PATHS = frozenset({"/api/v1.0/predictions", "/api/v0.1/predictions", "/predict"})  # seldon_core/wrapper.py
PREDICT_VIEW = "Predict"
START_KEY = "rankship.start"  # the WSGI environ key of the request's arrival (perf_counter seconds)
# Flask signals that extensions (Sentry, prometheus-flask-exporter...) hook into; Flask alone sends them.
# Without blinker (Flask 2.2 makes it optional; the serving lock has none) nothing can connect to them.
_SIGNALS_ON = bool(getattr(flask.signals, "signals_available", True))
SIGNALS = (
    flask.request_started,
    flask.request_finished,
    flask.got_request_exception,
    flask.request_tearing_down,
)
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def timing_header(start: float, predict_ms: float | None, route: str) -> str:
    """`Server-Timing` of a prediction: predict_raw's own time (when it ran) and the app's since `start`."""
    timing = f'app;dur={(time.perf_counter() - start) * 1000.0:.3f};desc="{route}"'
    return timing if predict_ms is None else f"predict;dur={predict_ms:.3f}, {timing}"


def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"  # as werkzeug writes it


def seldon_closure(app: Flask) -> tuple[Any, Any] | None:
    """(user_model, seldon_metrics) as Seldon's `Predict` view holds them, or None if it holds neither."""
    view = app.view_functions.get(PREDICT_VIEW)
    code, cells = getattr(view, "__code__", None), getattr(view, "__closure__", None) or ()
    if code is None:
        return None
    free = dict(zip(code.co_freevars, (c.cell_contents for c in cells), strict=False))
    if "user_model" not in free or "seldon_metrics" not in free:
        return None
    return free["user_model"], free["seldon_metrics"]


class FastPredict:
    """WSGI middleware: `app.wsgi_app = FastPredict(app, model, known_hooks)`."""

    def __init__(self, app: Flask, model: RankshipRanker, known_hooks: set[Callable[..., Any]]) -> None:
        self.flask_app, self.model, self.known_hooks = app, model, known_hooks
        self.inner: WsgiApp = app.wsgi_app
        self._route: tuple[Any, Any] | None = None
        self._decided = False

    def _resolve(self) -> tuple[Any, Any] | None:
        """On the first request (the routes exist by then): the route, or None with the reason logged."""
        app = self.flask_app
        hooks = [
            *(f for fs in app.before_request_funcs.values() for f in fs),
            *(f for fs in app.after_request_funcs.values() for f in fs),
            *(f for fs in app.teardown_request_funcs.values() for f in fs),
            *(r for signal in SIGNALS if _SIGNALS_ON for r in signal.receivers_for(app)),
        ]
        unknown = [getattr(h, "__qualname__", repr(h)) for h in hooks if h not in self.known_hooks]
        # flask-cors: Seldon's own `CORS(app)`, defaults (origins "*", always_send), whose only header on
        # a request without `Origin` is `Access-Control-Allow-Origin: *`, which the fast path sends too.
        unknown = [h for h in unknown if not h.startswith("make_after_request_function")]
        why = ""
        if not self.model.settings.rest_fast_path:
            why = "RANKSHIP_REST_FAST_PATH=0"
        elif wrapper.PAYLOAD_PASSTHROUGH:
            why = "PAYLOAD_PASSTHROUGH is set"
        elif unknown:
            why = f"the app has request hooks it does not know: {unknown}"
        route = None if why else seldon_closure(app)
        if not why and route is None:
            why = f"Seldon's {PREDICT_VIEW} view holds no user_model/seldon_metrics (not seldon-core 1.17.1?)"
        if why:
            logger.info("REST fast path off: %s; every request goes through Flask", why)
        return route

    def _eligible(self, environ: dict[str, Any]) -> int:
        """The body length when this request may take the fast path, else -1."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in PATHS:
            return -1
        if environ.get("QUERY_STRING") or "HTTP_ORIGIN" in environ or "HTTP_TRANSFER_ENCODING" in environ:
            return -1  # a chunked body may also carry a Content-Length: only Flask reads it whole
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
            return -1
        raw = environ.get("CONTENT_LENGTH") or ""
        if not (raw.isascii() and raw.isdigit()):  # "²".isdigit() is True
            return -1
        length = int(raw)
        return length if 0 < length <= self.model.max_request_bytes else -1

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start = environ[START_KEY] = time.perf_counter()
        if not self._decided:
            self._route, self._decided = self._resolve(), True
        length = self._eligible(environ) if self._route else -1
        if length < 0:
            return self.inner(environ, start_response)
        body = environ["wsgi.input"].read(length)
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or len(body) != length:
            environ["wsgi.input"] = io.BytesIO(body)  # Flask reads it again and names the problem
            return self.inner(environ, start_response)
        user_model, seldon_metrics = self._route  # type: ignore[misc]
        self.model.forget_predict_ms()
        try:
            answer = seldon_methods.predict(user_model, message, seldon_metrics)
            status = 200
            if isinstance(answer, dict) and isinstance(answer.get("status"), dict):
                status = int(answer["status"].get("code", 200))
            out = jsonio.dumps(answer) + b"\n"  # byte for byte what rest_errors.JsonProvider writes
        except Exception as e:
            # A SeldonMicroserviceException is answered as wrapper.handle_invalid_usage does; anything
            # else is a model bug, Seldon's own 500 (wrapper.handle_generic_exception). (Flask's route
            # would map a JSON/UTF-8/HTTP error raised inside predict_raw to 4xx; the contract turns bad
            # input into a `status` answer before any of those could be raised.)
            error = (
                e
                if isinstance(e, SeldonMicroserviceException)
                else SeldonMicroserviceException(
                    message=str(e), status_code=500, reason="MICROSERVICE_INTERNAL_ERROR"
                )
            )
            logger.error("%s", error.to_dict())
            out, status = jsonio.dumps(error.to_dict()) + b"\n", error.status_code
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(out))),
            ("Server-Timing", timing_header(start, self.model.last_predict_ms(), "fast path")),
            ("Access-Control-Allow-Origin", "*"),  # what flask-cors sends (always_send) without an Origin
        ]
        start_response(_status_line(status), headers)
        return [out]
