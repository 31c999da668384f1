"""Gate semantics, with the expected numbers worked out by hand."""

from __future__ import annotations

import pytest

from model.config import Bound, GateConfig
from model.evaluation.gate import choose_shipped, judge

CFG = GateConfig(
    absolute={"ndcg@10": 0.5},
    vs_fp32={"ndcg@10": Bound(relative=-0.01)},
    vs_baseline={"ndcg@10": Bound(absolute=-0.02, relative=-0.05)},
    latency_p99_ms=10.0,
    size_gzip_bytes=None,
)


def _status(verdict, name, metric="ndcg@10"):
    return [c.status for c in verdict.checks if c.name == name and c.metric == metric]


def test_absolute_bound_passes_at_the_threshold_and_fails_below():
    ok = judge("v", {"ndcg@10": 0.5, "latency_p99_ms": 9.0}, CFG, fp32=None, baseline=None)
    bad = judge("v", {"ndcg@10": 0.4999, "latency_p99_ms": 9.0}, CFG, fp32=None, baseline=None)
    assert ok.passed
    assert not bad.passed
    assert [c.metric for c in bad.failures] == ["ndcg@10"]


def test_latency_is_lower_is_better():
    slow = judge("v", {"ndcg@10": 0.9, "latency_p99_ms": 10.5}, CFG, fp32=None, baseline=None)
    assert [c.metric for c in slow.failures] == ["latency_p99_ms"]
    assert "not <= 10" in slow.failures[0].detail


def test_relative_change_vs_fp32():
    # fp32 0.80; candidate 0.792 -> relative (0.792 - 0.80) / 0.80 = -0.01 exactly: allowed (>= -1 %).
    at_bound = judge("v", {"ndcg@10": 0.792, "latency_p99_ms": 1}, CFG, fp32={"ndcg@10": 0.80}, baseline=None)
    # 0.7919 -> -1.0125 %: fails.
    below = judge("v", {"ndcg@10": 0.7919, "latency_p99_ms": 1}, CFG, fp32={"ndcg@10": 0.80}, baseline=None)
    assert _status(at_bound, "vs_fp32") == ["pass"]
    assert _status(below, "vs_fp32") == ["fail"]
    assert below.failures[0].value == pytest.approx((0.7919 - 0.80) / 0.80)


def test_change_bounds_are_skipped_without_a_baseline():
    v = judge("v", {"ndcg@10": 0.7, "latency_p99_ms": 1}, CFG, fp32={"ndcg@10": 0.7}, baseline=None)
    assert _status(v, "vs_baseline") == ["skip"]
    assert v.passed


def test_baseline_absolute_and_relative_parts_both_apply():
    # baseline 0.60, candidate 0.575: change -0.025 < -0.02 (absolute fails);
    # relative -0.025 / 0.60 = -4.17 % >= -5 % (relative passes).
    v = judge(
        "v", {"ndcg@10": 0.575, "latency_p99_ms": 1}, CFG, fp32={"ndcg@10": 0.575}, baseline={"ndcg@10": 0.6}
    )
    assert _status(v, "vs_baseline") == ["fail", "pass"]
    assert not v.passed


def test_missing_metric_fails_the_gate_and_is_named():
    v = judge("v", {"ndcg@10": 0.9}, CFG, fp32=None, baseline=None)
    assert not v.passed
    assert [c.detail for c in v.failures] == ["latency_p99_ms was not measured"]


def test_missing_metric_in_reference_is_skipped_with_reason():
    v = judge("v", {"ndcg@10": 0.9, "latency_p99_ms": 1}, CFG, fp32={"mrr": 0.5}, baseline=None)
    (check,) = [c for c in v.checks if c.name == "vs_fp32"]
    assert check.status == "skip" and "has no ndcg@10" in check.detail


def test_zero_reference_skips_relative_only():
    cfg = GateConfig(
        absolute={},
        vs_fp32={"ndcg@10": Bound(absolute=-0.1, relative=-0.01)},
        vs_baseline={},
        latency_p99_ms=None,
    )
    v = judge("v", {"ndcg@10": 0.0}, cfg, fp32={"ndcg@10": 0.0}, baseline=None)
    assert [c.status for c in v.checks] == ["pass", "skip"]


def test_shipped_is_the_smallest_passing_variant():
    verdicts = {
        name: judge(name, {"ndcg@10": ndcg, "latency_p99_ms": 1}, CFG, fp32=None, baseline=None)
        for name, ndcg in {"fp32": 0.8, "int8": 0.45, "fp16": 0.79}.items()
    }
    sizes = {"fp32": 400.0, "int8": 100.0, "fp16": 200.0}
    # int8 is smallest but fails the absolute bound, so fp16 ships.
    assert choose_shipped(verdicts, sizes) == "fp16"
    assert choose_shipped({"int8": verdicts["int8"]}, {"int8": 100.0}) is None
