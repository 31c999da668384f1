"""Start and stop the real `seldon-core-microservice` (serving virtualenv) on free local ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.canary.local.processes import group_members

REPO = Path(__file__).resolve().parents[3]
SERVING_PYTHON = REPO / ".venv-serving" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServingProcess:
    """`python -m model.serving` (which execs seldon-core-microservice) in its own process group."""

    bundle: Path
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> ServingProcess:
        cmd = [
            str(SERVING_PYTHON), "-m", "model.serving", "--bundle", str(self.bundle),
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port), *self.extra_args,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("RANKSHIP_")} | self.env
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait(self, ready: bool = True, timeout: float = 60.0) -> requests.Response:
        """Poll /health/status until it answers 200 (ready=True) or any status (ready=False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"server exited early; log:\n{self.log()}")
            try:
                response = requests.get(f"{self.url}/health/status", timeout=2)
                if response.status_code == 200 or not ready:
                    return response
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"server not {'ready' if ready else 'up'} after {timeout}s; log:\n{self.log()}")

    def pids(self) -> set[int]:
        """Live processes in the server's group: REST master and workers, gRPC and metrics servers."""
        assert self.proc is not None
        return group_members(self.proc.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Children outlive the leader for a moment; the group must be empty before ports are reused.
        deadline = time.monotonic() + 10
        while (left := self.pids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None
