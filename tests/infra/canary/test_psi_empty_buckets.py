"""PSI when the *reference* histogram leaves a bucket empty (the floor applies to both sides)."""

from __future__ import annotations

import math

import pytest

from infra.canary.psi import EPSILON, psi
from tests.infra.canary.measurements import INF


def test_a_bucket_only_the_canary_fills_is_floored_on_the_stable_side() -> None:
    # canary 50 / 50, stable 0 / 100 (no `le="0"` series for stable):
    # (0.5 - 1e-4) ln(0.5 / 1e-4) + (0.5 - 1) ln(0.5 / 1) = 0.4999 * 8.5171932 + 0.3465736 = 4.6043186.
    # Without the floor on stable's side this divides by zero.
    expected = (0.5 - EPSILON) * math.log(0.5 / EPSILON) + (0.5 - 1.0) * math.log(0.5)
    assert expected == pytest.approx(4.6043186, abs=1e-6)
    assert psi({0.0: 50, INF: 100}, {INF: 100}) == pytest.approx(expected)


def test_both_sides_empty_in_the_same_bucket_add_nothing() -> None:
    # A bucket neither version fills contributes (1e-4 - 1e-4) * ln(1) = 0.
    three = {-1.0: 0, 0.0: 30, INF: 100}
    assert psi(three, {-1.0: 0, 0.0: 50, INF: 100}) == pytest.approx(
        psi({0.0: 30, INF: 100}, {0.0: 50, INF: 100})
    )
