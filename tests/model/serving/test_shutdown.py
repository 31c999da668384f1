"""SIGTERM on the serving entry point, as the kubelet sends it: to the leader (PID 1 in a pod) only.

The requests in flight (REST and gRPC, each held 2 s by the fault-injecting subclass) are answered, then
every process of the server exits by itself within the drain bound; nothing is left listening. Bounded: one
server, two requests, at most ~20 s; processes stopped by process group whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests

from model.release.bundle import BundleInfo
from tests.model.serving.serving_process import REPO, ServingProcess

pytestmark = pytest.mark.e2e

PREDICT = "/api/v1.0/predictions"
REQUEST = {"query": "red running shoes", "candidates": [{"id": "p1", "title": "Red running shoe"}]}
HOLD_MS, DRAIN_S = 2000, 6


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class SlowServer(ServingProcess):
    """The entry point on `FaultyRanker`, every request held HOLD_MS inside the model."""

    def start(self) -> SlowServer:
        cmd = [
            str(self.python), "-m", "model.serving.entrypoint", "model.serving.faults.FaultyRanker",
            "--service-type", "MODEL", "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port), "--workers", "1", "--grpc-workers", "1",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("RANKSHIP_")} | {
            "RANKSHIP_BUNDLE": str(self.bundle),
            "RANKSHIP_FAULT_LATENCY_MS": str(HOLD_MS),
            "RANKSHIP_DRAIN_SECONDS": str(DRAIN_S),
            "INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false",
            "PYTHONPATH": str(REPO),
        }
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self


@pytest.fixture
def slow_server(serving_python: Path, bundle: BundleInfo, tmp_path: Path) -> Any:
    server = SlowServer(bundle.path, tmp_path / "seldon.log")
    server.python = serving_python  # type: ignore[attr-defined]
    server.start()
    try:
        server.wait(ready=True)
        yield server
    finally:
        server.stop()  # SIGTERM, then SIGKILL, to the whole group: nothing outlives the test


def test_sigterm_drains_rest_and_grpc_then_everything_exits(
    slow_server: SlowServer, serving_python: Path
) -> None:
    results: dict[str, Any] = {}

    def rest() -> None:
        results["rest"] = requests.post(slow_server.url + PREDICT, json={"jsonData": REQUEST}, timeout=15)

    # The SeldonMessage bytes come from the serving virtualenv (Seldon's stubs live there); this process
    # sends them raw, so the call is in flight the moment the thread starts.
    message = _seldon_message_bytes(serving_python)

    def call_grpc() -> None:
        with grpc.insecure_channel(slow_server.grpc_target) as channel:
            predict = channel.unary_unary("/seldon.protos.Model/Predict")
            try:
                results["grpc"] = {"ok": True, "bytes": len(predict(message, timeout=15))}
            except grpc.RpcError as e:
                results["grpc"] = {"ok": False, "code": e.code().name, "details": e.details()}

    assert listening(slow_server.grpc_port) and listening(slow_server.http_port)
    callers = [threading.Thread(target=rest), threading.Thread(target=call_grpc)]
    for t in callers:
        t.start()
    time.sleep(HOLD_MS / 4000)  # both requests are inside the model now
    assert slow_server.proc is not None
    signalled = time.monotonic()
    os.kill(slow_server.proc.pid, signal.SIGTERM)  # the leader only, like the kubelet
    code = slow_server.proc.wait(timeout=DRAIN_S + 10)
    stopped = time.monotonic() - signalled
    for t in callers:
        t.join(timeout=20)

    assert code == 0, slow_server.log()[-3000:]
    assert stopped < DRAIN_S + 5, f"took {stopped:.1f} s"
    assert (
        results["rest"].status_code == 200 and results["rest"].json()["jsonData"]["results"][0]["id"] == "p1"
    )
    assert results["grpc"]["ok"], results["grpc"]
    # Every child exited by itself: no process of the group left, no port listening.
    deadline = time.monotonic() + 3
    while slow_server.pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slow_server.pids() == set()
    assert not listening(slow_server.grpc_port) and not listening(slow_server.http_port)


def _seldon_message_bytes(serving_python: Path) -> bytes:
    code = (
        "import json, sys; from seldon_core.utils import json_to_seldon_message; "
        "print(json_to_seldon_message(json.loads(sys.stdin.read())).SerializeToString().hex())"
    )
    done = subprocess.run(
        [str(serving_python), "-c", code], input=json.dumps({"jsonData": REQUEST}),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return bytes.fromhex(done.stdout.strip())


def test_a_server_that_dies_takes_the_others_down(slow_server: SlowServer) -> None:
    # Kubernetes restarts a container whose main process exits; with one server dead (say gRPC) and the
    # other alive it would keep serving half a model forever.
    assert slow_server.proc is not None
    leader = slow_server.proc.pid
    children = [p for p in slow_server.pids() if _parent(p) == leader]
    # Seldon's metrics Manager (forked first, by SeldonMetrics), then REST, gRPC and metrics: the newest is
    # the metrics server.
    assert len(children) == 4, children
    os.kill(max(children), signal.SIGKILL)
    assert slow_server.proc.wait(timeout=DRAIN_S + 10) == 1
    assert not listening(slow_server.grpc_port) and not listening(slow_server.http_port)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1
