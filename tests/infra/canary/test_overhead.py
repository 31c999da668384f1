"""The overhead benchmark's percentiles and table (the timing itself is `make bench-interleaving`, never a test)."""

from __future__ import annotations

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
