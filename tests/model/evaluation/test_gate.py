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
    latency_vs_fp32_tflite=None,
    size_gzip_bytes=None,
    latency_clock="wall",  # these tests name the wall-clock metrics; the CPU clock has its own below
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
        vs_lexical={},
        latency_p99_ms=None,
        latency_vs_fp32_tflite=None,
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


def test_vs_lexical_bounds_the_change_against_the_strongest_baseline():
    cfg = CFG.model_copy(update={"vs_lexical": {"ndcg@10": Bound(absolute=0.0)}})
    # Model 0.70 vs lexical 0.71: change -0.01 < 0 fails; 0.71 ties and passes.
    worse = judge("v", {"ndcg@10": 0.70, "latency_p99_ms": 1}, cfg, None, None, lexical={"ndcg@10": 0.71})
    tie = judge("v", {"ndcg@10": 0.71, "latency_p99_ms": 1}, cfg, None, None, lexical={"ndcg@10": 0.71})
    assert _status(worse, "vs_lexical") == ["fail"] and _status(tie, "vs_lexical") == ["pass"]
    assert "vs 0.71" in worse.failures[0].detail


def test_ci_low_judges_the_pessimistic_end_of_the_interval():
    """+0.02 over the reference passes on the estimate, but its interval [-0.01, +0.05] does not clear 0."""
    ci = CFG.model_copy(update={"vs_lexical": {"ndcg@10": Bound(absolute=0.0, judge_on="ci_low")}})
    metrics, ref = {"ndcg@10": 0.72, "latency_p99_ms": 1}, {"ndcg@10": 0.70}
    unsure = judge("v", metrics, ci, None, None, ref, {"vs_lexical": {"ndcg@10": (-0.01, 0.05)}})
    sure = judge("v", metrics, ci, None, None, ref, {"vs_lexical": {"ndcg@10": (0.004, 0.05)}})
    assert _status(unsure, "vs_lexical") == ["fail"] and "CI low change -0.01" in unsure.failures[0].detail
    assert _status(sure, "vs_lexical") == ["pass"]
    missing = judge("v", metrics, ci, None, None, ref, None)
    assert "no confidence interval" in missing.failures[0].detail


def test_relative_ci_low_divides_the_lower_end_by_the_reference():
    # fp32 0.80; interval low -0.012 -> -1.5 % < -1 %: fails although the estimate (-0.4 %) passes.
    cfg = CFG.model_copy(update={"vs_fp32": {"ndcg@10": Bound(relative=-0.01, judge_on="ci_low")}})
    v = judge(
        "v",
        {"ndcg@10": 0.797, "latency_p99_ms": 1},
        cfg,
        {"ndcg@10": 0.80},
        None,
        None,
        {"vs_fp32": {"ndcg@10": (-0.012, 0.004)}},
    )
    (check,) = [c for c in v.checks if c.name == "vs_fp32"]
    assert check.status == "fail" and check.value == pytest.approx(-0.012 / 0.80)


def test_latency_relative_to_the_float_litert_export():
    cfg = CFG.model_copy(update={"latency_vs_fp32_tflite": 0.1, "latency_p99_ms": None})
    ok = judge("v", {"ndcg@10": 0.9, "latency_p99_vs_reference": 1.1}, cfg, None, None)
    slow = judge("v", {"ndcg@10": 0.9, "latency_p99_vs_reference": 1.12}, cfg, None, None)
    assert ok.passed and [c.metric for c in slow.failures] == ["latency_p99_vs_reference"]


def test_the_cpu_clock_judges_cpu_time_and_ignores_a_loaded_wall_clock():
    # A loaded runner: 35 ms elapsed, 9.6 ms of CPU. The default clock judges CPU time, so the variant
    # passes a 20 ms budget; on the wall clock the same figures fail it.
    metrics = {
        "ndcg@10": 0.9,
        "latency_p99_ms": 35.0,
        "latency_cpu_p99_ms": 9.6,
        "latency_p99_vs_reference": 1.3,
        "latency_cpu_p99_vs_reference": 1.05,
    }
    cpu = GateConfig(latency_p99_ms=20.0, latency_vs_fp32_tflite=0.1, vs_lexical={})
    assert cpu.latency_clock == "cpu"
    assert judge("v", metrics, cpu, None, None).passed
    wall = cpu.model_copy(update={"latency_clock": "wall"})
    assert [c.metric for c in judge("v", metrics, wall, None, None).failures] == [
        "latency_p99_ms",
        "latency_p99_vs_reference",
    ]
    # 10 % slower than the float export on CPU time (1.12 > 1.1) fails on the CPU clock.
    slow = judge("v", {**metrics, "latency_cpu_p99_vs_reference": 1.12}, cpu, None, None)
    assert [c.detail for c in slow.failures] == ["latency_cpu_p99_vs_reference = 1.12 not <= 1.1"]
    # No CPU figure (a record measured before the clock existed) fails: a gate that cannot measure
    # must not pass.
    old = {k: v for k, v in metrics.items() if "cpu" not in k}
    assert [c.detail for c in judge("v", old, cpu, None, None).failures] == [
        "latency_cpu_p99_ms was not measured",
        "latency_cpu_p99_vs_reference was not measured",
    ]
