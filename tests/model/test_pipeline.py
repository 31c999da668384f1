"""The tiny preset end to end through the CLI, and the CLI's answers to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.__main__ import EXIT_BAD_INPUT, EXIT_GATE_FAILED, main
from model.evaluation.record import RunRecord
from model.release.bundle import verify_bundle
from model.text.lexical import LexicalIndex


def _cli_pipeline(out: Path) -> None:
    """`python -m model pipeline --preset tiny` in its own process, as a user runs it: TensorFlow state
    left by other tests of this process (thread pools, name counters) cannot change what it trains."""
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "model",
        "pipeline",
        "--preset",
        "tiny",
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    _cli_pipeline(out)
    return out


@pytest.mark.slow
def test_tiny_pipeline_ships_a_verified_bundle(tiny_run: Path):
    latest = json.loads((tiny_run / "latest.json").read_text())
    assert latest["gate_passed"] is True
    info = verify_bundle(Path(latest["bundle_path"]))
    assert info.bundle_id == latest["bundle_id"] and info.version == latest["version"]
    # Only what is served is hashed; what was measured lives beside the bundle.
    served = {"model.tflite", "tokenizer.json", "golden.json", "config.json", "score_histogram.json"}
    assert set(info.files) == {*served, "lineage.json", "lexical.json"}
    run = Path(latest["run_path"])
    assert run == info.path.with_name(info.path.name + ".run") and (run / "MODEL_CARD.md").exists()
    record = RunRecord.load(run / "metrics.json")
    assert record.bundle_id == info.bundle_id
    assert record.shipped is not None and record.shipped.endswith(
        ("float32", "float16", "dynamic_int8", "int8")
    )
    # The shipped variant is the smallest passing LiteRT file.
    passing = [v for v in record.variants if v.shippable and record.verdicts[v.name].passed]
    assert record.variant(record.shipped).metrics["size_gzip_bytes"] == min(
        v.metrics["size_gzip_bytes"] for v in passing
    )
    golden = json.loads((info.path / "golden.json").read_text())
    assert golden["requests"] and all(r["scores"] for r in golden["requests"])
    # The served score is model + w * BM25, w the one evaluation chose for the shipped variant on valid.
    lexical = LexicalIndex.from_json((info.path / "lexical.json").read_text())
    assert lexical.weight == record.variant(record.shipped).fusion_weight
    assert record.notes["fusion"]["weights"][record.shipped] == lexical.weight
    import pandas as pd

    frames = [
        pd.read_parquet(tiny_run / "work" / "data" / f"{s}.parquet") for s in ("train", "valid", "test")
    ]
    assert lexical.documents == pd.concat(frames)["product_id"].nunique()  # every product once, no grades
    # The offline score histogram: edges from the shipped model's own validation-score deciles.
    hist = json.loads((info.path / "score_histogram.json").read_text())
    summary = json.loads((tiny_run / "work" / "data" / "summary.json").read_text())
    assert (
        hist["split"] == "valid"
        and hist["scores"] == sum(hist["counts"]) == summary["splits"]["valid"]["pairs"]
    )
    assert (
        len(hist["counts"]) == len(hist["edges"]) + 1 and max(hist["counts"]) <= 2 * min(hist["counts"]) + 1
    )


@pytest.mark.slow
def test_tiny_report_names_every_variant_and_the_comparisons(tiny_run: Path):
    report = (tiny_run / "report" / "report.md").read_text()
    record = RunRecord.load(tiny_run / "report" / "metrics.json")
    for variant in record.variants:
        assert f"| {variant.name} |" in report
    for ranker in ("bm25", "bm25_spell", "bm25_spell_expand", "bm25_title_coverage", "bm25_catalog"):
        assert f"| {ranker} | lexical" in report
    assert "fp32 (this run)" in report and f"strongest lexical `{record.strongest_lexical}`" in report
    assert "No production baseline bundle" in report
    # The tiny preset's relaxed gate is said out loud, and every delta carries its interval.
    assert "Gate bounds differ from the defaults" in report and "gate.vs_lexical.ndcg@10.absolute" in report
    assert "(95 % CI)" in report and "### Data card" in report
    # Selection on valid, report on test: the gated metrics are the valid split's per-query means.
    import pandas as pd

    per_query = pd.read_parquet(tiny_run / "work" / "per_query.parquet")
    shipped = record.variant(record.shipped or "fp32")
    for split, metrics in (("valid", shipped.metrics), ("test", shipped.test_metrics)):
        rows = per_query[(per_query["ranker"] == shipped.name) & (per_query["split"] == split)]
        assert len(rows) == record.splits[split]["queries"]
        assert metrics["ndcg@10"] == pytest.approx(rows["ndcg@10"].mean())
    for plot in ("training_curves.png", "quality_vs_size.png", "quality_vs_latency.png"):
        assert (tiny_run / "report" / plot).stat().st_size > 1000


@pytest.mark.slow
def test_baseline_comparison_and_failing_gate(tiny_run: Path, tmp_path: Path):
    """Re-running evaluate+package against the shipped bundle as production fills the baseline
    columns; a gate that demands +50 % over production fails with exit code 1 and names the bound."""
    import shutil

    latest = json.loads((tiny_run / "latest.json").read_text())
    run = tmp_path / "run"
    shutil.copytree(tiny_run / "work", run / "work")
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        "preset: tiny\ngate:\n  vs_baseline: {'ndcg@10': {relative: 0.5}}\n  production_overlap: refuse\n",
        encoding="utf-8",
    )
    argv = ["--config", str(strict), "--out", str(run), "--no-progress"]
    # Another step's model joins the evaluation through work/extra_models.json (a stand-in: fp32 again).
    from model.evaluation.extra import ExtraModel, register

    work = run / "work"
    register(
        work / "extra_models.json",
        ExtraModel(
            "stand_in",
            "savedmodel",
            str(tiny_run / "work" / "fp32"),
            str(work / "tokenizer.json"),
            "fp32 again",
        ),
    )
    assert main(["evaluate", *argv, "--baseline", latest["bundle_path"]]) == 0
    assert main(["package", *argv]) == EXIT_GATE_FAILED
    record = RunRecord.load(run / "report" / "metrics.json")
    assert record.baseline is not None and record.baseline.bundle_id == latest["bundle_id"]
    assert record.shipped is None
    stand_in = record.model("stand_in")
    assert stand_in.role == "model" and stand_in.metrics["test"] == record.variant("fp32").test_metrics
    assert stand_in.extra["latency_p99_ms"] > 0
    assert record.delta("stand_in", "fp32", "test", "ndcg@10").estimate == 0.0  # type: ignore[union-attr]
    assert "| stand_in | model |" in (run / "report" / "report.md").read_text()
    assert all(any(c.name == "vs_baseline" and c.failed for c in v.checks) for v in record.verdicts.values())
    assert json.loads((run / "latest.json").read_text())["gate_passed"] is False
    assert not (run / "bundles").exists()
    # Production is this run's own bundle: it was selected on this run's valid queries (overlap), never
    # saw the test queries, and with `production_overlap: refuse` that fails vs_baseline by name.
    overlap = record.baseline.overlap
    assert overlap is not None and overlap["same_data"] is True
    assert overlap["valid"]["seen_by_production"] == record.splits["valid"]["queries"]
    assert overlap["test"]["seen_by_production"] == 0
    assert all(any(c.metric == "overlap" and c.failed for c in v.checks) for v in record.verdicts.values())
    assert "Production was trained or selected on" in (run / "report" / "report.md").read_text()
    assert "Gate failed" in (run / "report" / "report.md").read_text()


@pytest.mark.slow
def test_the_same_command_twice_gives_the_same_bundle_id(tiny_run: Path, tmp_path: Path):
    """Measured figures (latency, intervals) live outside the hash, and pre-training, the teacher and
    the student are seeded and deterministic, so a second run of the same command ships a
    byte-identical bundle (the tiny preset runs the whole recipe: pre-training and distillation on). Costs one more
    tiny pipeline, ~1-2 min on 2 idle cores."""
    _cli_pipeline(tmp_path)
    first = json.loads((tiny_run / "latest.json").read_text())
    second = json.loads((tmp_path / "latest.json").read_text())
    manifests = [(Path(r["bundle_path"]) / "MANIFEST").read_text() for r in (first, second)]
    assert second["bundle_id"] == first["bundle_id"], manifests


def test_bad_config_key_exits_2_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochz: 3\n", encoding="utf-8")
    assert main(["data", "--config", str(bad), "--out", str(tmp_path / "o")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "train.epochz" in err
    assert not (tmp_path / "o").exists()


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["data", "--config", str(tmp_path / "nope.yaml")]) == EXIT_BAD_INPUT
    assert "nope.yaml: no such file" in capsys.readouterr().err


def test_step_out_of_order_exits_2_and_says_which_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["train", "--preset", "tiny", "--out", str(tmp_path)]) == EXIT_BAD_INPUT
    assert "run `python -m model data`" in capsys.readouterr().err


def test_unknown_step_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as e:
        main(["deploy"])
    assert e.value.code == 2
    assert "invalid choice: 'deploy'" in capsys.readouterr().err
