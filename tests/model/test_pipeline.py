"""The tiny preset end to end through the CLI, and the CLI's answers to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.__main__ import EXIT_BAD_INPUT, EXIT_GATE_FAILED, main
from model.evaluation.record import RunRecord
from model.release.bundle import verify_bundle


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    assert main(["pipeline", "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.slow
def test_tiny_pipeline_ships_a_verified_bundle(tiny_run: Path):
    latest = json.loads((tiny_run / "latest.json").read_text())
    assert latest["gate_passed"] is True
    info = verify_bundle(Path(latest["bundle_path"]))
    assert info.bundle_id == latest["bundle_id"] and info.version == latest["version"]
    assert {"model.tflite", "tokenizer.json", "golden.json", "metrics.json", "MODEL_CARD.md"} <= set(
        info.files
    )
    record = RunRecord.load(info.path / "metrics.json")
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
    assert "BM25 baseline" in report and "fp32 (this run)" in report
    assert "No production baseline bundle" in report
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
    strict.write_text("preset: tiny\ngate:\n  vs_baseline: {'ndcg@10': {relative: 0.5}}\n", encoding="utf-8")
    argv = ["--config", str(strict), "--out", str(run), "--no-progress"]
    assert main(["evaluate", *argv, "--baseline", latest["bundle_path"]]) == 0
    assert main(["package", *argv]) == EXIT_GATE_FAILED
    record = RunRecord.load(run / "report" / "metrics.json")
    assert record.baseline is not None and record.baseline.bundle_id == latest["bundle_id"]
    assert record.shipped is None
    assert all(any(c.name == "vs_baseline" and c.failed for c in v.checks) for v in record.verdicts.values())
    assert json.loads((run / "latest.json").read_text())["gate_passed"] is False
    assert not (run / "bundles").exists()
    assert "Gate failed" in (run / "report" / "report.md").read_text()


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
