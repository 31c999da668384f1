"""The Markdown report (a pull-request comment) and its plots (model/release/plots.py), from one RunRecord."""

from __future__ import annotations

import os
from pathlib import Path

from model.evaluation.record import RunRecord
from model.release import sections
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
    sel = record.selection_split
    lines = [
        # "#" is the variant's number in the plots and the chart.
        f"| # | variant | format | BM25 w | {sel} NDCG@10 (gated) | test NDCG@10 | test MRR | test Recall@10 "
        "| size on disk | gzipped | p50 latency | p99 latency | p99 CPU time | gate |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, v in enumerate(record.variants, 1):
        m, t = v.metrics, v.test_metrics
        lines.append(
            f"| {i} | {v.name} | {v.kind} | {v.fusion_weight:.3g} | {_fmt(m.get('ndcg@10'))} | {_fmt(t.get('ndcg@10'))} | "
            f"{_fmt(t.get('mrr'))} | {_fmt(t.get('recall@10'))} | {_fmt(m.get('size_bytes'), 'bytes')} | "
            f"{_fmt(m.get('size_gzip_bytes'), 'bytes')} | {_fmt(m.get('latency_p50_ms'), 'ms')} | "
            f"{_fmt(m.get('latency_p99_ms'), 'ms')} | {_fmt(m.get('latency_cpu_p99_ms'), 'ms')} | "
            f"{_verdict_cell(record, v.name)} |"
        )
    return lines


def render_markdown(record: RunRecord) -> str:
    """The PR comment body. Plots are referenced by file name (uploaded beside it as artifacts)."""
    if record.shipped:
        headline = (
            f"✅ Gate passed: shipping **{record.shipped}** as bundle `{(record.bundle_id or '')[:12]}`"
        )
    else:
        headline = "❌ Gate failed: no variant passed every bound (see the gate column)"
    split = ", ".join(
        f"{k} {record.splits[k]['queries']} queries / {record.splits[k]['pairs']} pairs"
        for k in ("train", "valid", "test")
        if k in record.splits
    )
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
        *sections.relaxed_bounds(record),
        f"Data: `{record.data_source}` (preset `{record.preset}`): {split}. Variants are gated and chosen on "
        f"the {record.selection_split} split; the test split is reported only.",
        "",
        *sections.production_overlap(record),
        *sections.fusion(record),
        *_variant_table(record),
        "",
        *sections.comparisons(record),
        *sections.other_rankers(record),
        *sections.latency_and_gains(record),
        *sections.data_card(record),
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
