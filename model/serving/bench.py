"""Serving benchmark (`make bench-serve`): prints figures, asserts nothing.

    .venv-serving/bin/python -m model.serving.bench --bundle DIR [--seconds 4] [--json out.json]

For one query x 100 and x 1,000 candidates it measures, on 127.0.0.1:

- in-process: `RankshipRanker.predict_raw` on the REST dict (validation, tokenizer, LiteRT, response)
  and `Scorer.invoke` alone (the model);
- REST and gRPC through the real seldon-core-microservice at 1 and 4 concurrent clients, for several
  gunicorn / gRPC worker and thread settings;

and reports p50/p99 latency and throughput. The wrapper overhead is measured in pairs: one in-process
`predict_raw` then one REST call, alternating, so both samples see the same (shared, noisy) CPUs;
overhead = REST percentile - in-process percentile of those paired samples.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import requests
import urllib3

from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings

SIZES = (100, 1000)
CLIENTS = (1, 4)


# (label, launcher flags, extra env). Seldon's advice is threads=1 under the GIL; the bench shows why.
def _flags(workers: int, threads: int) -> list[str]:
    rest = ["--workers", str(workers), "--threads", str(threads)]
    return [*rest, "--grpc-workers", str(workers), "--grpc-threads", str(threads)]


SETTINGS: list[tuple[str, list[str], dict[str, str]]] = [
    ("1 worker x 1 thread", _flags(1, 1), {}),
    ("1 worker x 4 threads", _flags(1, 4), {}),
    ("2 workers x 1 thread", _flags(2, 1), {}),
    ("1x1, LiteRT 2 threads", _flags(1, 1), {"RANKSHIP_LITERT_THREADS": "2"}),
]
WORDS = [
    *("red", "blue", "black", "running", "trail", "shoe", "shoes", "boot", "jacket", "denim", "cotton"),
    *("wool", "men", "women", "kids", "size", "small", "large", "waterproof", "lightweight", "leather"),
    *("sport", "classic", "slim", "fit", "pack", "mug", "bottle", "steel", "ceramic"),
]


def payload(candidates: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    cands = [
        {"id": f"p{i}", "title": words(rng.randint(4, 12)), "description": words(12)}
        for i in range(candidates)
    ]
    return {"jsonData": {"query": words(3), "candidates": cands}}


def stats(latencies_s: list[float], wall_s: float | None = None) -> dict[str, float]:
    ms = np.asarray(latencies_s) * 1000.0
    out = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}
    if wall_s:
        out["rps"] = len(ms) / wall_s
    return out


def loaded(bundle: Path) -> RankshipRanker:
    ranker = RankshipRanker(ServingSettings(bundle=bundle))
    ranker.load()
    if not ranker.ready:
        raise SystemExit(f"{bundle}: not servable, see the log above")
    return ranker


def in_process(ranker: RankshipRanker, seconds: float) -> dict[int, dict[str, dict[str, float]]]:
    scorer = ranker.scorer
    assert scorer is not None
    out: dict[int, dict[str, dict[str, float]]] = {}
    for n in SIZES:
        message = payload(n)
        request = ranker.parser.parse(message)
        tokens = scorer.tokens(request.query, request.texts)
        out[n] = {
            "predict_raw": stats(_repeat(partial(ranker.predict_raw, message), seconds)),
            "tokenize": stats(_repeat(partial(scorer.tokens, request.query, request.texts), seconds / 2)),
            "model": stats(_repeat(partial(scorer.invoke, tokens), seconds / 2)),
        }
    return out


def _repeat(fn: Callable[[], Any], seconds: float, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or len(latencies) < 20:
        start = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - start)
    return latencies


def load(make_client: Callable[[], Callable[[], None]], clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads, each with its own connection, calling back to back for `seconds`."""
    results: list[list[float]] = [[] for _ in range(clients)]
    callers = [make_client() for _ in range(clients)]
    for call in callers:
        for _ in range(3):
            call()  # connect and warm up
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
    wall = time.perf_counter()
    for t in threads:
        t.join()
    return stats([x for r in results for x in r], time.perf_counter() - wall)


def paired(ranker: RankshipRanker, url: str, seconds: float) -> dict[int, dict[str, Any]]:
    """Alternate in-process predict_raw and a REST call (1 client): the wrapper's cost under equal noise."""
    out: dict[int, dict[str, Any]] = {}
    for n in SIZES:
        message = payload(n)
        call = rest_client(url, json.dumps(message).encode())()
        local: list[float] = []
        remote: list[float] = []
        steps = ((partial(ranker.predict_raw, message), local), (call, remote))
        for fn, _ in steps * 3:
            fn()  # warm up both
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or len(local) < 20:
            for fn, into in steps:
                start = time.perf_counter()
                fn()
                into.append(time.perf_counter() - start)
        a, b = stats(local), stats(remote)
        out[n] = {"in_process": a, "rest": b, **{f"overhead_{q}": b[q] - a[q] for q in ("p50_ms", "p99_ms")}}
    return out


def rest_client(url: str, body: bytes) -> Callable[[], Callable[[], None]]:
    """urllib3 with one kept-alive connection per client: less client CPU than `requests` on 2 cores."""
    parts = urllib3.util.parse_url(url)
    host, path = parts.host or "127.0.0.1", parts.path or "/"

    def make() -> Callable[[], None]:
        pool = urllib3.HTTPConnectionPool(host, parts.port, maxsize=1)
        headers = {"Content-Type": "application/json"}

        def call() -> None:
            response = pool.urlopen("POST", path, body=body, headers=headers, retries=False)
            if response.status != 200:
                raise RuntimeError(f"REST {response.status}: {response.data[:200]!r}")

        return call

    return make


def grpc_client(target: str, message: dict[str, Any]) -> Callable[[], Callable[[], None]]:
    import grpc
    from seldon_core.proto import prediction_pb2_grpc
    from seldon_core.utils import json_to_seldon_message

    proto = json_to_seldon_message(message)

    def make() -> Callable[[], None]:
        # One connection per client (own subchannel pool): with several gRPC workers, SO_REUSEPORT
        # spreads connections, not calls.
        channel = grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        stub = prediction_pb2_grpc.ModelStub(channel)
        return lambda: stub.Predict(proto, timeout=30) and None

    return make


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(bundle: Path, flags: list[str], env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The real microservice via `python -m model.serving`; yields (REST predict URL, gRPC target)."""
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
        deadline = time.monotonic() + 90
        while True:
            try:
                status = requests.get(f"http://127.0.0.1:{http}/health/status", timeout=2)
                if status.status_code == 200:
                    break
                # A worker answers only after load(): 503 is a settled refusal (bundle, parity, settings).
                raise SystemExit(f"not ready ({flags}, {env}): {status.json()['status']['info']}")
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the microservice did not come up ({flags}, {env})")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{http}/api/v1.0/predictions", f"127.0.0.1:{grpc_port}"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        time.sleep(1)  # let the workers' ports go


ROW = "{transport:<8} {setting:<22} {candidates:>5} {clients:>7} {p50_ms:>8.2f} {p99_ms:>8.2f} {rps:>7.1f}"
HEADER = (
    f"{'transport':<8} {'setting':<22} {'cands':>5} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"
)


def measure_setting(label: str, url: str, target: str, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for n in SIZES:
        message = payload(n)
        # gRPC twice: jsonData (a protobuf Struct) and strData (one string field), see docs/serving.md (gRPC and protobuf).
        clients_of = {
            "REST": rest_client(url, json.dumps(message).encode()),
            "gRPC": grpc_client(target, message),
            "gRPC-str": grpc_client(target, {"strData": json.dumps(message["jsonData"])}),
        }
        for transport, make in clients_of.items():
            for clients in CLIENTS:
                row = {"transport": transport, "setting": label, "candidates": n, "clients": clients}
                row.update(load(make, clients, seconds))
                print(ROW.format(**row), flush=True)
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    print(f"bundle {args.bundle}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    ranker = loaded(args.bundle)
    figures: dict[str, Any] = {"in_process": in_process(ranker, args.seconds), "served": []}
    for n, parts in figures["in_process"].items():
        line = "  ".join(f"{k} p50 {v['p50_ms']:.2f} / p99 {v['p99_ms']:.2f} ms" for k, v in parts.items())
        print(f"in-process {n:>5} cands  {line}", flush=True)
    print(HEADER)
    for label, flags, env in SETTINGS:
        with serving(args.bundle, flags, env) as (url, target):
            if "overhead" not in figures:  # measured against the first (Seldon's default) setting
                figures["overhead"] = paired(ranker, url, args.seconds)
            figures["served"] += measure_setting(label, url, target, args.seconds)
    for line in summary(figures):
        print(line)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def summary(figures: dict[str, Any]) -> list[str]:
    """Target-relevant lines: REST at 1 client vs in-process (paired), best throughput."""
    lines = []
    for n in SIZES:
        pair = figures["overhead"][n]
        local, rest = pair["in_process"], pair["rest"]
        best = max((r for r in figures["served"] if r["candidates"] == n), key=lambda r: r["rps"])
        lines.append(
            f"{n} candidates, paired at 1 client ({SETTINGS[0][0]}): "
            f"REST p50 {rest['p50_ms']:.2f} / p99 {rest['p99_ms']:.2f} ms, "
            f"in-process p50 {local['p50_ms']:.2f} / p99 {local['p99_ms']:.2f} ms, "
            f"wrapper overhead p50 {pair['overhead_p50_ms']:.2f} / p99 {pair['overhead_p99_ms']:.2f} ms; "
            f"best throughput {best['rps']:.1f} req/s ({best['transport']}, {best['setting']}, "
            f"{best['clients']} clients)"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
