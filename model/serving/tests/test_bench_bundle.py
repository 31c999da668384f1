"""`make bench-serve` names what it measures: the shipped bundle's variant, or a loud fixture warning."""

from __future__ import annotations

import json
from pathlib import Path

from model.serving.bench import describe_bundle
from model.serving.bench_load import server_timing


def test_a_shipped_bundle_is_described_from_the_figures_beside_it(tmp_path: Path) -> None:
    bundle = tmp_path / "8cd5b43f6bdc25f5"
    bundle.mkdir()
    run = tmp_path / "8cd5b43f6bdc25f5.run"  # figures live beside the bundle, outside its hash
    run.mkdir()
    (run / "metrics.json").write_text(
        json.dumps({"shipped": "fp32_tflite_float32", "preset": "default"}), encoding="utf-8"
    )
    text = describe_bundle(bundle)
    assert "variant fp32_tflite_float32, preset default" in text and "FIXTURE" not in text


def test_the_fixture_is_announced_and_a_bundle_without_figures_is_not_a_crash(tmp_path: Path) -> None:
    fixture = tmp_path / "fixture"
    fixture.mkdir()
    (fixture / "metrics.json").write_text(json.dumps({"variants": [], "note": "fixture"}), encoding="utf-8")
    assert "UNTRAINED FIXTURE" in describe_bundle(fixture)
    bare = tmp_path / "bare"
    bare.mkdir()
    assert "no metrics.json beside it" in describe_bundle(bare)


def test_the_server_timing_header_is_read_as_milliseconds() -> None:
    header = 'predict;dur=5.125, app;dur=5.6;desc="fast path"'
    assert server_timing(header) == {"predict": 5.125, "app": 5.6}
    assert server_timing(None) == {} and server_timing("cache;desc=hit") == {}
