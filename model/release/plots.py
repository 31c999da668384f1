"""The report's charts: three PNGs for the run's artifact and a Mermaid chart for the PR comment.

Every chart has a title and units (KiB/MiB, ms), draws the gate's bounds where the gate has one on that
axis, and labels variants by number: the numbers are the rows of the report's variant table and of the
legend beside the plot, so labels never pile up on top of each other. The shipped variant is a star, and
a caption says why it was chosen. GitHub renders Mermaid `xychart-beta` blocks in comments, so the PR
comment shows the key chart without hosting an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on CI runners
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator
from matplotlib.transforms import Bbox

from model.evaluation.record import RunRecord, VariantResult

PLOTS = ("training_curves.png", "quality_vs_size.png", "quality_vs_latency.png")
KIB, MIB = 1024.0, 1024.0 * 1024.0
# Points closer than this (in pixels) share one label ("3, 4") instead of overprinting two.
_SAME_SPOT_PX = 6.0
# Where a number label may sit relative to its point (points), in order of preference.
_OFFSETS = [(d * sx, d * sy) for d in (4, 9, 15) for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
_OFFSETS += [(0, 16), (0, -16), (24, 0), (-24, 0), (0, 28), (0, -28)]


@dataclass(frozen=True)
class GateLine:
    value: float
    label: str


def size_text(value: float) -> str:
    return f"{value / MIB:,.2f} MiB" if value >= MIB else f"{value / KIB:,.1f} KiB"


def _tick_size(value: float) -> str:
    return f"{value / MIB:g} MiB" if value >= MIB else f"{value / KIB:g} KiB"


def relaxed_gate(record: RunRecord) -> bool:
    """The tiny preset proves the mechanics, not quality: its gate is relaxed (model/config.py)."""
    return record.preset == "tiny"


def ndcg_floors(record: RunRecord) -> list[GateLine]:
    """The gate's NDCG@10 bounds in NDCG units (change bounds resolved against their reference)."""
    checks = next(iter(record.verdicts.values())).checks if record.verdicts else ()
    refs = {
        "vs_fp32": record.variant("fp32").metrics.get("ndcg@10"),
        "vs_lexical": record.metrics_of(record.strongest_lexical, record.selection_split).get("ndcg@10"),
    }
    if record.baseline is not None:
        refs["vs_baseline"] = record.baseline.metrics.get("ndcg@10")
    lines = []
    for c in checks:
        if c.metric != "ndcg@10" or c.threshold is None or c.status == "skip":
            continue
        ref = refs.get(c.name)
        if c.name == "absolute":
            lines.append(GateLine(c.threshold, f"gate: NDCG@10 ≥ {c.threshold:.3f}"))
        elif ref is not None and "%" in c.detail:
            floor = ref * (1 + c.threshold)
            lines.append(GateLine(floor, f"gate: NDCG@10 ≥ {c.name[3:]} {c.threshold:+.0%} ({floor:.3f})"))
        elif ref is not None:
            floor = ref + c.threshold
            lines.append(GateLine(floor, f"gate: NDCG@10 ≥ {c.name[3:]} {c.threshold:+.3f} ({floor:.3f})"))
    return lines


def budget(record: RunRecord, metric: str) -> float | None:
    """The gate's absolute upper bound on `metric` (latency_p99_ms, size_gzip_bytes), if it has one."""
    for verdict in record.verdicts.values():
        for c in verdict.checks:
            if c.name == "absolute" and c.metric == metric and c.threshold is not None:
                return c.threshold
    return None


def latency_key(record: RunRecord) -> str:
    """The p99 the gate's latency budget judged (its clock: `latency_cpu_p99_ms` or `latency_p99_ms`);
    the wall clock when the gate had no latency budget."""
    for verdict in record.verdicts.values():
        for c in verdict.checks:
            if c.name == "absolute" and c.metric in ("latency_cpu_p99_ms", "latency_p99_ms"):
                return c.metric
    return "latency_p99_ms"


def _style(record: RunRecord, v: VariantResult) -> dict[str, Any]:
    verdict = record.verdicts.get(v.name)
    if v.name == record.shipped:
        return {"marker": "*", "s": 260, "color": "gold", "edgecolors": "black", "zorder": 4}
    if not v.shippable:
        return {"marker": "s", "s": 60, "color": "tab:gray", "zorder": 3}
    if verdict is not None and not verdict.passed:
        return {"marker": "X", "s": 70, "color": "tab:red", "zorder": 3}
    return {"marker": "o", "s": 60, "color": "tab:green", "zorder": 3}


def _same_spot(points: list[tuple[int, float, float]], ax: Any) -> list[tuple[float, float, str]]:
    """Data-coordinate spots with the numbers of the variants on each; near-identical points share one."""
    spots: list[tuple[float, float, list[str]]] = []
    for number, x, y in points:
        px, py = ax.transData.transform((x, y))
        near = [s for s in spots if abs(s[0] - px) < _SAME_SPOT_PX and abs(s[1] - py) < _SAME_SPOT_PX]
        if near:
            near[0][2].append(str(number))
        else:
            spots.append((px, py, [str(number)]))
    inverse = ax.transData.inverted()
    return [(*inverse.transform((px, py)), ", ".join(numbers)) for px, py, numbers in spots]


def _label_points(ax: Any, points: list[tuple[int, float, float]], sizes: dict[int, float]) -> None:
    """Number labels placed where they cover no marker and no other label (first free offset wins)."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # A marker of area s pt² has a radius of sqrt(s) / 2 points.
    r = {n: (size**0.5 / 2) * fig.dpi / 72 for n, size in sizes.items()}
    taken = [
        Bbox.from_bounds(px - r[n], py - r[n], 2 * r[n], 2 * r[n])
        for n, (px, py) in ((n, ax.transData.transform((x, y))) for n, x, y in points)
    ]
    for x, y, text in _same_spot(points, ax):
        for k, (dx, dy) in enumerate(_OFFSETS):
            label = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=9,
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top" if dy < 0 else "center",
            )
            box = label.get_window_extent(renderer)
            if k == len(_OFFSETS) - 1 or not any(box.overlaps(t) for t in taken):
                taken.append(box)
                break
            label.remove()


def _legend(ax: Any, record: RunRecord, lines: list[Any]) -> None:
    handles = [
        Line2D([], [], ls="", marker=f"${i}$", color="black", label=f"{v.name}")
        for i, v in enumerate(record.variants, 1)
    ]
    handles += [
        Line2D([], [], ls="", marker="*", ms=12, mfc="gold", mec="black", label="shipped"),
        Line2D([], [], ls="", marker="o", color="tab:green", label="passed the gate"),
        Line2D([], [], ls="", marker="X", color="tab:red", label="failed the gate"),
        Line2D([], [], ls="", marker="s", color="tab:gray", label="SavedModel (reference, not shipped)"),
        *lines,
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, title="variant")


def _caption(record: RunRecord) -> str:
    if record.shipped is None:
        return "No variant passed every gate bound: nothing is shipped."
    number = [v.name for v in record.variants].index(record.shipped) + 1
    text = f"★ shipped: {number} {record.shipped}, the smallest gzipped LiteRT file that passed every gate bound."
    return text + (" Tiny preset: relaxed gate." if relaxed_gate(record) else "")


def _tradeoff(record: RunRecord, x_key: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    points, sizes = [], {}
    for i, v in enumerate(record.variants, 1):
        if x_key in v.metrics and "ndcg@10" in v.metrics:
            style = _style(record, v)
            ax.scatter(v.metrics[x_key], v.metrics["ndcg@10"], **style)
            points.append((i, v.metrics[x_key], v.metrics["ndcg@10"]))
            sizes[i] = float(style["s"])
    # Reference lines go into the legend, not onto the plot, where their labels would cover points.
    lines = []
    for floor in ndcg_floors(record):
        lines.append(ax.axhline(floor.value, ls="--", color="tab:red", lw=1, label=floor.label))
    lexical = record.metrics_of(record.strongest_lexical, record.selection_split)
    if "ndcg@10" in lexical:
        value, name = lexical["ndcg@10"], record.strongest_lexical
        lines.append(
            ax.axhline(value, ls=":", color="tab:gray", lw=1.2, label=f"{name} baseline ({value:.3f})")
        )
    if x_key == "size_gzip_bytes":
        ax.set_xscale("log")
        # Ticks at powers of two: 32 KiB, 64 KiB, ... 1 MiB, 2 MiB.
        ax.xaxis.set_major_locator(LogLocator(base=2.0, subs=(1.0,)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _tick_size(x)))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
        ax.set(
            xlabel="gzipped size on disk (log scale)",
            title=f"Quality vs size: {record.selection_split} NDCG@10 per variant (gated)",
        )
        limit, limit_text = budget(record, "size_gzip_bytes"), "size budget"
    else:
        clock = "CPU time" if x_key == "latency_cpu_p99_ms" else "wall time"
        ax.set(
            xlabel=f"p99 latency ({clock}), one query × its candidates, in-process (ms)",
            title=f"Quality vs latency: {record.selection_split} NDCG@10 per variant (gated)",
        )
        limit, limit_text = budget(record, x_key), "p99 budget"
    if limit is not None:
        shown = size_text(limit) if x_key == "size_gzip_bytes" else f"{limit:g} ms"
        lines.append(ax.axvline(limit, ls="-.", color="tab:red", lw=1, label=f"gate: {limit_text} {shown}"))
    ax.set_ylabel(f"NDCG@10 ({record.selection_split} split: the gate's)")
    ax.grid(alpha=0.3)
    _label_points(ax, points, sizes)
    _legend(ax, record, lines)
    fig.text(0.01, 0.01, _caption(record), fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _curves(record: RunRecord, path: Path) -> None:
    fig, ax1 = plt.subplots(figsize=(7, 4.2))
    loss, ndcg = record.history.get("loss", []), record.history.get("val_ndcg@10", [])
    epochs = range(1, len(loss) + 1)
    ax1.plot(epochs, loss, "o-", color="tab:blue", label="train loss (left axis)")
    ax1.set(xlabel="epoch", ylabel="train loss (listwise)", title="Training: loss and validation NDCG@10")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax1.twinx()
    ax2.plot(range(1, len(ndcg) + 1), ndcg, "s-", color="tab:orange", label="valid NDCG@10 (right axis)")
    ax2.set_ylabel("valid NDCG@10")
    best = record.history.get("best_epoch", [])
    if best:
        ax1.axvline(
            best[0], ls="--", color="tab:gray", lw=1, label=f"kept: epoch {int(best[0])} (best valid)"
        )
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_plots(record: RunRecord, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    _curves(record, out_dir / PLOTS[0])
    _tradeoff(record, "size_gzip_bytes", out_dir / PLOTS[1])
    _tradeoff(record, latency_key(record), out_dir / PLOTS[2])
    return [out_dir / name for name in PLOTS]


def mermaid_chart(record: RunRecord) -> list[str]:
    """The PR comment's inline chart: selection-split NDCG@10 per variant (bars), the gate's floor (line)."""
    rows = [(i, v) for i, v in enumerate(record.variants, 1) if "ndcg@10" in v.metrics]
    if not rows:
        return []
    values = [v.metrics["ndcg@10"] for _, v in rows]
    floors = ndcg_floors(record)
    floor = max(floors, key=lambda g: g.value) if floors else None
    lexical = record.metrics_of(record.strongest_lexical, record.selection_split).get("ndcg@10", 1.0)
    low = min([*values, *(f.value for f in floors), lexical])
    lines = [
        "```mermaid",
        "xychart-beta",
        f'    title "{record.selection_split.capitalize()} NDCG@10 per variant (bars){"; line: gate floor " + format(floor.value, ".3f") if floor else ""}"',
        "    x-axis [" + ", ".join(f'"{i}"' for i, _ in rows) + "]",
        f'    y-axis "NDCG@10" {max(0.0, low - 0.05):.2f} --> {min(1.0, max(values) + 0.02):.2f}',
        "    bar [" + ", ".join(f"{x:.4f}" for x in values) + "]",
    ]
    if floor is not None:
        lines.append("    line [" + ", ".join(f"{floor.value:.4f}" for _ in rows) + "]")
    lines += ["```", "", "Variants: " + " · ".join(f"{i} `{v.name}`" for i, v in rows)]
    return lines
