"""A gRPC client for the e2e tests, run with the SERVING virtualenv's python (it has Seldon's stubs).

    .venv-serving/bin/python tests/model/serving/grpc_client.py HOST:PORT < calls.json > results.json

calls.json is a list of {"message": <SeldonMessage as JSON>}, {"feedback": <Feedback as JSON>} (SendFeedback)
or {"raw_hex": "<bytes sent as is>"};
each result is {"ok": true, "response": <SeldonMessage as JSON>} or {"ok": false, "code": "<gRPC code>",
"details": str, "trailing": {key: value}}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import grpc
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json


def call(channel: grpc.Channel, stub: Any, item: dict[str, Any]) -> dict[str, Any]:
    try:
        if "raw_hex" in item:
            raw = channel.unary_unary("/seldon.protos.Model/Predict")
            response = prediction_pb2.SeldonMessage.FromString(
                raw(bytes.fromhex(item["raw_hex"]), timeout=10)
            )
        elif "feedback" in item:
            response = stub.SendFeedback(
                json_format.ParseDict(item["feedback"], prediction_pb2.Feedback()), timeout=10
            )
        else:
            response = stub.Predict(json_to_seldon_message(item["message"]), timeout=10)
    except grpc.RpcError as e:
        trailing = {m.key: m.value for m in (e.trailing_metadata() or ())}
        return {"ok": False, "code": e.code().name, "details": e.details(), "trailing": trailing}
    return {"ok": True, "response": seldon_message_to_json(response)}


def main() -> int:
    calls = json.load(sys.stdin)
    with grpc.insecure_channel(sys.argv[1]) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        json.dump([call(channel, stub, item) for item in calls], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
