"""Every field of the gate's checks (name, metric, value, threshold, status, detail), as the release report
prints them; each expected value worked out by hand."""

from __future__ import annotations

import pytest

from model.config import Bound, GateConfig
from model.evaluation.gate import Check, choose_shipped, judge

NONE = {"vs_lexical": {}, "vs_fp32": {}, "vs_baseline": {}}


def test_absolute_checks_in_order_with_the_missing_metric_named() -> None:
    # The latency budgets judge the CPU clock by default (gate.latency_clock).
    cfg = GateConfig(
        absolute={"ndcg@10": 0.5, "mrr": 0.4},
        latency_p99_ms=10.0,
        size_gzip_bytes=1000,
        latency_vs_fp32_tflite=0.25,
        **NONE,
    )
    metrics = {
        "ndcg@10": 0.55,
        "latency_cpu_p99_ms": 12.0,
        "size_gzip_bytes": 1000.0,
        "latency_cpu_p99_vs_reference": 1.2,
    }
    # mrr is not measured: it fails, and the checks after it are still made. Size 1000 <= 1000 is on the
    # bound (lower is better); the LiteRT ratio bound is 1 + 0.25.
    assert judge("int8", metrics, cfg, None, None).checks == (
        Check("absolute", "ndcg@10", 0.55, 0.5, "pass", "ndcg@10 = 0.55 >= 0.5"),
        Check("absolute", "mrr", None, 0.4, "fail", "mrr was not measured"),
        Check("absolute", "latency_cpu_p99_ms", 12.0, 10.0, "fail", "latency_cpu_p99_ms = 12 not <= 10"),
        Check("absolute", "size_gzip_bytes", 1000.0, 1000.0, "pass", "size_gzip_bytes = 1000 <= 1000"),
        Check(
            "absolute",
            "latency_cpu_p99_vs_reference",
            1.2,
            1.25,
            "pass",
            "latency_cpu_p99_vs_reference = 1.2 <= 1.25",
        ),
    )
    assert judge("int8", metrics, cfg, None, None).variant == "int8"


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.5 - 1e-9, "pass"), (0.5 - 3e-9, "fail")],
)
def test_values_within_the_tolerance_of_a_higher_is_better_bound_are_on_it(value: float, status: str) -> None:
    cfg = GateConfig(absolute={"ndcg@10": 0.5}, latency_p99_ms=None, latency_vs_fp32_tflite=None, **NONE)
    (check,) = judge("v", {"ndcg@10": value}, cfg, None, None).checks
    assert check.status == status


@pytest.mark.parametrize(("value", "status"), [(10.0, "pass"), (10.0 + 1e-9, "pass"), (10.0 + 3e-9, "fail")])
def test_values_within_the_tolerance_of_a_lower_is_better_bound_are_on_it(value: float, status: str) -> None:
    cfg = GateConfig(latency_p99_ms=10.0, latency_vs_fp32_tflite=None, **NONE)
    (check,) = judge("v", {"latency_cpu_p99_ms": value}, cfg, None, None).checks
    assert check.status == status


def test_change_checks_with_every_kind_of_gap() -> None:
    # vs_fp32 on three metrics: mrr has no reference value, recall is not measured, ndcg is compared.
    # ndcg 0.72 vs 0.80: change -0.08 < -0.05 fails; relative -0.08 / 0.80 = -10 % < -5 % fails.
    # The absence of a baseline skips each of its bounds, with the candidate's value kept.
    cfg = GateConfig(
        vs_lexical={},
        vs_fp32={"mrr": Bound(absolute=0.0), "recall@10": Bound(absolute=0.0),
                 "ndcg@10": Bound(absolute=-0.05, relative=-0.05)},
        vs_baseline={"ndcg@10": Bound(relative=-0.02), "mrr": Bound(relative=-0.02)},
        latency_p99_ms=None,
        latency_vs_fp32_tflite=None,
    )  # fmt: skip
    metrics = {"ndcg@10": 0.72, "mrr": 0.6}
    checks = judge("v", metrics, cfg, fp32={"ndcg@10": 0.80, "recall@10": 0.5}, baseline=None).checks
    assert checks == (
        Check("vs_fp32", "mrr", 0.6, None, "skip", "vs_fp32 reference has no mrr"),
        Check("vs_fp32", "recall@10", None, None, "fail", "recall@10 was not measured"),
        Check("vs_fp32", "ndcg@10", pytest.approx(-0.08), -0.05, "fail",  # type: ignore[arg-type]
              "ndcg@10 change -0.08 not >= -0.05 (vs 0.8)"),
        Check("vs_fp32", "ndcg@10", pytest.approx(-0.1), -0.05, "fail",  # type: ignore[arg-type]
              "ndcg@10 change -10.00% not >= -5.00% (vs 0.8)"),
        Check("vs_baseline", "ndcg@10", 0.72, None, "skip", "no vs_baseline reference to compare with"),
        Check("vs_baseline", "mrr", 0.6, None, "skip", "no vs_baseline reference to compare with"),
    )  # fmt: skip


def test_passing_change_checks_say_so_without_not() -> None:
    cfg = GateConfig(vs_fp32={"ndcg@10": Bound(absolute=-0.05, relative=-0.05)}, vs_lexical={}, vs_baseline={},
                     latency_p99_ms=None, latency_vs_fp32_tflite=None)  # fmt: skip
    # 0.79 vs 0.80: change -0.01 >= -0.05; relative -1.25 % >= -5 %.
    assert [c.detail for c in judge("v", {"ndcg@10": 0.79}, cfg, {"ndcg@10": 0.80}, None).checks] == [
        "ndcg@10 change -0.01 >= -0.05 (vs 0.8)",
        "ndcg@10 change -1.25% >= -5.00% (vs 0.8)",
    ]


def test_a_zero_reference_skips_the_relative_part_with_its_reason() -> None:
    cfg = GateConfig(vs_fp32={"ndcg@10": Bound(relative=-0.01)}, vs_lexical={}, vs_baseline={},
                     latency_p99_ms=None, latency_vs_fp32_tflite=None)  # fmt: skip
    (check,) = judge("v", {"ndcg@10": 0.0}, cfg, {"ndcg@10": 0.0}, None).checks
    assert check == Check(
        "vs_fp32", "ndcg@10", None, -0.01, "skip", "ndcg@10 reference is 0: relative undefined"
    )


def test_ci_low_without_an_interval_fails_and_later_metrics_are_still_checked() -> None:
    ci = Bound(absolute=0.0, judge_on="ci_low")
    cfg = GateConfig(vs_lexical={"mrr": ci, "ndcg@10": Bound(absolute=0.0)}, vs_fp32={}, vs_baseline={},
                     latency_p99_ms=None, latency_vs_fp32_tflite=None)  # fmt: skip
    metrics, ref = {"ndcg@10": 0.72, "mrr": 0.6}, {"ndcg@10": 0.70, "mrr": 0.5}
    assert judge("v", metrics, cfg, None, None, lexical=ref).checks == (
        Check(
            "vs_lexical", "mrr", None, None, "fail", "mrr: no confidence interval of the change was measured"
        ),
        Check(
            "vs_lexical", "ndcg@10", pytest.approx(0.02), 0.0, "pass", "ndcg@10 change +0.02 >= +0 (vs 0.7)"
        ),
    )


def test_ci_low_of_a_lower_is_better_metric_judges_the_high_end() -> None:
    # Latency 10 ms vs 10 ms, interval of the change [-1, +2] ms: the pessimistic end is +2 ms, above +1.5.
    cfg = GateConfig(vs_baseline={"latency_p99_ms": Bound(absolute=1.5, judge_on="ci_low")}, vs_lexical={},
                     vs_fp32={}, latency_p99_ms=None, latency_vs_fp32_tflite=None)  # fmt: skip
    intervals = {"vs_baseline": {"latency_p99_ms": (-1.0, 2.0)}}
    (check,) = judge(
        "v", {"latency_p99_ms": 10.0}, cfg, None, {"latency_p99_ms": 10.0}, None, intervals
    ).checks
    assert check == Check(
        "vs_baseline",
        "latency_p99_ms",
        2.0,
        1.5,
        "fail",
        "latency_p99_ms CI high change +2 not <= +1.5 (vs 10)",
    )


def test_ties_in_size_ship_the_first_name_in_order() -> None:
    cfg = GateConfig(latency_p99_ms=None, latency_vs_fp32_tflite=None, **NONE)
    verdicts = {name: judge(name, {}, cfg, None, None) for name in ("int8", "fp16", "dynamic")}
    # All pass; fp16 and dynamic share the smallest size, and "dynamic" < "fp16" alphabetically.
    assert choose_shipped(verdicts, {"int8": 300.0, "fp16": 100.0, "dynamic": 100.0}) == "dynamic"
    assert choose_shipped(verdicts, {"int8": 300.0, "fp16": 100.0, "dynamic": 200.0}) == "fp16"
