"""The Markdown report (a pull-request comment) and its PNG plots, from one RunRecord."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI runners or here
import matplotlib.pyplot as plt

from model.evaluation.record import RunRecord, VariantResult

QUALITY = ("ndcg@10", "mrr", "recall@10")
# A hidden marker lets the workflow find and update its own comment instead of adding another.
COMMENT_MARKER = "<!-- rankship-model-report -->"


def _fmt(value: float | None, kind: str = "metric") -> str:
    if value is None:
        return "–"
    if kind == "bytes":
        return f"{value / 1024:,.1f} KiB" if value < 1024 * 1024 else f"{value / 1024 / 1024:,.2f} MiB"
    if kind == "ms":
        return f"{value:.2f} ms"
    return f"{value:.4f}"


def _verdict_cell(record: RunRecord, name: str) -> str:
    verdict = record.verdicts.get(name)
    if verdict is None:
        return "–"
    if name == record.shipped:
        return "✅ **shipped**"
    return "✅ pass" if verdict.passed else "❌ " + "; ".join(c.detail for c in verdict.failures)


def _variant_table(record: RunRecord) -> list[str]:
    lines = [
        "| variant | format | NDCG@10 | MRR | Recall@10 | size | gzipped | p50 | p99 | gate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for v in record.variants:
        m = v.metrics
        lines.append(
            f"| {v.name} | {v.kind} | {_fmt(m.get('ndcg@10'))} | {_fmt(m.get('mrr'))} | "
            f"{_fmt(m.get('recall@10'))} | {_fmt(m.get('size_bytes'), 'bytes')} | "
            f"{_fmt(m.get('size_gzip_bytes'), 'bytes')} | {_fmt(m.get('latency_p50_ms'), 'ms')} | "
            f"{_fmt(m.get('latency_p99_ms'), 'ms')} | {_verdict_cell(record, v.name)} |"
        )
    return lines


def _delta_rows(label: str, ref: dict[str, float], shipped: VariantResult) -> list[str]:
    rows = []
    for metric in QUALITY:
        if metric in ref and metric in shipped.metrics:
            new, old = shipped.metrics[metric], ref[metric]
            rel = f"{(new - old) / old:+.2%}" if old else "n/a"
            rows.append(f"| {label} | {metric} | {old:.4f} | {new:.4f} | {new - old:+.4f} | {rel} |")
    return rows


def _comparison(record: RunRecord) -> list[str]:
    name = record.shipped or _best_quality(record)
    shipped = record.variant(name)
    lines = [
        f"### Compared with (candidate: `{name}`)",
        "",
        "| reference | metric | reference | candidate | Δ | Δ relative |",
        "|---|---|---:|---:|---:|---:|",
    ]
    if record.baseline is not None:
        lines += _delta_rows(
            f"production `{record.baseline.bundle_id[:12]}`", record.baseline.metrics, shipped
        )
    lines += _delta_rows("fp32 (this run)", record.variant("fp32").metrics, shipped)
    lines += _delta_rows("BM25 baseline", record.bm25, shipped)
    if record.baseline is None:
        lines += ["", "_No production baseline bundle was given: change bounds against it were skipped._"]
    return lines


def _best_quality(record: RunRecord) -> str:
    return max(record.variants, key=lambda v: v.metrics.get("ndcg@10", float("-inf"))).name


def render_markdown(record: RunRecord) -> str:
    """The PR comment body. Plots are referenced by file name (uploaded beside it as artifacts)."""
    if record.shipped:
        headline = (
            f"✅ Gate passed: shipping **{record.shipped}** as bundle `{(record.bundle_id or '')[:12]}`"
        )
    else:
        headline = "❌ Gate failed: no variant passed every bound (see the gate column)"
    split = ", ".join(f"{k} {v['queries']} queries / {v['pairs']} pairs" for k, v in record.splits.items())
    lines = [
        COMMENT_MARKER,
        "## rankship model report",
        "",
        headline,
        "",
        f"Data: `{record.data_source}` (preset `{record.preset}`): {split}.",
        "",
        *_variant_table(record),
        "",
        *_comparison(record),
        "",
        f"**Quantization-aware training:** {record.qat_outcome}",
        "",
        "<details><summary>Step timings</summary>",
        "",
        *(f"- {step}: {sec:.1f} s" for step, sec in record.timings_s.items()),
        "",
        "</details>",
        "",
        "Plots: `training_curves.png`, `quality_vs_size.png`, `quality_vs_latency.png`.",
    ]
    if record.bundle_id:
        lines += ["", f"Bundle id: `{record.bundle_id}`"]
    return "\n".join(lines) + "\n"


def _scatter(record: RunRecord, x_key: str, xlabel: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for v in record.variants:
        if x_key in v.metrics and "ndcg@10" in v.metrics:
            marker = "*" if v.name == record.shipped else "o"
            ax.scatter(v.metrics[x_key], v.metrics["ndcg@10"], marker=marker, s=120 if marker == "*" else 40)
            ax.annotate(v.name, (v.metrics[x_key], v.metrics["ndcg@10"]), fontsize=7)
    if "ndcg@10" in record.bm25:
        ax.axhline(record.bm25["ndcg@10"], linestyle="--", color="grey", label="BM25")
        ax.legend()
    ax.set(xlabel=xlabel, ylabel="NDCG@10 (test)", xscale="log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _curves(record: RunRecord, path: Path) -> None:
    fig, ax1 = plt.subplots(figsize=(6, 4))
    loss, ndcg = record.history.get("loss", []), record.history.get("val_ndcg@10", [])
    ax1.plot(range(1, len(loss) + 1), loss, "o-", label="train loss")
    ax1.set(xlabel="epoch", ylabel="train loss")
    ax2 = ax1.twinx()
    ax2.plot(range(1, len(ndcg) + 1), ndcg, "s-", color="tab:orange", label="valid NDCG@10")
    ax2.set(ylabel="valid NDCG@10")
    fig.legend(loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(record: RunRecord, out_dir: Path) -> Path:
    """Write report.md and the three plots into `out_dir`; return the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _curves(record, out_dir / "training_curves.png")
    _scatter(record, "size_gzip_bytes", "gzipped size (bytes)", out_dir / "quality_vs_size.png")
    _scatter(
        record,
        "latency_p99_ms",
        "p99 latency, 1 query x 100 candidates (ms)",
        out_dir / "quality_vs_latency.png",
    )
    path = out_dir / "report.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(record), encoding="utf-8")
    tmp.replace(path)
    return path
