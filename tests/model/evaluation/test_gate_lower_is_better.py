"""Change bounds on lower-is-better metrics (latency, size): the bound caps the increase.

For latency a change bound of +10 % means "at most 10 % slower than the reference", so 12 ms against 10 ms
(+20 %) fails and 9 ms (-10 %, faster) passes — the opposite direction of an NDCG bound.
"""

from __future__ import annotations

from model.config import Bound, GateConfig
from model.evaluation.gate import judge

CFG = GateConfig(
    absolute={},
    vs_fp32={"latency_p99_ms": Bound(relative=0.10, absolute=1.5)},
    vs_baseline={},
    latency_p99_ms=None,
    size_gzip_bytes=None,
)
FP32 = {"latency_p99_ms": 10.0}


def _checks(value: float) -> list[tuple[float | None, str]]:
    verdict = judge("v", {"latency_p99_ms": value}, CFG, fp32=FP32, baseline=None)
    return [(c.value, c.status) for c in verdict.checks if c.name == "vs_fp32"]


def test_slower_than_the_relative_and_absolute_caps_fails() -> None:
    # 12 ms vs 10 ms: change +2 ms (> +1.5) and +20 % (> +10 %).
    assert _checks(12.0) == [(2.0, "fail"), (0.2, "fail")]


def test_within_the_caps_passes_and_faster_always_passes() -> None:
    # 11 ms: +1 ms (<= 1.5) and +10 % exactly (on the bound); 9 ms: -1 ms and -10 %.
    (abs_change, abs_status), (rel_change, rel_status) = _checks(11.0)
    assert (abs_status, rel_status) == ("pass", "pass")
    assert abs_change == 1.0 and abs(rel_change - 0.1) < 1e-12
    assert [s for _, s in _checks(9.0)] == ["pass", "pass"]


def test_between_the_caps_only_the_broken_one_fails() -> None:
    # 11.2 ms: +1.2 ms passes the absolute cap, +12 % fails the relative one.
    assert [s for _, s in _checks(11.2)] == ["pass", "fail"]
