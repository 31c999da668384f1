"""The SeldonClient example of docs/serving.md, run with the SERVING virtualenv's python against one process.

    .venv-serving/bin/python tests/model/serving/seldon_client_feedback.py HOST:PORT < request.json

Predicts, clicks the second result, sends the feedback; prints {"answer": ..., "feedback": ...} as JSON.
In a cluster drop `gateway_prefix` and pass `namespace` and `deployment_name` (the Istio ingress route).
"""

from __future__ import annotations

import json
import sys

from google.protobuf import json_format
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import json_to_seldon_message


def main() -> int:
    client = SeldonClient(
        gateway="istio", transport="rest", gateway_endpoint=sys.argv[1], client_return_type="proto"
    )
    prediction = client.predict(json_data=json.load(sys.stdin)["jsonData"], gateway_prefix="")
    request, answer = (
        prediction.request,
        prediction.response,
    )  # SeldonMessages; meta.tags.model_version in answer
    shown = json_format.MessageToDict(answer.jsonData)["results"]
    truth = json_to_seldon_message({"jsonData": {"events": [{"id": shown[1]["id"], "action": "click"}]}})
    sent = client.feedback(
        prediction_request=request,
        prediction_response=answer,
        prediction_truth=truth,
        reward=1.0,
        gateway_prefix="",
    )
    json.dump({"answer": json_format.MessageToDict(answer), "success": sent.success,
               "feedback": json_format.MessageToDict(sent.response)}, sys.stdout)  # fmt: skip
    return 0 if sent.success else 1


if __name__ == "__main__":
    sys.exit(main())
