"""The benchmark's power search and tests on known outcome probabilities (no catalog, no timing)."""

from __future__ import annotations

import numpy as np

from infra.canary.local.outcomes import InterleavingOdds
from infra.canary.local.sensitivity import GRID, ab_power, interleaving_power, needed


def test_needed_is_the_first_grid_size_with_80_percent_power() -> None:
    assert needed(lambda n: 1.0 if n >= 1000 else 0.0) == next(int(g) for g in GRID if g >= 1000)
    assert needed(lambda n: 0.5) is None


def test_no_difference_is_detected_about_2_5_percent_of_the_time() -> None:
    # Both tests are two-sided at 5 %; only the canary-better half counts as a detection.
    rng = np.random.default_rng(1)
    assert abs(ab_power(0.3, 0.3, 4000, rng) - 0.025) < 0.015
    assert abs(interleaving_power(InterleavingOdds(0.2, 0.2, 0.6), 4000, rng) - 0.025) < 0.015


def test_a_clear_preference_is_detected() -> None:
    rng = np.random.default_rng(1)
    # 100 decided impressions at 70 % wins: significant from 61 wins ((|2w - 100| - 1) / 10 > 1.96);
    # wins ~ Binomial(100, 0.7), sd 4.58: P(W >= 61) = P(Z >= (60.5 - 70) / 4.58) = 0.981.
    assert abs(interleaving_power(InterleavingOdds(0.7, 0.3, 0.0), 100, rng) - 0.981) < 0.015
    # 0.2 apart with 200 per arm: SE = sqrt(0.4 * 0.6 * 2 / 200) = 0.049, z = 4.08: power P(Z > 1.96 - 4.08) = 0.983.
    assert abs(ab_power(0.3, 0.5, 400, rng) - 0.983) < 0.015
