"""gRPC status codes for bad input, which seldon-core 1.17.1's gRPC servicer cannot express.

Seldon's `SeldonModelGRPC.Predict` hands the model only the request, not the gRPC context, so a model
can either raise (the client sees UNKNOWN, gRPC's 500) or answer OK with a failure `status` inside
the SeldonMessage. And a request that is not valid protobuf (e.g. a string field that is not UTF-8)
fails in deserialization, before any Seldon code, as INTERNAL. `install()` adjusts both, for the
pinned 1.17.1 only (the lock file pins it; `tests/` check the behaviour end to end):

- Predict: a response whose status is FAILURE is turned into `context.abort(<code>, info)` with the
  HTTP-like `status.code` mapped (400 -> INVALID_ARGUMENT, 413 -> RESOURCE_EXHAUSTED, 415 ->
  INVALID_ARGUMENT, 503 -> UNAVAILABLE); the error reason and model version ride in trailing metadata
  (`rankship-error-reason`, `rankship-model-version`). The model has already returned, so Seldon has
  already recorded its error metrics.
- SendFeedback: the same, for feedback the model rejects (model.serving.feedback).
- The SeldonMessage request deserializer: an undecodable request becomes an empty message carrying
  status reason `UNDECODABLE`, which the model answers as bad input.

It runs when `seldon-core-microservice` imports the model module, before the gRPC server is built.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from seldon_core import wrapper
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

logger = logging.getLogger(__name__)

UNDECODABLE = "RANKSHIP_UNDECODABLE_REQUEST"
FAILURE = prediction_pb2.Status.FAILURE
_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
}


def grpc_code(http_status: int) -> grpc.StatusCode:
    return _CODES.get(
        http_status, grpc.StatusCode.INTERNAL if http_status >= 500 else grpc.StatusCode.INVALID_ARGUMENT
    )


def decode_request(data: bytes) -> prediction_pb2.SeldonMessage:
    """SeldonMessage.FromString that answers undecodable bytes with a marked empty message."""
    try:
        return prediction_pb2.SeldonMessage.FromString(data)
    except (DecodeError, UnicodeDecodeError) as e:
        status = prediction_pb2.Status(code=400, status=FAILURE, reason=UNDECODABLE, info=str(e)[:300])
        return prediction_pb2.SeldonMessage(status=status)


class _LenientSeldonMessage:
    FromString = staticmethod(decode_request)
    SerializeToString = prediction_pb2.SeldonMessage.SerializeToString


class _ProtoModule:
    """prediction_pb2 as the generated servicer registration sees it, with the lenient decoder."""

    SeldonMessage = _LenientSeldonMessage

    def __getattr__(self, name: str) -> Any:
        return getattr(prediction_pb2, name)


def _abort_on_failure(original: Any) -> Any:
    def aborting(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        response = original(self, request, context)
        if response.status.status == FAILURE:
            tags = response.meta.tags
            context.set_trailing_metadata(
                (
                    (
                        "rankship-error-reason",
                        tags["error_reason"].string_value if "error_reason" in tags else "",
                    ),
                    (
                        "rankship-model-version",
                        tags["model_version"].string_value if "model_version" in tags else "",
                    ),
                )
            )
            context.abort(grpc_code(response.status.code), response.status.info)
        return response

    aborting.__name__ = original.__name__
    aborting.rankship_installed = True  # type: ignore[attr-defined]
    return aborting


def install() -> None:
    """Idempotent; see the module docstring."""
    servicer = wrapper.SeldonModelGRPC
    if getattr(servicer.Predict, "rankship_installed", False):
        return
    servicer.Predict = _abort_on_failure(servicer.Predict)
    servicer.SendFeedback = _abort_on_failure(servicer.SendFeedback)  # bad feedback (model.serving.feedback)
    prediction_pb2_grpc.proto_dot_prediction__pb2 = _ProtoModule()
    logger.debug("rankship gRPC status mapping installed")
