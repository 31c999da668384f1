"""`make bench-model`: run the whole pipeline on the synthetic default and on Crowdflower, print figures.

Each run is a subprocess, so wall time and peak memory (max RSS of the child) are the pipeline's own.
Targets (issue 2) are printed beside the measured values; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from model.evaluation.record import RunRecord

ROOT = Path(__file__).resolve().parents[2]
CROWDFLOWER = ROOT.parent / "shared" / "data" / "crowdflower" / "crowdflower-search-relevance.csv.gz"


@dataclass(frozen=True)
class Run:
    name: str
    args: tuple[str, ...]


def _pipeline(run: Run, out: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in GiB, exit code."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-m", "model", "pipeline", "--out", str(out), "--no-progress", *run.args],
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    peak_kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return wall, peak_kib / 1024 / 1024, proc.returncode


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def summarize(name: str, record: RunRecord, wall: float, peak_gib: float) -> list[str]:
    fp32 = record.variant("fp32").metrics
    fp32_tflite = record.variant("fp32_tflite_float32").metrics
    lines = [
        f"== {name} ==",
        f"pipeline wall time {wall:.0f} s (target <= 600 s); peak memory {peak_gib:.2f} GiB (target <= 4 GiB)",
        f"{'variant':40} {'NDCG@10':>8} {'gzip KiB':>9} {'p50 ms':>7} {'p99 ms':>7}",
    ]
    for v in record.variants:
        m = v.metrics
        lines.append(
            f"{v.name:40} {m['ndcg@10']:8.4f} {m['size_gzip_bytes'] / 1024:9.1f} "
            f"{m['latency_p50_ms']:7.2f} {m['latency_p99_ms']:7.2f}"
        )
    lines.append(
        f"BM25 NDCG@10 {record.bm25['ndcg@10']:.4f}; fp32 model {fp32['ndcg@10']:.4f} "
        f"({fp32['ndcg@10'] - record.bm25['ndcg@10']:+.4f}; target: model beats BM25)"
    )
    if record.shipped is None:
        lines.append("shipped: NONE (gate failed)")
        return lines
    s = record.variant(record.shipped).metrics
    lines += [
        f"shipped: {record.shipped}",
        f"  gzipped size fp32 .tflite / shipped: {_ratio(fp32_tflite['size_gzip_bytes'], s['size_gzip_bytes'])}"
        " (target >= 4x)",
        f"  p99 fp32 SavedModel / shipped: {_ratio(fp32['latency_p99_ms'], s['latency_p99_ms'])} (target >= 3x)",
        f"  NDCG@10 shipped vs fp32: {(s['ndcg@10'] - fp32['ndcg@10']) / fp32['ndcg@10']:+.2%} (target within 1 %)",
        f"  shipped vs BM25 NDCG@10: {s['ndcg@10'] - record.bm25['ndcg@10']:+.4f}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__)
    p.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    p.add_argument("--only", choices=("synthetic", "crowdflower"), default=None)
    args = p.parse_args(argv)
    runs = [Run("synthetic", ("--preset", "default"))]
    if CROWDFLOWER.exists():
        runs.append(Run("crowdflower", ("--config", str(ROOT / "model" / "configs" / "crowdflower.yaml"))))
    else:
        print(f"crowdflower: skipped, {CROWDFLOWER} is absent (it lives in ../shared, not in a clone)")
    runs = [r for r in runs if args.only in (None, r.name)]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        report: list[str] = []
        for run in runs:
            out = root / run.name
            wall, peak, code = _pipeline(run, out)
            if code not in (0, 1):
                print(f"{run.name}: pipeline failed with exit code {code}", file=sys.stderr)
                return code
            report += summarize(run.name, RunRecord.load(out / "report" / "metrics.json"), wall, peak)
        print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
