"""A real `seldon-core-microservice` (serving virtualenv) on free 127.0.0.1 ports, one per model version.

Faults, when asked for, come from `model.serving.faults.FaultyRanker`, a subclass started instead of the
production class; `faults=None` runs the production class itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from infra.canary.local.processes import Child, free_port
from infra.specs import naming as n

REPO = Path(__file__).resolve().parents[3]
SERVING_VENV = REPO / ".venv-serving"
PRODUCTION_CLASS = "model.serving.seldon_model.RankshipRanker"
FAULTY_CLASS = "model.serving.faults.FaultyRanker"


class ServingVenvMissing(RuntimeError):
    """The serving virtualenv is not built (`make serving-venv`)."""


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0
    error_every: int = 0

    def env(self) -> dict[str, str]:
        return {
            "RANKSHIP_FAULT_LATENCY_MS": str(self.latency_ms),
            "RANKSHIP_FAULT_ERROR_EVERY": str(self.error_every),
        }


class LocalModel:
    """One model version served by Seldon's Python wrapper, like one predictor's pod."""

    def __init__(
        self,
        bundle: Path,
        log: Path,
        score_buckets: str,
        faults: Faults | None = None,
        workers: int = 1,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        exe = SERVING_VENV / "bin" / "seldon-core-microservice"
        if not exe.exists():
            raise ServingVenvMissing(f"{exe} missing: run `make serving-venv` first")
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        cmd = [
            str(exe), FAULTY_CLASS if faults else PRODUCTION_CLASS, "--service-type", "MODEL",
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port), "--workers", str(workers), "--threads", "1",
            "--grpc-workers", "1", "--log-level", "WARNING",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RANKSHIP_", "PREDICTIVE_UNIT_"))}
        env.update(
            PYTHONPATH=str(REPO),
            RANKSHIP_BUNDLE=str(bundle),
            RANKSHIP_SCORE_BUCKETS=score_buckets,
            INCLUDE_METRICS_IN_CLIENT_RESPONSE="false",
            # What the operator sets in a cluster, and what the PodMonitor scrapes.
            PREDICTIVE_UNIT_METRICS_ENDPOINT=n.METRICS_PATH,
            **(faults.env() if faults else {}),
            **(extra_env or {}),
        )
        self.child = Child(f"seldon {bundle.name[:12]}", cmd, log, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def start(self, timeout_s: float = 90.0) -> LocalModel:
        """Start and wait for `/health/status` 200 (bundle verified, golden parity checked)."""
        start_until_ready(self.child, self.url, timeout_s)
        return self

    def stop(self) -> None:
        self.child.stop()


def target(model: LocalModel, labels: Mapping[str, str]) -> tuple[str, Mapping[str, str]]:
    """A Prometheus target for the model's metrics port with the PodMonitor's labels."""
    return model.metrics_address, labels


def start_until_ready(child: Child, url: str, timeout_s: float) -> None:
    """Start a Seldon microservice and wait for `/health/status` 200; stop it and raise if it never gets there."""
    child.start(cwd=REPO)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.running:
            raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
        try:
            if requests.get(f"{url}/health/status", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    tail = child.log_tail()
    child.stop()
    raise TimeoutError(f"{child.name} not ready after {timeout_s} s:\n{tail}")
