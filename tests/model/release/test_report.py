"""The report and its charts from a hand-made RunRecord (no training): wording, gate lines, Mermaid chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.config import GateConfig
from model.evaluation.gate import judge
from model.evaluation.record import LEXICAL, ModelResult, RunRecord, VariantResult
from model.release.plots import PLOTS, budget, latency_key, mermaid_chart, ndcg_floors, size_text
from model.release.report import render_markdown, write_report

QAT = (
    "quantize_model(ranker): failed (ValueError: int32 input); "
    "quantize_apply(MultiHeadAttention annotated): failed (RuntimeError: no QuantizeConfig); "
    "shipped int8 uses post-training quantization"
)


def variant(name: str, kind: str, ndcg: float, gz: float, p99: float) -> VariantResult:
    metrics = {"ndcg@10": ndcg, "mrr": ndcg, "recall@10": ndcg, "size_bytes": gz * 2, "size_gzip_bytes": gz}
    return VariantResult(
        name, kind, f"/x/{name}", metrics={**metrics, "latency_p99_ms": p99, "latency_cpu_p99_ms": p99}
    )


def record(preset: str = "default") -> RunRecord:
    rec = RunRecord(
        preset=preset,
        data_source="synthetic",
        splits={"test": {"queries": 10, "pairs": 100}},
        variants=[
            variant("fp32", "savedmodel", 0.80, 4 * 1024 * 1024, 30.0),
            variant("a_tflite_float32", "tflite", 0.80, 3 * 1024 * 1024, 12.0),
            variant("a_tflite_int8", "tflite", 0.795, 700 * 1024, 8.0),
            variant("a_tflite_bad", "tflite", 0.70, 600 * 1024, 25.0),
        ],
        models=[
            ModelResult(
                "bm25",
                LEXICAL,
                {s: {"ndcg@10": 0.65, "mrr": 0.6, "recall@10": 0.6} for s in ("valid", "test")},
            )
        ],
        history={"loss": [1.0, 0.8, 0.7], "val_ndcg@10": [0.7, 0.78, 0.77], "best_epoch": [2.0]},
        qat_outcome=QAT,
    )
    # ndcg >= 0.5, not below the strongest lexical baseline (bm25 0.65), -1 % vs fp32, p99 <= 20 ms
    gate = GateConfig(absolute={"ndcg@10": 0.5}, latency_vs_fp32_tflite=None)
    fp32, lexical = rec.variant("fp32").metrics, rec.model("bm25").metrics["valid"]
    rec.verdicts = {v.name: judge(v.name, v.metrics, gate, fp32, None, lexical) for v in rec.variants}
    rec.shipped = "a_tflite_int8"
    rec.bundle_id = "ab" * 32
    return rec


def test_gate_floors_are_resolved_into_ndcg_units() -> None:
    floors = ndcg_floors(record())
    # absolute 0.5; bm25 0.65 + 0; and fp32 0.80 with a -1 % relative bound: 0.80 * 0.99 = 0.792
    assert [round(f.value, 6) for f in floors] == [0.5, 0.65, 0.792]
    assert floors[1].label == "gate: NDCG@10 ≥ lexical +0.000 (0.650)"
    assert floors[2].label == "gate: NDCG@10 ≥ fp32 -1% (0.792)"
    # The default gate judges the CPU clock: the budget sits on the CPU p99, none on the wall clock's.
    assert budget(record(), "latency_cpu_p99_ms") == 20.0 and budget(record(), "latency_p99_ms") is None
    assert latency_key(record()) == "latency_cpu_p99_ms"
    assert budget(record(), "size_gzip_bytes") is None


def test_sizes_are_in_kib_or_mib() -> None:
    assert size_text(700 * 1024) == "700.0 KiB"
    assert size_text(3 * 1024 * 1024) == "3.00 MiB"


def test_mermaid_chart_has_one_bar_per_variant_and_the_gate_floor() -> None:
    lines = mermaid_chart(record())
    assert lines[0] == "```mermaid" and lines[1] == "xychart-beta"
    assert 'x-axis ["1", "2", "3", "4"]' in lines[3]
    assert lines[5] == "    bar [0.8000, 0.8000, 0.7950, 0.7000]"
    assert lines[6] == "    line [0.7920, 0.7920, 0.7920, 0.7920]"  # the highest floor
    assert lines[-1] == "Variants: 1 `fp32` · 2 `a_tflite_float32` · 3 `a_tflite_int8` · 4 `a_tflite_bad`"


def test_report_folds_the_qat_detail_and_names_its_columns() -> None:
    text = render_markdown(record())
    assert (
        "**Quantization-aware training:** not possible with tfmot on this model (2 of 2 attempts failed)"
        in text
    )
    assert "<details><summary>What tfmot answered</summary>" in text
    assert "| compared with | split | metric | their value | `a_tflite_int8` |" in text
    assert "| 3 | a_tflite_int8 | tflite |" in text
    assert "Tiny preset: relaxed gate" not in text


def test_tiny_preset_says_its_gate_is_relaxed() -> None:
    assert "**Tiny preset: relaxed gate.**" in render_markdown(record("tiny"))


def test_the_artifact_link_names_the_workflow_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/rankship")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    assert "[workflow run 42](https://github.com/acme/rankship/actions/runs/42)" in render_markdown(record())


def test_write_report_draws_every_plot(tmp_path: Path) -> None:
    write_report(record(), tmp_path)
    for name in PLOTS:
        assert (tmp_path / name).stat().st_size > 10_000, name
