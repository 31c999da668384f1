"""Paired bootstrap intervals, with the expected numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation.intervals import paired_bootstrap


def test_constant_difference_has_a_zero_width_interval():
    a = np.array([0.5, 0.7, 0.9, 0.2])
    iv = paired_bootstrap(a, a - 0.1, samples=500, seed=1)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((0.1, 0.1, 0.1))
    assert iv.queries == 4 and iv.excludes_zero


def test_two_queries_give_the_resampling_distribution_by_hand():
    # Differences (1, 0). A resample of 2 queries has mean 0 (p 1/4), 0.5 (p 1/2) or 1 (p 1/4), so the
    # 2.5th and 97.5th percentiles of many resamples are 0 and 1, and the estimate is 0.5.
    iv = paired_bootstrap(np.array([1.0, 0.0]), np.array([0.0, 0.0]), samples=4000, seed=3)
    assert iv.estimate == 0.5 and (iv.low, iv.high) == (0.0, 1.0)
    assert not iv.excludes_zero


def test_undefined_queries_are_left_out_on_both_sides():
    a = np.array([0.9, np.nan, 0.4])
    b = np.array([0.8, 0.1, np.nan])
    iv = paired_bootstrap(a, b, samples=200, seed=0)
    assert iv.queries == 1 and iv.estimate == pytest.approx(0.1)


def test_seeded_and_paired():
    rng = np.random.default_rng(0)
    base = rng.random(200)
    # A small gain (0.01 +- 0.02 per query) is significant when paired, although the per-query values
    # vary far more than the gain (sd 0.29): an unpaired comparison would not see it.
    better = base + 0.01 + rng.normal(0.0, 0.02, size=200)
    first = paired_bootstrap(better, base, samples=300, seed=5)
    assert first == paired_bootstrap(better, base, samples=300, seed=5)
    assert first.low > 0


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="aligned"):
        paired_bootstrap(np.zeros(3), np.zeros(4))
