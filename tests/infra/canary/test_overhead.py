"""The overhead benchmark's percentiles and table (the timing itself is `make bench-interleaving`, never a test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.canary.local.overhead import percentiles, report


def test_percentiles_inclusive() -> None:
    # 1..100 ms: p50 halfway between 50 and 51, p99 at 99 + 0.01 * (100 - 99) (linear, inclusive).
    assert percentiles([float(v) for v in range(1, 101)]) == pytest.approx((50.5, 99.01))


def test_report_subtracts_the_single_ranker() -> None:
    single = [10.0] * 99 + [20.0]
    interleaved = [14.0] * 99 + [30.0]
    table = report({"single": single, "interleaved": interleaved, "combiner": [2.0] * 100}, 100)
    # p99 (inclusive) of 99 x a and one b: a + 0.01 * (b - a) -> 10.1 and 14.16.
    assert "| overhead | +4.0 | +4.1 |" in table
    assert "| of which the combiner's hop (aggregate call) | 2.0 | 2.0 |" in table


def test_the_shipped_bundles_are_measured_newest_first(tmp_path: Path) -> None:
    import os

    from infra.canary.local.overhead import shipped_bundles
    from model.release.bundle import write_bundle

    bundles = tmp_path / "bundles"
    assert shipped_bundles(bundles, tmp_path / "work") is None  # none: the caller falls back, loudly

    def files(model: bytes) -> dict[str, bytes | Path]:
        return {"model.tflite": model, "tokenizer.json": b"{}", "golden.json": b"[]", "config.json": b"{}"}

    old = write_bundle(files(b"old"), bundles)
    os.utime(old.path / "MANIFEST", (1, 1))  # written long ago
    # Alone, the newest is served twice: as stable and re-bundled under another version (same model).
    stable, canary = shipped_bundles(bundles, tmp_path / "work")  # type: ignore[misc]
    assert stable.bundle_id == old.bundle_id and canary.bundle_id != old.bundle_id
    assert (canary.path / "model.tflite").read_bytes() == b"old"
    new = write_bundle(files(b"new"), bundles)
    stable, canary = shipped_bundles(bundles, tmp_path / "work2")  # type: ignore[misc]
    assert (stable.bundle_id, canary.bundle_id) == (new.bundle_id, old.bundle_id)
