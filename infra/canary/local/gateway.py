"""A stand-in for the Istio ingress on 127.0.0.1: routes Seldon's API by the rolled-out weights, and reports
Istio's request metrics.

    POST /seldon/<namespace>/<deployment>/api/v1.0/predictions   and   .../api/v1.0/feedback
    GET  /metrics (also at /prometheus, the path the demo's scrape job reads)

Like the SeldonDeployment's VirtualService, *both* paths are split by the same weights (Seldon 1.17.1 has
no per-predictor feedback route), so feedback on one version's answer often lands on the other's process:
the runtime credits it by the answer's `model_version`, and this is where that gets exercised.

Metrics, with Istio's names and labels (`reporter="source"`, as the ingress gateway reports them):
`istio_requests_total{destination_service_namespace, destination_service_name, destination_canonical_revision,
response_code}` and `istio_request_duration_milliseconds_bucket{..., le}`. The Service is the predictor's,
`<deployment>-<track>`; the revision is the pod label `version`, which is the track (`infra/specs/seldon.py`), or
`unknown` when no process answered, which is then a 503 "no healthy upstream" that the model never saw.

`transforms` rewrites request bodies on their way to one version: the demo's stand-in for a client or
feature pipeline that differs in the canary's environment (training-serving skew).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from infra.canary.local.processes import free_port
from infra.specs import naming as n

BUCKETS_MS = (
    1.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
)  # Istio's defaults up to 10 s
Route = Callable[[], tuple[str, str, str]]  # -> (track, bundle version, base URL)
Transform = Callable[[dict[str, Any]], dict[str, Any]]


class Metrics:
    """Istio-style counters and latency histogram, rendered in the Prometheus text format."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._buckets: Counter[tuple[str, str, float]] = Counter()
        self._sum: dict[tuple[str, str], float] = {}

    def observe(self, service: str, revision: str, code: int, ms: float) -> None:
        with self._lock:
            self._requests[(service, revision, code)] += 1
            self._sum[(service, revision)] = self._sum.get((service, revision), 0.0) + ms
            for le in (*BUCKETS_MS, float("inf")):
                if ms <= le:
                    self._buckets[(service, revision, le)] += 1

    def _labels(self, service: str, revision: str) -> str:
        return (
            f'reporter="source",destination_service_namespace="{self.namespace}",'
            f'destination_service_name="{service}",destination_canonical_revision="{revision}"'
        )

    def render(self) -> str:
        with self._lock:
            lines = ["# TYPE istio_requests_total counter"]
            for (service, revision, code), n in sorted(self._requests.items()):
                lines.append(
                    f'istio_requests_total{{{self._labels(service, revision)},response_code="{code}"}} {n}'
                )
            lines.append("# TYPE istio_request_duration_milliseconds histogram")
            for service, revision in sorted(self._sum):
                base = self._labels(service, revision)
                for le in (*BUCKETS_MS, float("inf")):
                    bound = "+Inf" if le == float("inf") else f"{le:g}"
                    count = self._buckets[(service, revision, le)]
                    lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="{bound}"}} {count}')
                total = sum(n for (s, r, _), n in self._requests.items() if (s, r) == (service, revision))
                lines.append(
                    f"istio_request_duration_milliseconds_sum{{{base}}} {self._sum[(service, revision)]}"
                )
                lines.append(f"istio_request_duration_milliseconds_count{{{base}}} {total}")
        return "\n".join(lines) + "\n"


class LocalGateway:
    def __init__(
        self, deployment: str, namespace: str, route: Route, transforms: Mapping[str, Transform] | None = None
    ) -> None:
        self.deployment, self.route = deployment, route
        self.transforms = dict(transforms or {})
        self.metrics = Metrics(namespace)
        self.prefix = f"/seldon/{namespace}/{deployment}/api/v1.0/"
        self.port = free_port()
        self._local = threading.local()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix[: -len('api/v1.0/')]}"  # SeldonClient-style base

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def forward(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Route one call to a version's process; (status, body). No process answering: 503."""
        track, version, base = self.route()
        if path == "predictions" and version in self.transforms:
            body = json.dumps(self.transforms[version](json.loads(body))).encode()
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        start, revision = time.perf_counter(), track  # Istio's revision: the pod label `version`, the track
        try:
            answer = session.post(f"{base}/api/v1.0/{path}", data=body, timeout=10,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
            code, payload = answer.status_code, answer.content
        except requests.RequestException:
            revision, code, payload = "unknown", 503, b"no healthy upstream"
        ms = (time.perf_counter() - start) * 1000.0
        self.metrics.observe(f"{self.deployment}-{track}", revision, code, ms)
        return code, payload

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path not in ("/metrics", n.METRICS_PATH):  # the demo scrape job reads the latter
                    return self._reply(404, b"not found")
                self._reply(200, gateway.metrics.render().encode(), "text/plain; version=0.0.4")

            def do_POST(self) -> None:
                if not self.path.startswith(gateway.prefix):
                    return self._reply(404, b"not found")
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code, payload = gateway.forward(self.path[len(gateway.prefix) :], body)
                self._reply(code, payload)

            def _reply(self, code: int, payload: bytes, kind: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # quiet: the demo prints its own figures
                return

        return Handler
