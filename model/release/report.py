"""The Markdown report (a pull-request comment) and its plots (model/release/plots.py), from one RunRecord."""

from __future__ import annotations

import os
from pathlib import Path

from model.evaluation.record import RunRecord, VariantResult
from model.release.plots import PLOTS, mermaid_chart, relaxed_gate, write_plots

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
        # "#" is the variant's number in the plots and the chart.
        "| # | variant | format | NDCG@10 | MRR | Recall@10 | size on disk | gzipped | p50 latency | p99 latency | gate |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, v in enumerate(record.variants, 1):
        m = v.metrics
        lines.append(
            f"| {i} | {v.name} | {v.kind} | {_fmt(m.get('ndcg@10'))} | {_fmt(m.get('mrr'))} | "
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
        f"| compared with | metric | their value | `{name}` | Δ | Δ relative |",
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
    banner = (
        [
            "> [!NOTE]",
            "> **Tiny preset: relaxed gate.** This run proves the pipeline's mechanics on "
            f"{sum(s['queries'] for s in record.splits.values())} queries; its gate does not demand quality "
            "(model/config.py, preset `tiny`). Judge quality on the default preset.",
            "",
        ]
        if relaxed_gate(record)
        else []
    )
    lines = [
        COMMENT_MARKER,
        "## rankship model report",
        "",
        *banner,
        headline,
        "",
        f"Data: `{record.data_source}` (preset `{record.preset}`): {split}.",
        "",
        *_variant_table(record),
        "",
        *_comparison(record),
        "",
        *_qat_lines(record.qat_outcome),
        "",
        "<details><summary>Step timings</summary>",
        "",
        *(f"- {step}: {sec:.1f} s" for step, sec in record.timings_s.items()),
        "",
        "</details>",
        "",
        *mermaid_chart(record),
        "",
        _plots_line(),
    ]
    if record.bundle_id:
        lines += ["", f"Bundle id: `{record.bundle_id}`"]
    return "\n".join(lines) + "\n"


def _qat_lines(outcome: str) -> list[str]:
    """One line that says what happened; tfmot's messages folded below it."""
    attempts = [part.strip() for part in outcome.split(";") if part.strip()]
    failed = [a for a in attempts if ": failed" in a]
    if not failed:
        return [f"**Quantization-aware training:** {outcome}"]
    summary = (
        f"not possible with tfmot on this model ({len(failed)} of {sum(': ' in a for a in attempts)} attempts failed); "
        "the int8 variants use post-training quantization"
    )
    return [
        f"**Quantization-aware training:** {summary}.",
        "",
        "<details><summary>What tfmot answered</summary>",
        "",
        *(f"- `{a}`" for a in attempts if ": " in a),
        "",
        "</details>",
    ]


def _plots_line() -> str:
    names = ", ".join(f"`{p}`" for p in PLOTS)
    run = os.environ.get("GITHUB_RUN_ID")
    if run:
        url = f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{os.environ.get('GITHUB_REPOSITORY', '')}"
        return (
            f"Plots ({names}) and this report: artifacts of [workflow run {run}]({url}/actions/runs/{run})."
        )
    return f"Plots beside this file: {names}."


def write_report(record: RunRecord, out_dir: Path) -> Path:
    """Write report.md and the three plots into `out_dir`; return the Markdown path."""
    write_plots(record, out_dir)
    path = out_dir / "report.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(record), encoding="utf-8")
    tmp.replace(path)
    return path
