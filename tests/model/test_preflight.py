"""Bad inputs are refused before the first step runs: nothing is trained, nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.__main__ import EXIT_BAD_INPUT, main


def test_a_baseline_that_is_not_a_bundle_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_bundle = tmp_path / "some-folder"
    not_a_bundle.mkdir()
    out = tmp_path / "out"
    argv = [
        "pipeline",
        "--preset",
        "tiny",
        "--out",
        str(out),
        "--baseline",
        str(not_a_bundle),
        "--no-progress",
    ]
    assert main(argv) == EXIT_BAD_INPUT
    assert "MANIFEST: missing; not a rankship bundle" in capsys.readouterr().err
    assert not out.exists()  # the data step never ran


def test_an_out_path_that_is_a_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "taken"
    file.write_text("x", encoding="utf-8")
    assert main(["data", "--preset", "tiny", "--out", str(file / "run")]) == EXIT_BAD_INPUT
    assert f"--out {file / 'run'}: {file} is a file, not a folder" in capsys.readouterr().err


def test_a_missing_data_file_is_named_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "csv.yaml"
    config.write_text(
        f"preset: tiny\ndata: {{source: csv, path: {tmp_path / 'nope.csv'}}}\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    assert main(["pipeline", "--config", str(config), "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "nope.csv" in err and "no such file (data.path for data.source 'csv')" in err
    assert not out.exists()
