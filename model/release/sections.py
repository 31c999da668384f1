"""The evaluation content of the report, one function per section: RunRecord -> Markdown lines.

Kept apart from report.py (layout, headline, plots) so the wording and styling can change there without
touching what is measured here. Every delta is shown with its paired-bootstrap interval; test figures
are labelled as such, selection-split (valid) figures as what the gate judged.
"""

from __future__ import annotations

from model.evaluation.record import QUALITY_KEYS, Delta, RunRecord

FP32, FP32_TFLITE = "fp32", "fp32_tflite_float32"


def fmt_delta(d: Delta | None) -> str:
    if d is None:
        return "–"
    pct = round(d.confidence * 100)
    return f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}]{' *' if d.low > 0 or d.high < 0 else ''} ({pct} % CI)"


def candidate(record: RunRecord) -> str:
    """The shipped variant, else the best shippable one on the selection split."""
    if record.shipped:
        return record.shipped
    shippable = [v for v in record.variants if v.shippable] or record.variants
    return max(shippable, key=lambda v: v.metrics.get("ndcg@10", float("-inf"))).name


def relaxed_bounds(record: RunRecord) -> list[str]:
    relaxed = record.notes.get("relaxed_bounds") or []
    if not relaxed:
        return []
    return [
        f"> ⚠️ **Gate bounds differ from the defaults** (preset `{record.preset}`): "
        + "; ".join(f"`{r}`" for r in relaxed)
        + ". Where they are relaxed, a pass proves the mechanics, not the quality.",
        "",
    ]


def production_overlap(record: RunRecord) -> list[str]:
    if record.baseline is None:
        return []
    overlap = record.baseline.overlap
    if overlap is None:
        return [
            "> ⚠️ The production bundle records no split membership (lineage.json): whether it was trained "
            "on this run's evaluation queries is unknown.",
            "",
        ]
    if not overlap.get("any"):
        return [
            f"Production never saw this run's valid/test queries (same data: {overlap.get('same_data')}).",
            "",
        ]
    seen = ", ".join(
        f"{overlap[s]['seen_by_production']} of {overlap[s]['queries']} {s}" for s in ("valid", "test")
    )
    return [
        f"> ⚠️ **Production was trained or selected on {seen} queries of this run**: the comparison with it "
        "favours production.",
        "",
    ]


def data_card(record: RunRecord) -> list[str]:
    card = record.data_card
    if not card:
        return []
    lines = [
        "### Data card",
        "",
        f"Relevant (MRR, Recall@10) = gain ≥ {card['relevant_gain']:g}.",
        "",
        "| split | queries | pairs | products | candidates/query (min / median / max) | relevant share | "
        "queries without relevant | grades (gain: pairs) |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for name in ("train", "valid", "test"):
        s = card["splits"][name]
        c = s["candidates_per_query"]
        grades = ", ".join(f"{g}: {n}" for g, n in list(s["grades"].items())[:8])
        lines.append(
            f"| {name} | {s['queries']} | {s['pairs']} | {s['products']} | {c['min']} / {c['median']:g} / "
            f"{c['max']} | {s['relevant_share']:.1%} | {s['queries_without_relevant']} | {grades} |"
        )
    lines += [
        "",
        "| vs train | same query text | same group (spec) | query words seen | queries with an unseen word | "
        "candidates seen |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("valid", "test"):
        leak = card["leakage"][name]
        group = f"{leak['groups_in_train']:.1%}" if "groups_in_train" in leak else "–"
        lines.append(
            f"| {name} | {leak['queries_in_train']:.1%} | {group} | {leak['query_words_seen']:.1%} | "
            f"{leak['queries_with_unseen_word']:.1%} | {leak['candidates_seen']:.1%} |"
        )
    return [*lines, ""]


def comparisons(record: RunRecord) -> list[str]:
    """The candidate against each reference, test split (reported) then selection split (judged)."""
    name = candidate(record)
    strongest = record.strongest_lexical
    refs = [
        ("production", "production"),
        (FP32, "fp32 (this run)"),
        (strongest, f"strongest lexical `{strongest}`"),
    ]
    if strongest != "bm25":
        refs.append(("bm25", "BM25"))
    lines = [
        f"### Compared with (candidate: `{name}`; Δ with paired-bootstrap interval over queries, * = excludes 0)",
        "",
        f"| compared with | split | metric | their value | `{name}` | Δ [CI] |",
        "|---|---|---|---:|---:|---|",
    ]
    for split in ("test", record.selection_split):
        for ref, label in refs:
            for metric in QUALITY_KEYS:
                d = record.delta(name, ref, split, metric)
                if d is not None:
                    shown = f"{split} (gated)" if split == record.selection_split else split
                    lines.append(
                        f"| {label} | {shown} | {metric} | {d.reference_value:.4f} | {d.candidate_value:.4f} | "
                        f"{fmt_delta(d)} |"
                    )
    if record.baseline is None:
        lines += ["", "_No production baseline bundle was given: change bounds against it were skipped._"]
    return [*lines, ""]


def fusion(record: RunRecord) -> list[str]:
    """What a variant's quality figures are: model + w * BM25 (model/evaluation/fusion.py), and what the
    BM25 term adds to the fp32 model."""
    notes = record.notes.get("fusion", {})
    if not notes.get("enabled"):
        return ["Scores are the model's own (`fusion.enabled: false`).", ""]
    adds = fmt_delta(record.delta("fp32", "fp32_model_alone", "test", "ndcg@10"))
    return [
        f"Each ranker scores as it ships, model + w × BM25 over the catalog ({notes['documents']} products, "
        f"{notes['terms']} words): w chosen per ranker on the {record.selection_split} split (BM25 w; 0 is "
        f"the model alone). The BM25 term adds {adds} test NDCG@10 to fp32 (`fp32_model_alone` below).",
        "",
    ]


def other_rankers(record: RunRecord) -> list[str]:
    """Lexical baselines and extra models (teacher, student...), with their test delta vs the strongest."""
    lines = [
        "### Other rankers",
        "",
        "| ranker | role | valid NDCG@10 | test NDCG@10 | test MRR | test Recall@10 | test Δ NDCG@10 vs BM25 [CI] "
        f"| test Δ NDCG@10 vs `{record.strongest_lexical}` [CI] | p99 |",
        "|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for m in record.models:
        v, t = m.metrics.get("valid", {}), m.metrics.get("test", {})
        role = m.role + (" (strongest)" if m.name == record.strongest_lexical else "")
        p99 = f"{m.extra['latency_p99_ms']:.2f} ms" if "latency_p99_ms" in m.extra else "–"
        vs_bm25 = fmt_delta(record.delta(m.name, "bm25", "test", "ndcg@10"))
        vs_strongest = fmt_delta(record.delta(m.name, record.strongest_lexical, "test", "ndcg@10"))
        lines.append(
            f"| {m.name} | {role} | {v.get('ndcg@10', float('nan')):.4f} | {t.get('ndcg@10', float('nan')):.4f} | "
            f"{t.get('mrr', float('nan')):.4f} | {t.get('recall@10', float('nan')):.4f} | {vs_bm25} | "
            f"{vs_strongest} | {p99} |"
        )
    lex = record.notes.get("lexical", {})
    if lex:
        lines += [
            "",
            f"Lexical baselines learned from train only: {lex['spelling_corrections']} evaluation query words "
            f"spell-corrected, {lex['expanded_words']} training words with expansions, expansion weight "
            f"{lex['expansion_weight']:g} (chosen on {record.selection_split}).",
        ]
    return [*lines, ""]


def latency_and_gains(record: RunRecord) -> list[str]:
    setup = record.notes.get("latency", {})
    name = candidate(record)
    lines = ["### Latency and optimization gains", ""]
    if setup:
        lines.append(
            f"Every runtime with {setup['threads']} thread(s) (TensorFlow intra/inter-op and LiteRT, as served), "
            f"1 query x {setup['candidates']} candidates, median of {setup['rounds']} interleaved rounds of "
            f"{setup['runs_per_round']} calls."
        )
        if setup.get("gate_clock") == "cpu":
            lines.append(
                "The gate's latency budgets read the CPU time of each call (`gate.latency_clock: cpu`), "
                "which other jobs on a shared machine hardly stretch; p50/p99 latency are wall time."
            )
    try:
        c, sm, fl = (
            record.variant(name).metrics,
            record.variant(FP32).metrics,
            record.variant(FP32_TFLITE).metrics,
        )
    except KeyError:
        return [*lines, ""]

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}x" if a and b else "n/a"

    lines += [
        "",
        f"| `{name}` vs | gzipped size | p99 latency |",
        "|---|---:|---:|",
        f"| fp32 SavedModel | {ratio(sm.get('size_gzip_bytes'), c.get('size_gzip_bytes'))} smaller | "
        f"{ratio(sm.get('latency_p99_ms'), c.get('latency_p99_ms'))} faster |",
        f"| `{FP32_TFLITE}` | {ratio(fl.get('size_gzip_bytes'), c.get('size_gzip_bytes'))} smaller | "
        f"{ratio(fl.get('latency_p99_ms'), c.get('latency_p99_ms'))} faster |",
    ]
    return [*lines, ""]
