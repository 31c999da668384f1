"""The interleaving predictor on 127.0.0.1: two real rankers, the real combiner, and the executor's part.

In a cluster Seldon's executor (Go) runs the graph of `infra/specs/interleave.py`: it sends the request,
with a `meta.puid`, to both MODEL children in parallel, posts their two answers to the COMBINER's
`/aggregate`, and sends feedback to both children and to the combiner (its node lists
SEND_FEEDBACK). `LocalInterleaving.predict/feedback` do exactly that over HTTP; the three processes are the
production classes (`seldon-core-microservice`, serving virtualenv), children with RANKSHIP_INTERLEAVE_CHILD=1.
Everything stops by process group (`Child.stop`).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from infra.canary.local.processes import Child, free_port
from infra.canary.local.serving import REPO, SERVING_VENV, LocalModel, ServingVenvMissing, start_until_ready
from infra.specs import naming as n
from model.release.bundle import BundleInfo

# The Python wrapper's node routes, the ones the executor calls (the client-facing API is /api/v1.0/...).
PREDICT, AGGREGATE, FEEDBACK = "/predict", "/aggregate", "/send-feedback"


class LocalCombiner:
    """`seldon-core-microservice model.serving.combiner.RankshipInterleaver --service-type COMBINER`."""

    def __init__(self, stable_version: str, canary_version: str, log: Path) -> None:
        exe = SERVING_VENV / "bin" / "seldon-core-microservice"
        if not exe.exists():
            raise ServingVenvMissing(f"{exe} missing: run `make serving-venv` first")
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        cmd = [
            str(exe), n.COMBINER_CLASS, "--service-type", "COMBINER", "--http-port", str(self.http_port),
            "--grpc-port", str(self.grpc_port), "--metrics-port", str(self.metrics_port), "--workers", "1",
            "--threads", "1", "--grpc-workers", "1", "--log-level", "WARNING",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKSHIP_", "PREDICTIVE_UNIT_"))}
        env.update(
            PYTHONPATH=str(REPO),
            RANKSHIP_INTERLEAVE_STABLE=stable_version,
            RANKSHIP_INTERLEAVE_CANARY=canary_version,
            INCLUDE_METRICS_IN_CLIENT_RESPONSE="false",
            PREDICTIVE_UNIT_METRICS_ENDPOINT=n.METRICS_PATH,
        )
        self.child = Child("seldon combiner", cmd, log, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def start(self, timeout_s: float = 60.0) -> LocalCombiner:
        start_until_ready(self.child, self.url, timeout_s)
        return self

    def stop(self) -> None:
        self.child.stop()


class LocalInterleaving:
    """Stable's and the canary's rankers plus the combiner, driven like the executor drives the graph."""

    def __init__(self, workdir: Path, stable: BundleInfo, canary: BundleInfo, score_buckets: str) -> None:
        child_env = {"RANKSHIP_INTERLEAVE_CHILD": "1"}
        self.children = [
            LocalModel(b.path, workdir / f"interleave-{t}.log", score_buckets, extra_env=child_env)
            for t, b in (("stable", stable), ("canary", canary))
        ]
        self.combiner = LocalCombiner(stable.version, canary.version, workdir / "interleave-combiner.log")
        self._local = threading.local()  # a Session per thread: requests' Session is not thread-safe
        self.pool = ThreadPoolExecutor(max_workers=8)

    def __enter__(self) -> LocalInterleaving:
        try:
            for child in self.children:
                child.start()
            self.combiner.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True)
        self.combiner.stop()
        for child in self.children:
            child.stop()

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        response = session.post(url, json=body, timeout=15)
        if response.status_code != 200:
            raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    def predict(self, request: dict[str, Any], puid: str | None = None) -> dict[str, Any]:
        """The interleaved answer: both children in parallel, then the combiner (the executor's order)."""
        return self.predict_timed(request, puid)[0]

    def predict_timed(self, request: dict[str, Any], puid: str | None = None) -> tuple[dict[str, Any], float]:
        """The interleaved answer and the milliseconds the combiner's hop took (for the benchmark)."""
        request = {**request, "meta": {"puid": puid or uuid.uuid4().hex}}
        futures = [self.pool.submit(self._post, c.url + PREDICT, request) for c in self.children]
        answers = [f.result() for f in futures]
        start = time.perf_counter()
        combined = self._post(self.combiner.url + AGGREGATE, {"seldonMessages": answers})
        return combined, (time.perf_counter() - start) * 1000.0

    def single(self, request: dict[str, Any], child: int = 0) -> dict[str, Any]:
        """One ranker alone (0 stable, 1 canary), as a plain predictor's executor calls it."""
        return self._post(self.children[child].url + PREDICT, {**request, "meta": {"puid": uuid.uuid4().hex}})

    def feedback(self, message: dict[str, Any]) -> dict[str, Any]:
        """Feedback to every node, as the executor sends it; the combiner's answer says what it counted."""
        futures = [self.pool.submit(self._post, c.url + FEEDBACK, message) for c in self.children]
        counted = self._post(self.combiner.url + FEEDBACK, message)
        for f in futures:
            f.result()
        return counted
