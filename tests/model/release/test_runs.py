"""Run history: a run recorded in the local MLflow store is listed by `make runs`, with its bundle id."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.config import load_config
from model.release.runs import flatten, main, metric_name, record_run, run_metrics, tracking_uri
from tests.model.release.test_report import record


def test_settings_become_dotted_parameters() -> None:
    assert flatten({"train": {"epochs": 8, "loss": "softmax"}, "preset": "tiny"}) == {
        "train.epochs": "8",
        "train.loss": "softmax",
        "preset": "tiny",
    }
    assert metric_name("ndcg@10") == "ndcg_at_10"
    assert flatten({"gate": {"absolute": {"ndcg@10": 0.5}}}) == {"gate.absolute.ndcg_at_10": "0.5"}


def test_metrics_name_the_variant_and_the_shipped_one() -> None:
    metrics = run_metrics(record())
    assert metrics["a_tflite_int8.ndcg_at_10"] == 0.795
    assert metrics["shipped.ndcg_at_10"] == 0.795
    assert metrics["shipped.size_gzip_kib"] == 700.0
    assert metrics["bm25.ndcg_at_10"] == 0.65 == metrics["bm25.valid_ndcg_at_10"]


def test_a_recorded_run_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("# report\n", encoding="utf-8")
    assert tracking_uri(tmp_path) == f"sqlite:///{tmp_path.absolute()}/mlruns/mlflow.db"
    run_id = record_run(load_config(preset="tiny"), record(), report, tmp_path)
    assert run_id is not None
    assert (tmp_path / "mlruns" / "artifacts" / run_id / "artifacts" / "report" / "report.md").exists()
    assert main(["--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split("  ")[0] == "started (UTC)"
    row = table[1]
    assert "a_tflite_int8" in row and "0.7950" in row and "700.0" in row and "abababababab" in row
    assert table[-1].startswith("1 run(s) in sqlite:///")


def test_an_unreachable_store_does_not_fail_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocked}/sub/mlflow.db")
    assert record_run(load_config(preset="tiny"), record(), tmp_path, tmp_path) is None
    assert "run history: not recorded in sqlite:///" in capsys.readouterr().err
