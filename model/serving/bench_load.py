"""The served half of `make bench-serve`: the real microservice, and clients that replay a request mix.

Every client walks the mix from its own offset over its own connection, so concurrent clients send
different requests (as a search front end does) and the server's product cache sees the mix's
recurrence, not one request repeated.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

Call = Callable[[], None]


def stats(latencies_s: Sequence[float], wall_s: float | None = None) -> dict[str, float]:
    ms = np.asarray(latencies_s) * 1000.0
    out = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}
    if wall_s:
        out["rps"] = len(ms) / wall_s
    return out


def _rest_caller(url: str, bodies: Sequence[bytes], offset: int) -> Callable[[], Any]:
    """One client's connection: a call POSTs the next body and returns the answer (status checked).

    http.client, the standard library's HTTP/1.1 client that urllib3 and requests build on: the client
    shares the 2 cores with the server, and it costs ~0.63 ms of CPU a request against urllib3's ~0.93
    (100 candidates, measured 2026-12-03), so less of the harness shows up in the server's figures. The
    benchmark prints the client's own CPU per request next to the wrapper's figures.
    """
    parts = urllib.parse.urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    cycle = itertools.islice(itertools.cycle(bodies), offset, None)

    def call() -> Any:
        # gunicorn's sync worker closes each connection; http.client opens the next one itself.
        connection.request("POST", path, body=next(cycle), headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"REST {response.status}: {data[:200]!r}")
        return response

    return call


def rest_client(url: str, bodies: Sequence[bytes]) -> Callable[[int], Call]:
    """A client factory: `make(offset)` walks the mix from `offset` over one connection."""

    def make(offset: int) -> Call:
        post = _rest_caller(url, bodies, offset)

        def call() -> None:
            post()

        return call

    return make


def server_timing(header: str | None) -> dict[str, float]:
    """`Server-Timing: predict;dur=5.1, app;dur=5.6;desc="fast path"` -> {"predict": 5.1, "app": 5.6}
    (ms); {} if absent."""
    out: dict[str, float] = {}
    for part in (header or "").split(","):
        name, *params = part.strip().split(";")
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur" and name:
                out[name] = float(value)
    return out


def rest_timed_client(url: str, bodies: Sequence[bytes]) -> Callable[[int], Callable[[], dict[str, float]]]:
    """Like rest_client, but each call returns the answer's Server-Timing (model/serving/rest_errors.py)."""

    def make(offset: int) -> Callable[[], dict[str, float]]:
        call = _rest_caller(url, bodies, offset)
        return lambda: server_timing(call().getheader("Server-Timing"))

    return make


def grpc_client(target: str, messages: Sequence[Any]) -> Callable[[int], Call]:
    """`messages` are SeldonMessage protos, built before the clock starts."""
    import grpc
    from seldon_core.proto import prediction_pb2_grpc

    def make(offset: int) -> Call:
        # One connection per client (own subchannel pool): with several gRPC workers, SO_REUSEPORT
        # spreads connections, not calls.
        channel = grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        stub = prediction_pb2_grpc.ModelStub(channel)
        cycle = itertools.islice(itertools.cycle(messages), offset, None)
        return lambda: stub.Predict(next(cycle), timeout=30) and None

    return make


def load(
    make_client: Callable[[int], Call],
    clients: int,
    seconds: float,
    offset: int,
    cpu: Callable[[], float] | None = None,
) -> dict[str, float]:
    """`clients` threads calling back to back for `seconds`; client i starts at `offset + 997 * i`.
    With `cpu` (the server's CPU seconds so far), also the server's CPU milliseconds per request."""
    results: list[list[float]] = [[] for _ in range(clients)]
    callers = [make_client(offset + 997 * i) for i in range(clients)]
    for call in callers:
        call()  # connect
    barrier = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        barrier.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            callers[i]()
            results[i].append(time.perf_counter() - start)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    wall, cpu_before = time.perf_counter(), cpu() if cpu else 0.0
    for t in threads:
        t.join()
    out = stats([x for r in results for x in r], time.perf_counter() - wall)
    if cpu:
        out["cpu_ms"] = (cpu() - cpu_before) * 1000.0 / out["n"]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in the group (Linux /proc; 0 elsewhere): the server's own cost,
    which a shared machine's load does not inflate the way it inflates latency."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid:  # fields[0] is the state: pgrp is the 5th field of stat
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@dataclass(frozen=True)
class Server:
    rest_url: str
    grpc_target: str
    metrics_url: str
    pgid: int

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.pgid)

    def cache_counts(self) -> tuple[float, float]:
        """(hits, misses) of the product cache, summed over the workers, from the metrics port."""
        text = requests.get(self.metrics_url, timeout=5).text
        totals = {"hits": 0.0, "misses": 0.0}
        for line in text.splitlines():
            for kind in totals:
                if line.startswith(f"rankship_product_cache_{kind}_total{{"):
                    totals[kind] += float(line.rsplit(" ", 1)[1])
        return totals["hits"], totals["misses"]


@contextmanager
def serving(bundle: Path, flags: list[str], env: dict[str, str]) -> Iterator[Server]:
    """The real microservice via `python -m model.serving`, stopped by process group."""
    http, grpc_port, metrics = _free_port(), _free_port(), _free_port()
    ports = ["--http-port", str(http), "--grpc-port", str(grpc_port), "--metrics-port", str(metrics)]
    cmd = [sys.executable, "-m", "model.serving", "--bundle", str(bundle), *ports, "--log-level", "WARNING"]
    proc = subprocess.Popen(
        [*cmd, *flags],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_ready(proc, f"http://127.0.0.1:{http}/health/status", f"{flags} {env}")
        yield Server(
            f"http://127.0.0.1:{http}/api/v1.0/predictions",
            f"127.0.0.1:{grpc_port}",
            f"http://127.0.0.1:{metrics}/metrics",
            proc.pid,
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=40)  # the entry point drains within RANKSHIP_DRAIN_SECONDS + 5
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left in the group, orphaned workers too
        proc.wait(timeout=10)
        time.sleep(1)  # let the workers' ports go


def _wait_ready(proc: subprocess.Popen[bytes], url: str, what: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            status = requests.get(url, timeout=2)
            if status.status_code == 200:
                return
            # A worker answers only after load(): 503 is a settled refusal (bundle, parity, settings).
            raise SystemExit(f"not ready ({what}): {status.json()['status']['info']}")
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"the microservice did not come up ({what})")
        time.sleep(0.3)
