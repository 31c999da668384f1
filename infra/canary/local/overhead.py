"""Serving overhead of the interleaving predictor (two rankers + the combiner) against a single ranker.

    python -m infra.canary.local.overhead [--bundles STABLE CANARY] [--requests 300] [--candidates 100]

On 127.0.0.1, one client, sequential requests of `--candidates` candidates (top_k 10): "single" posts each
request to one ranker (a plain predictor's node); "interleaved" does what the executor does for the
interleaving graph (`interleaved.py`): both rankers in parallel, then the combiner's aggregate. Both are
measured from the client, so Seldon's executor, which sits in front of either in a cluster, is left out of
both. Without --bundles: the two newest bundles under artifacts/bundles (what `make demo` ships), or the
newest and its copy under another version when there is one; only when there is none, the untrained
`default`-preset fixture bundle, announced as such. Every process stops at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.canary.local.interleaved import LocalInterleaving
from infra.canary.local.load import ranking_request
from infra.canary.local.serving import REPO
from infra.canary.local.trained import rebundled
from model.release.bundle import BundleInfo, bundles_newest_first, verify_bundle

SCORE_BUCKETS = ",".join(f"{x / 2:g}" for x in range(-16, 17))


def percentiles(ms: Sequence[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds, by the inclusive method (well defined for a few hundred samples)."""
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


def timed(call: Callable[[dict[str, Any]], Any], requests: Sequence[dict[str, Any]]) -> list[float]:
    out = []
    for request in requests:
        start = time.perf_counter()
        call(request)
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def shipped_bundles(bundles: Path, root: Path) -> tuple[BundleInfo, BundleInfo] | None:
    """(stable, canary) from the bundles under `bundles`: the newest as stable, the one before as the
    canary, or the newest re-bundled under another version (same model files) when it is alone."""
    found = bundles_newest_first(bundles)
    if not found:
        return None
    stable = verify_bundle(found[0])
    if len(found) > 1:
        return stable, verify_bundle(found[1])
    return stable, rebundled(stable, "overhead-canary", root)


def fixture_bundles(root: Path) -> tuple[BundleInfo, BundleInfo]:
    script = REPO / "tests" / "model" / "serving" / "fixture_bundle.py"
    path = (
        subprocess.run(
            [sys.executable, str(script), str(root), "--preset", "default"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    stable = verify_bundle(Path(path))
    return stable, rebundled(stable, "overhead-canary", root)


def measure(
    stable: BundleInfo, canary: BundleInfo, workdir: Path, n: int, candidates: int
) -> dict[str, list[float]]:
    rng = random.Random(7)
    requests = [{"jsonData": {**ranking_request(rng, candidates)["jsonData"], "top_k": 10}} for _ in range(n)]
    with LocalInterleaving(workdir, stable, canary, SCORE_BUCKETS) as live:
        timed(live.single, requests[:20])  # warm-up: connections, first allocations
        timed(live.predict, requests[:20])
        # Alternating blocks, so that a slow spell of this shared machine hits both alike.
        single, interleaved, combiner = [], [], []
        for i in range(0, n, 50):
            single += timed(live.single, requests[i : i + 50])
            interleaved += timed(lambda r: combiner.append(live.predict_timed(r)[1]), requests[i : i + 50])
    return {"single": single, "interleaved": interleaved, "combiner": combiner}


def report(results: dict[str, list[float]], candidates: int) -> str:
    (s50, s99), (i50, i99) = percentiles(results["single"]), percentiles(results["interleaved"])
    c50, c99 = percentiles(results["combiner"])
    return "\n".join(
        [
            f"| path ({candidates} candidates, {len(results['single'])} requests) | p50 ms | p99 ms |",
            "|---|---:|---:|",
            f"| single ranker | {s50:.1f} | {s99:.1f} |",
            f"| interleaving: 2 rankers in parallel + combiner | {i50:.1f} | {i99:.1f} |",
            f"| overhead | +{i50 - s50:.1f} | +{i99 - s99:.1f} |",
            f"| of which the combiner's hop (aggregate call) | {c50:.1f} | {c99:.1f} |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m infra.canary.local.overhead", description=__doc__.split("\n")[0]
    )
    p.add_argument("--bundles", type=Path, nargs=2, metavar=("STABLE", "CANARY"))
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--candidates", type=int, default=100)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="interleave-overhead-") as tmp:
        shipped = None if args.bundles else shipped_bundles(REPO / "artifacts" / "bundles", Path(tmp))
        if args.bundles:
            stable, canary = (verify_bundle(b) for b in args.bundles)
        elif shipped is not None:
            stable, canary = shipped
            print(f"shipped bundles (artifacts/bundles): {stable.version}, {canary.version}", flush=True)
        else:
            stable, canary = fixture_bundles(Path(tmp) / "bundles")
            print(
                f"!!! no bundle under artifacts/bundles: UNTRAINED fixture bundles (default preset): "
                f"{stable.version}, {canary.version}; run `make demo` for the shipped one !!!",
                flush=True,
            )
        results = measure(stable, canary, Path(tmp), args.requests, args.candidates)
    print(report(results, args.candidates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
