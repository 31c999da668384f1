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

from model.bench import leakage
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


def _delta(record: RunRecord, candidate: str, reference: str, metric: str = "ndcg@10") -> str:
    d = record.delta(candidate, reference, "test", metric)
    if d is None:
        return "n/a"
    return f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}]"


# fp32 - <row> is what the ingredient the row lacks adds (model/ranker/recipe.py's 2x2).
_RECIPE_EFFECTS = (
    ("no_pretrain", "pre-training adds (fp32 - no_pretrain)"),
    ("no_distill", "distillation adds (fp32 - no_distill)"),
    ("scratch", "the whole recipe adds (fp32 - scratch)"),
)


def _effect(record: RunRecord, row: str, metric: str = "ndcg@10") -> str | None:
    """fp32 - `row` on test with its interval (the record holds row - fp32: negate and swap the ends)."""
    d = record.delta(row, "fp32", "test", metric)
    if d is None:
        return None
    return f"{-d.estimate:+.4f} [{-d.high:+.4f}, {-d.low:+.4f}] ({d.queries} queries)"


def summarize(name: str, record: RunRecord, wall: float, peak_gib: float) -> list[str]:
    """Figures of one run: test split quality (selection happened on valid), intervals, gains, leakage."""
    fp32 = record.variant("fp32").metrics
    fp32_tflite = record.variant("fp32_tflite_float32").metrics
    strongest = record.strongest_lexical
    lines = [
        f"== {name} ==",
        f"pipeline wall time {wall:.0f} s (target <= 600 s); peak memory {peak_gib:.2f} GiB (target <= 4 GiB)",
        f"{'ranker':40} {'valid':>7} {'test':>7} {'gzip KiB':>9} {'p50 ms':>7} {'p99 ms':>7} {'cpu p99':>7}"
        "  NDCG@10; latency: wall, and CPU time (the gate's clock)",
    ]
    for v in record.variants:
        m = v.metrics
        lines.append(
            f"{v.name:40} {m['ndcg@10']:7.4f} {v.test_metrics['ndcg@10']:7.4f} {m['size_gzip_bytes'] / 1024:9.1f} "
            f"{m['latency_p50_ms']:7.2f} {m['latency_p99_ms']:7.2f} {m.get('latency_cpu_p99_ms', float('nan')):7.2f}"
        )
    for model in record.models:
        p99 = model.extra.get("latency_p99_ms")
        lines.append(
            f"{model.name + ' (' + model.role + ')':40} {model.metrics['valid']['ndcg@10']:7.4f} "
            f"{model.metrics['test']['ndcg@10']:7.4f} {'':>9} {'':>7} {'' if p99 is None else f'{p99:7.2f}'}"
        )
    lines.append(f"strongest lexical baseline (chosen on valid): {strongest}")
    for extra in record.models:
        if extra.role == "model":
            lines.append(
                f"  {extra.name} - BM25 {_delta(record, extra.name, 'bm25')}; - {strongest} {_delta(record, extra.name, strongest)}"
            )
    for row, words in _RECIPE_EFFECTS:
        effect = _effect(record, row)
        if effect is not None:
            lines.append(f"  {words}: {effect}")
    if record.shipped is None:
        lines.append("shipped: NONE (gate failed on valid)")
        return lines
    s = record.variant(record.shipped).metrics
    shipped = record.shipped
    lines += [
        f"shipped (chosen on valid): {shipped}, served as model + {record.variant(shipped).fusion_weight:.3g} x BM25",
        f"  test NDCG@10 fp32 - fp32_model_alone, what the BM25 term adds: {_delta(record, 'fp32', 'fp32_model_alone')}",
        f"  test NDCG@10 shipped - BM25: {_delta(record, shipped, 'bm25')} (95 % paired bootstrap CI)",
        f"  test NDCG@10 shipped - {strongest}: {_delta(record, shipped, strongest)}",
        f"  test NDCG@10 shipped - fp32: {_delta(record, shipped, 'fp32')} (target within 1 %)",
        f"  test MRR shipped - BM25: {_delta(record, shipped, 'bm25', 'mrr')}",
        f"  gzipped size fp32 .tflite / shipped: {_ratio(fp32_tflite['size_gzip_bytes'], s['size_gzip_bytes'])}"
        " (target >= 4x)",
        f"  p99 fp32 SavedModel / shipped: {_ratio(fp32['latency_p99_ms'], s['latency_p99_ms'])} (target >= 3x)",
        f"  p99 fp32_tflite_float32 / shipped: {_ratio(fp32_tflite['latency_p99_ms'], s['latency_p99_ms'])}",
    ]
    leak = record.data_card.get("leakage", {}).get("test", {})
    if leak:
        lines.append(
            "  test leakage vs train: same group {g}, query words seen {w:.1%}, queries with an unseen word "
            "{u:.1%}, candidates seen {c:.1%}".format(
                g=f"{leak['groups_in_train']:.1%}" if "groups_in_train" in leak else "n/a",
                w=leak["query_words_seen"],
                u=leak["queries_with_unseen_word"],
                c=leak["candidates_seen"],
            )
        )
    lines.append(f"  bundle id {record.bundle_id}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__)
    p.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temp dir)")
    p.add_argument("--only", choices=("synthetic", "crowdflower"), default=None)
    p.add_argument("--no-repro", action="store_true", help="skip the twice-run bundle-id check (tiny preset)")
    p.add_argument(
        "--no-recipe",
        action="store_true",
        help="skip the pre-training + distillation runs (model/configs/*recipe.yaml, ~3x a default run each)",
    )
    args = p.parse_args(argv)
    configs = ROOT / "model" / "configs"
    runs = [Run("synthetic", ("--preset", "default"))]
    if not args.no_recipe:
        runs.append(Run("synthetic+recipe", ("--config", str(configs / "recipe.yaml"))))
    if CROWDFLOWER.exists():
        runs.append(Run("crowdflower", ("--config", str(configs / "crowdflower.yaml"))))
        if not args.no_recipe:
            runs.append(Run("crowdflower+recipe", ("--config", str(configs / "crowdflower-recipe.yaml"))))
    else:
        print(f"crowdflower: skipped, {CROWDFLOWER} is absent (it lives in ../shared, not in a clone)")
    runs = [r for r in runs if args.only in (None, r.name.split("+")[0])]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        report: list[str] = []
        for run in runs:
            out = root / run.name
            wall, peak, code = _pipeline(run, out)
            if code not in (0, 1):
                print(f"{run.name}: pipeline failed with exit code {code}", file=sys.stderr)
                return code
            lines = summarize(run.name, RunRecord.load(out / "report" / "metrics.json"), wall, peak)
            print("\n".join(lines), flush=True)  # as they come: the whole bench takes a while
            report += lines
        report += leakage.before_after()
        if not args.no_repro:
            report += leakage.reproducibility(root)
        print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
