"""The rankship ranker as a Seldon Core v1 Python model (`seldon-core-microservice`, 1.17.1).

    seldon-core-microservice model.serving.seldon_model.RankshipRanker

Lifecycle (KServe-style contract): `load()` verifies the bundle against its MANIFEST, loads tokenizer
and LiteRT model, replays the golden requests (parity with offline evaluation) and warms up; only then
does `/health/status` answer 200. Any failure leaves the server up but not ready, with the reason (the
failing file, or the golden candidate and both scores) in the log and in `/health/status`.
`predict_raw()` serves REST (JSON dict) and gRPC (SeldonMessage) with the contract in
`model.serving.contract`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.release.bundle import BundleInfo, verify_bundle
from model.serving import contract, feedback, grpc_status, metrics_batch, rest_errors, telemetry
from model.serving.contract import BadRequest, RankRequest, RequestParser
from model.serving.offline_scores import load_offline_scores
from model.serving.scorer import ParityReport, Scorer, check_parity, load_golden
from model.serving.settings import ServingSettings, SettingsError

logger = logging.getLogger(__name__)

# Runs when seldon-core-microservice imports this module, before it builds its gRPC server.
grpc_status.install()
metrics_batch.install_from_env(os.environ)


@dataclass(frozen=True)
class _Ready:
    bundle: BundleInfo
    scorer: Scorer
    parity: ParityReport


@dataclass(frozen=True)
class Ranking:
    """A ranked answer: ids and scores sorted by score (highest first), cut to top_k."""

    ids: list[str]
    scores: list[float]
    all_scores: np.ndarray  # every candidate's score, request order (for the score histogram)


class RankshipRanker:
    """Seldon model class. Construct cheaply; Seldon calls `load()` in every serving process."""

    def __init__(self, settings: ServingSettings | None = None) -> None:
        """Build the request parser and the REST error handlers; load nothing yet.

        Args:
            settings: serving settings; None (what Seldon passes) reads them from the environment, once,
                here at startup (see model.serving.settings). A bad value is reported by load().
        """
        self._settings_error = ""
        if settings is None:
            try:
                settings = ServingSettings.from_env(os.environ)
            except SettingsError as e:
                self._settings_error = str(e)
                settings = ServingSettings()
        self.settings = settings
        self.parser = RequestParser(settings.max_candidates, settings.max_text_chars)
        self._ready: _Ready | None = None
        self._problem = "not loaded yet"
        self._version, self._bundle_id = telemetry.UNKNOWN_VERSION, ""
        self._rejected: Counter[tuple[str, int]] = Counter()
        self._rejected_lock = threading.Lock()
        self._feedback_rejected: Counter[str] = Counter()
        self._score_edges = settings.score_buckets  # the bundle's own edges once loaded
        self._offline_pending: list[telemetry.Metric] = []  # its offline histogram, sent once per process
        # This thread's last predict_raw time: REST reports it in Server-Timing (rest_errors).
        self._timing = threading.local()
        # Seldon registers this blueprint on its Flask app (see model.serving.rest_errors).
        self.model_error_handler = rest_errors.blueprint(self)

    # -- lifecycle --------------------------------------------------------------------------------
    def load(self) -> None:
        """Verify, load, check golden parity, warm up. Never raises: failure means not ready."""
        try:
            if self._settings_error:
                raise SettingsError(self._settings_error)
            bundle = verify_bundle(self.settings.bundle)
            self._version, self._bundle_id = bundle.version, bundle.bundle_id
            scorer = Scorer(bundle, self.settings.litert_threads, self.settings.product_cache)
            parity = check_parity(scorer, load_golden(bundle))
            offline = load_offline_scores(bundle)
            # Warm-up: the first invoke at the largest batch allocates the arena once.
            scorer.score("warm up", ["warm up"] * self.settings.max_candidates)
            scorer.cache.take()  # the cache metrics count served requests only
        # Any failure (bundle, tokenizer, model, parity, settings) must leave the process up and
        # unready with the reason, not crash-loop it: readiness is what keeps traffic away.
        except Exception as e:
            self._problem = f"bundle {self.settings.bundle} not served: {e}"
            logger.error("NOT READY: %s", self._problem)
            return
        self._ready = _Ready(bundle, scorer, parity)
        if offline is not None:
            # Live scores are binned like the offline ones, so drift compares the model with itself.
            self._score_edges, self._offline_pending = offline.edges, offline.metrics(bundle.version)
        logger.info(
            "READY: bundle %s (version %s); golden parity: %d requests, %d candidates, max |diff| %.3g <= %g",
            bundle.bundle_id, bundle.version, parity.requests, parity.candidates, parity.max_abs_diff,
            parity.tolerance,
        )  # fmt: skip

    @property
    def ready(self) -> bool:
        return self._ready is not None

    @property
    def scorer(self) -> Scorer | None:
        """The loaded scorer (None until ready): the benchmark times the model alone through it."""
        return self._ready.scorer if self._ready else None

    @property
    def version(self) -> str:
        return self._version

    @property
    def max_request_bytes(self) -> int:
        return self.settings.max_request_bytes

    def health_status_raw(self) -> dict[str, Any]:
        """Seldon's /health/status: 200 with the bundle when ready, else 503 naming the problem."""
        if self._ready is None:
            raise SeldonMicroserviceException(self._problem, status_code=503, reason="MICROSERVICE_NOT_READY")
        parity = self._ready.parity
        return {
            "status": "ready",
            "model_version": self._version,
            "bundle_id": self._bundle_id,
            "golden": {"requests": parity.requests, "max_abs_diff": parity.max_abs_diff},
        }

    def init_metadata(self) -> dict[str, Any]:
        """Seldon's /metadata: the request/response contract as JSON Schema."""
        names = {"names": list(contract.NDARRAY_COLUMNS)}
        return {
            "name": "rankship-ranker",
            "platform": "litert",
            "inputs": [
                {"messagetype": "jsonData", "schema": self.parser.schema},
                {"messagetype": "strData"},
                {"messagetype": "ndarray", "schema": names},
            ],
            "outputs": [
                {"messagetype": "jsonData", "schema": contract.response_schema()},
                {"messagetype": "strData"},
                {"messagetype": "ndarray", "schema": {"names": ["id", "score"]}},
            ],
        }

    # -- serving ----------------------------------------------------------------------------------
    def rank(self, request: RankRequest) -> Ranking:
        """Score and sort one validated request.

        Raises:
            BadRequest: status 503 when the model is not ready.
        """
        ready = self._ready
        if ready is None:
            raise BadRequest("not_ready", f"model not ready: {self._problem}", 503)
        return self.order(request, ready.scorer.score(request.query, request.texts))

    @staticmethod
    def order(request: RankRequest, scores: np.ndarray) -> Ranking:
        """Sort by score, highest first (ties keep request order), cut to top_k."""
        if not np.isfinite(scores).all():
            raise RuntimeError("the model produced a non-finite score")  # a model bug: a real 500
        order = np.argsort(-scores, kind="stable")[: request.top_k]
        return Ranking([request.ids[i] for i in order], scores[order].tolist(), scores)

    def respond(
        self, request: RankRequest, ranking: Ranking, start: float
    ) -> tuple[dict[str, Any], list[telemetry.Metric]]:
        """The answer to a ranked request and its metrics; `start` is when the request arrived."""
        body = contract.success_body(request, ranking.ids, ranking.scores, self._version, self._bundle_id)
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        metrics = telemetry.request_metrics(self._version, elapsed_ms, ranking.all_scores, self._score_edges)
        return body, metrics + self._take_offline() + self._cache_metrics()

    def predict_raw(self, msg: dict[str, Any] | prediction_pb2.SeldonMessage) -> Any:
        """Seldon's raw prediction hook.

        Args:
            msg: the request, a JSON dict (REST) or a SeldonMessage (gRPC).
        Returns:
            The answer in the same representation; a failure `status` (code 400/503) for bad input,
            which Seldon's REST wrapper sends with that HTTP status and `grpc_status` maps to a gRPC code.
            `meta.metrics` carries this request's metrics (Seldon removes them from the answer).
        """
        start = time.perf_counter()
        is_proto = isinstance(msg, prediction_pb2.SeldonMessage)
        try:
            request = self.parser.parse(_proto_to_dict(msg) if is_proto else msg)
            body, metrics = self.respond(request, self.rank(request), start)
        except BadRequest as e:
            body = contract.error_body(e, self._version, self._bundle_id)
            self.count_rejected(e.reason, e.status)
            metrics = []
        except Exception:
            # A model bug: Seldon answers 500; counted here, reported with the next answer.
            self.count_rejected("internal", 500)
            raise
        body["meta"]["metrics"] = metrics + self._take_rejected()
        answer = json_to_seldon_message(body) if is_proto else body
        self._timing.predict_ms = (time.perf_counter() - start) * 1000.0
        return answer

    def last_predict_ms(self) -> float | None:
        """How long this thread's most recent `predict_raw` took (ms), or None if it has run none."""
        return getattr(self._timing, "predict_ms", None)

    def forget_predict_ms(self) -> None:
        """Forget it, so a request that fails before predict_raw does not report the previous time."""
        self._timing.predict_ms = None

    # -- feedback (model.serving.feedback) -------------------------------------------------------------
    def send_feedback_raw(self, msg: prediction_pb2.Feedback) -> prediction_pb2.SeldonMessage:
        """Seldon's raw feedback hook (REST and gRPC both arrive as a Feedback proto).

        Returns:
            An answer tagged with the version the feedback was counted for (`feedback_version`), or a
            failure `status` 400 naming the bad field (REST: rest_errors sets the HTTP status; gRPC:
            grpc_status aborts with INVALID_ARGUMENT). Counters ride in `meta.metrics`.
        """
        if self.settings.interleave_child:
            # This ranker is a child of the interleaving combiner, which counts this predictor's feedback.
            body = {
                "meta": contract.meta(self._version, self._bundle_id),
                "jsonData": {"counted_for": "combiner"},
            }
            return json_to_seldon_message(body)
        try:
            parsed = feedback.parse(seldon_message_to_json(msg))
        except BadRequest as e:
            self.count_feedback_rejected(e.reason)
            body = contract.error_body(e, self._version, self._bundle_id)
            body["meta"]["metrics"] = self._take_feedback_rejected()
            return json_to_seldon_message(body)
        body = {
            "meta": contract.meta(self._version, self._bundle_id, feedback_version=parsed.version),
            "jsonData": {"counted_for": parsed.version, "events": len(parsed.events)},
        }
        body["meta"]["metrics"] = feedback.metrics(parsed) + self._take_feedback_rejected()
        return json_to_seldon_message(body)

    def count_feedback_rejected(self, reason: str) -> None:
        with self._rejected_lock:
            self._feedback_rejected[reason] += 1

    def _take_feedback_rejected(self) -> list[telemetry.Metric]:
        with self._rejected_lock:
            taken, self._feedback_rejected = self._feedback_rejected, Counter()
        return feedback.rejected_metrics(self._version, taken)

    def _cache_metrics(self) -> list[telemetry.Metric]:
        taken = self._ready.scorer.cache.take() if self._ready else None
        return telemetry.cache_metrics(self._version, taken.hits, taken.misses) if taken else []

    # -- rejections (also those answered before predict_raw, see rest_errors) ----------------------
    def error_body(self, error: BadRequest) -> dict[str, Any]:
        return contract.error_body(error, self._version, self._bundle_id)

    def count_rejected(self, reason: str, status: int) -> None:
        with self._rejected_lock:
            self._rejected[(reason, status)] += 1

    def _take_offline(self) -> list[telemetry.Metric]:
        if not self._offline_pending:
            return []
        with self._rejected_lock:
            taken, self._offline_pending = self._offline_pending, []
        return taken

    def _take_rejected(self) -> list[telemetry.Metric]:
        with self._rejected_lock:
            taken, self._rejected = self._rejected, Counter()
        return telemetry.error_metrics(self._version, taken)


def _proto_to_dict(msg: prediction_pb2.SeldonMessage) -> dict[str, Any]:
    if msg.status.reason == grpc_status.UNDECODABLE:
        raise BadRequest("invalid_protobuf", f"request is not a valid SeldonMessage: {msg.status.info}")
    return seldon_message_to_json(msg)
