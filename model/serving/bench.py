"""Serving benchmark (`make bench-serve`): prints figures, asserts nothing.

    .venv-serving/bin/python -m model.serving.bench --bundle DIR --mix mix.json [--seconds 4] [--json out]

On a request mix drawn from the catalog (model/bench/request_mix.py: real queries, their candidates and
the retriever's, products recurring across queries), for 100 and 1,000 candidates:

1. the stage breakdown in-process (model/serving/bench_stages.py) next to the raw LiteRT `invoke()`
   floor, at 1 and 2 LiteRT threads, and the product cache's hit rate for several sizes;
2. the wrapper's cost: one in-process request (JSON bytes -> predict_raw -> JSON bytes) then one REST
   call on the same body, alternating, 1 client, so both see the same (shared, noisy) CPUs; the wrapper
   is each REST round trip minus the server's own predict_raw time for that request (its Server-Timing
   header), with and without the REST fast path (model/serving/rest_fastpath.py);
3. REST, gRPC (jsonData) and gRPC (strData) through the real seldon-core-microservice at 1 and 4
   concurrent clients, for several gunicorn worker/thread and LiteRT thread settings, with the server's
   own CPU milliseconds per request (all its processes: a figure that a shared machine's load does not
   inflate the way it inflates latency; 2 cores serve at most ~2000 / that many requests a second).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from model.release.bundle import run_dir
from model.serving import bench_load as bl
from model.serving import bench_stages as bs
from model.serving import jsonio
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings

CLIENTS = (1, 4)
GRPC_JSON_REQUESTS = {100: 60, 1000: 10}  # pure-Python protobuf: building these is slow


def _flags(workers: int, threads: int) -> list[str]:
    return ["--workers", str(workers), "--threads", str(threads), "--grpc-workers", str(workers)]


# (label, launcher flags, LiteRT threads). On 2 cores: a second process, or a second LiteRT thread.
SETTINGS: list[tuple[str, list[str], int]] = [
    ("1 worker x 1, LiteRT 1", _flags(1, 1), 1),
    ("1 worker x 1, LiteRT 2", _flags(1, 1), 2),
    ("2 workers x 1, LiteRT 1", _flags(2, 1), 1),
    ("1 worker x 4, LiteRT 1", _flags(1, 4), 1),
    ("2 workers x 1, LiteRT 2", _flags(2, 1), 2),
]


def loaded(bundle: Path, litert_threads: int) -> RankshipRanker:
    ranker = RankshipRanker(ServingSettings(bundle=bundle, litert_threads=litert_threads))
    ranker.load()
    if not ranker.ready:
        raise SystemExit(f"{bundle}: not servable, see the log above")
    return ranker


def describe_bundle(bundle: Path) -> str:
    """Bundle id and variant; a loud warning for the untrained fixture. A shipped bundle's figures live
    beside it (`<bundle>.run/metrics.json`); the fixture carries its own."""
    figures = run_dir(bundle) / "metrics.json"
    if not figures.exists():
        figures = bundle / "metrics.json"
    if not figures.exists():
        return f"bundle {bundle.name[:12]} ({bundle}): no metrics.json beside it, variant unknown"
    metrics = json.loads(figures.read_text(encoding="utf-8"))
    variant = metrics.get("shipped") or "none"
    if variant == "none" or "fixture" in str(metrics.get("note", "")):
        return f"bundle {bundle.name[:12]}: !!! UNTRAINED FIXTURE, not a shipped model: run `make demo` first !!!"
    return f"bundle {bundle.name[:12]} ({bundle}), variant {variant}, preset {metrics.get('preset')}"


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def stage_table(ranker: RankshipRanker, mix: dict[int, list[bytes]], count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    codec = (jsonio.loads, jsonio.dumps)
    for n, bodies in mix.items():
        bs.stage_times(ranker, bodies, 10, codec)  # warm up
        times = bs.stage_times(ranker, bodies, count if n == 100 else max(20, count // 10), codec)
        out[str(n)] = bs.summarise(times)
    return out


def print_stages(label: str, table: dict[str, Any]) -> None:
    print(
        f"\nstage breakdown, in-process, 1 client, {label}\n(wall p50 / p99 ms, wall p50 as a multiple of the"
        " floor's, CPU p50 ms: the process's CPU time, which a busy machine stretches far less)"
    )
    sizes = list(table)
    print(f"{'stage':<22}" + "".join(f"{n + ' cands':>38}" for n in sizes))
    for name in (*bs.STAGES, "total", "floor"):
        cells = "".join(
            f"{c['p50_ms']:>10.2f} {c['p99_ms']:>9.2f} {c['x_floor']:>7.2f}x {c['cpu_p50_ms']:>8.2f}"
            for c in (table[n][name] for n in sizes)
        )
        print(f"{'raw invoke floor' if name == 'floor' else name:<22}{cells}")


def paired(
    ranker: RankshipRanker, server: bl.Server, mix: dict[int, list[bytes]], seconds: float
) -> dict[str, Any]:
    """In-process (bytes -> predict_raw -> bytes) then REST on the same body, alternating; also the CPU
    each costs: this process's for in-process, the server's process group's for REST.

    The wrapper's own cost is read off each REST answer: the round trip minus the server's `predict_raw`
    time for that very request (its Server-Timing header), split into the HTTP side (client, loopback TCP,
    gunicorn: round trip minus the server's whole app time) and the route (Flask or the fast path around
    `predict_raw`). REST minus the in-process call next to it is kept too: two different calls, so it
    also holds the model's own jitter between them.
    """
    out: dict[str, Any] = {}
    for n, bodies in mix.items():
        rest = bl.rest_timed_client(server.rest_url, bodies)(0)
        local: list[float] = []
        remote: list[float] = []
        timings: list[dict[str, float]] = []
        client_cpu: list[float] = []  # the benchmark client's own CPU in each REST call
        local_cpu = 0.0
        cycle = itertools.cycle(bodies)
        for _ in range(5):  # warm up both
            body = next(cycle)
            ranker.predict_raw(jsonio.loads(body))
            rest()
        deadline, server_cpu = time.monotonic() + seconds, server.cpu_seconds()  # idle between REST calls
        while time.monotonic() < deadline or len(local) < 20:
            body = next(cycle)
            start, cpu0 = time.perf_counter(), time.process_time()
            jsonio.dumps(ranker.predict_raw(jsonio.loads(body)))
            mid, cpu1 = time.perf_counter(), time.process_time()
            timings.append(rest())  # the client walks the same cycle, so it sends this body
            end, cpu2 = time.perf_counter(), time.process_time()
            local.append(mid - start)
            remote.append(end - mid)
            client_cpu.append(cpu2 - cpu1)
            local_cpu += cpu1 - cpu0
        server_cpu = server.cpu_seconds() - server_cpu
        predict = [t["predict"] / 1000.0 for t in timings]
        app = [t["app"] / 1000.0 for t in timings]
        a, b = bl.stats(local), bl.stats(remote)
        out[str(n)] = {
            "in_process": {**a, "cpu_ms": 1000 * local_cpu / len(local)},
            "rest": {**b, "cpu_ms": 1000 * server_cpu / len(remote)},
            "served_predict": bl.stats(predict),
            # Per request: what the wrapper adds to the model's own time, and its two parts.
            "wrapper": bl.stats([r - p for r, p in zip(remote, predict, strict=True)]),
            "http": bl.stats([r - q for r, q in zip(remote, app, strict=True)]),
            "route": bl.stats([q - p for q, p in zip(app, predict, strict=True)]),
            "client_cpu": bl.stats(client_cpu),
            # The server's share: also without the client's own CPU time in that round trip.
            "wrapper_server": bl.stats(
                [r - p - c for r, p, c in zip(remote, predict, client_cpu, strict=True)]
            ),
            # Per pair: REST minus in-process on the same body, moments apart.
            "rest_minus_local": {
                **bl.stats([r - q for q, r in zip(local, remote, strict=True)]),
                "cpu_ms": 1000 * (server_cpu - local_cpu) / len(local),
            },
        }
    return out


def grpc_messages(payloads: dict[int, list[dict[str, Any]]]) -> dict[str, dict[int, list[Any]]]:
    from seldon_core.utils import json_to_seldon_message

    return {
        "gRPC-json": {
            n: [json_to_seldon_message({"jsonData": p}) for p in ps[: GRPC_JSON_REQUESTS[n]]]
            for n, ps in payloads.items()
        },
        "gRPC-str": {
            n: [json_to_seldon_message({"strData": json.dumps(p)}) for p in ps] for n, ps in payloads.items()
        },
    }


ROW = (
    "{transport:<10} {setting:<24} {candidates:>5} {clients:>7} {p50_ms:>8.2f} {p99_ms:>8.2f} {rps:>7.1f}"
    " {cpu_ms:>9.2f}"
)
HEADER = (
    f"{'transport':<10} {'setting':<24} {'cands':>5} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"
    f" {'CPU ms/req':>9}"
)


def served(
    bundle: Path,
    mix: dict[int, list[bytes]],
    protos: dict[str, dict[int, list[Any]]],
    seconds: float,
    chosen: list[int],
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    print(f"\nserved through seldon-core-microservice ({load_line()})\n{HEADER}", flush=True)
    for label, flags, litert in (SETTINGS[i] for i in chosen):
        env = {"RANKSHIP_LITERT_THREADS": str(litert)}
        with bl.serving(bundle, flags, env) as server:
            offset = 0
            for n in mix:
                clients_of = {"REST": bl.rest_client(server.rest_url, mix[n])}
                clients_of.update(
                    {t: bl.grpc_client(server.grpc_target, by_n[n]) for t, by_n in protos.items()}
                )
                for transport, make in clients_of.items():
                    for clients in CLIENTS:
                        row = {"transport": transport, "setting": label, "candidates": n, "clients": clients}
                        row.update(bl.load(make, clients, seconds, offset, server.cpu_seconds))
                        offset += int(row["n"])  # the next measurement continues through the mix
                        print(ROW.format(**row), flush=True)
                        rows.append(row)
            hits, misses = server.cache_counts()
            rate = hits / (hits + misses) if hits + misses else 0.0
            print(
                f"{'':<10} {label:<24} product cache hit rate {rate:.1%} ({hits:.0f} hits, {misses:.0f} misses)"
            )
    return rows


def read_mix(path: Path) -> tuple[dict[str, Any], dict[int, list[dict[str, Any]]]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    payloads = {int(n): [m["unique"][i] for i in m["order"]] for n, m in doc["requests"].items()}
    return doc, payloads


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--mix", type=Path, required=True, help="from python -m model.bench.request_mix")
    parser.add_argument("--seconds", type=float, default=4.0, help="per served measurement")
    parser.add_argument("--requests", type=int, default=400, help="in-process requests of 100 candidates")
    every = ",".join(str(i) for i in range(len(SETTINGS)))
    parser.add_argument("--settings", default=every, help="indices into SETTINGS (0: Seldon's default)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def in_process(
    bundle: Path, mix: dict[int, list[bytes]], payloads: dict[int, list[Any]], count: int
) -> dict[str, Any]:
    """Stage tables at LiteRT 1 and 2 threads, and the cache sweep; the 1-thread ranker for pairing."""
    figures: dict[str, Any] = {"stages": {}}
    rankers = {t: loaded(bundle, t) for t in (1, 2)}
    for threads, ranker in rankers.items():
        figures["stages"][f"litert_{threads}"] = table = stage_table(ranker, mix, count)
        print_stages(
            f"LiteRT {threads} thread(s), product cache {ranker.settings.product_cache} entries", table
        )
    print(f"\nproduct cache: tokenize the first {count} requests of 100, a fresh cache each ({load_line()})")
    sizes = (0, 2000, ServingSettings().product_cache)
    figures["cache"] = bs.cache_sweep(rankers[1], payloads[100][:count], sizes)
    for row in figures["cache"]:
        print(
            f"  {row['entries']:>6} entries: hit rate {row['hit_rate']:6.1%}, tokenize p50 {row['p50_ms']:.2f} / p99 {row['p99_ms']:.2f} ms"
        )
    figures["ranker"] = rankers[1]
    return figures


def print_overall(figures: dict[str, Any]) -> None:
    """The per-stage table of the default setting: in-process stages, the wrapper (paired), REST."""
    print(
        f"\nper stage at 1 client, {SETTINGS[0][0]} (wall p50 / p99 ms, wall p50 / the invoke floor's p50,"
        " CPU ms: p50 for the in-process stages, mean for REST - in-process and REST, the server's processes; none for the wrapper rows)"
    )
    for n, pair in figures["paired"].items():
        stages = figures["stages"]["litert_1"][n]
        floor = stages["floor"]["p50_ms"]
        rows = [(name, stages[name]) for name in (*bs.STAGES, "floor")]
        rows += [("served predict_raw", pair["served_predict"]), ("wrapper", pair["wrapper"])]
        rows += [("  HTTP side", pair["http"]), ("  route", pair["route"])]
        rows += [("  client's CPU", pair["client_cpu"]), ("wrapper - client", pair["wrapper_server"])]
        rows += [("REST - in-process", pair["rest_minus_local"]), ("REST total", pair["rest"])]
        print(f"  {n} candidates")
        for name, row in rows:
            label = "raw invoke floor" if name == "floor" else name
            cpu = row.get("cpu_p50_ms", row.get("cpu_ms", float("nan")))
            print(
                f"    {label:<19} {row['p50_ms']:>9.2f} {row['p99_ms']:>9.2f} {row['p50_ms'] / floor:>7.2f}x"
                f" {cpu:>8.2f}"
            )
    print(
        "  wrapper = REST round trip - the server's predict_raw time for the same request (Server-Timing);"
        " HTTP side = client, loopback TCP, gunicorn; route = the fast path (or Flask) around predict_raw;"
        " client's CPU = this benchmark's own (http.client) CPU time in each round trip, wrapper - client"
        " = the wrapper without it"
    )


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    # A stopped benchmark still stops the microservice it started (the `serving` context's finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(describe_bundle(args.bundle), flush=True)
    print(f"machine: {load_line()}")
    doc, payloads = read_mix(args.mix)
    mix = {n: [jsonio.dumps({"jsonData": p}) for p in ps] for n, ps in payloads.items()}
    sizes = ", ".join(
        f"{len(ps)} requests of {n} ({bs.distinct_products(ps)} distinct products)"
        for n, ps in payloads.items()
    )
    print(f"request mix: {doc['source']}: {doc['products']} products, {doc['queries']} queries; {sizes}")
    figures = in_process(args.bundle, mix, payloads, args.requests)
    ranker = figures.pop("ranker")
    with bl.serving(args.bundle, SETTINGS[0][1], {"RANKSHIP_LITERT_THREADS": "1"}) as server:
        figures["paired"] = paired(ranker, server, mix, args.seconds)
    print_overall(figures)
    # The same through Flask only: what the fast path (model/serving/rest_fastpath.py) saves.
    flask_only = {"RANKSHIP_LITERT_THREADS": "1", "RANKSHIP_REST_FAST_PATH": "0"}
    with bl.serving(args.bundle, SETTINGS[0][1], flask_only) as server:
        figures["paired_flask"] = paired(ranker, server, mix, args.seconds)
    for n, pair in figures["paired_flask"].items():
        fast = figures["paired"][n]
        print(
            f"  {n} candidates, RANKSHIP_REST_FAST_PATH=0 (every request through Flask): wrapper"
            f" {pair['wrapper']['p50_ms']:.2f} / {pair['wrapper']['p99_ms']:.2f} ms, route"
            f" {pair['route']['p50_ms']:.2f} / {pair['route']['p99_ms']:.2f} ms (fast path: wrapper"
            f" {fast['wrapper']['p50_ms']:.2f} / {fast['wrapper']['p99_ms']:.2f}, route"
            f" {fast['route']['p50_ms']:.2f} / {fast['route']['p99_ms']:.2f})"
        )
    chosen = [int(i) for i in args.settings.split(",")]
    figures["served"] = served(args.bundle, mix, grpc_messages(payloads), args.seconds, chosen)
    for n in mix:
        best = max((r for r in figures["served"] if r["candidates"] == n), key=lambda r: r["rps"])
        print(
            f"best throughput, {n} cands: {best['rps']:.1f} req/s ({best['transport']}, {best['setting']}, {best['clients']} clients)"
        )
    print(f"machine at the end: {load_line()}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
