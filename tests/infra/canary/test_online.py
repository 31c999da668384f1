"""The online-quality statistics, with every expected number worked out by hand (shown in the comments)."""

from __future__ import annotations

import math

import pytest

from infra.canary.online import Feedback, compare, compare_ctr, compare_mrr

Z95 = 1.6448536  # one-sided alpha 0.05


def test_ctr_inconclusive_at_100_impressions() -> None:
    # canary 30/100, stable 40/100: d = -0.10, SE = sqrt(.3*.7/100 + .4*.6/100) = sqrt(.0045) = 0.0670820
    c, s = Feedback(100, 30, 0, 0), Feedback(100, 40, 0, 0)
    got = compare_ctr(c, s, relative_margin=0.05, alpha=0.05)  # margin delta = 0.05 * 0.40 = 0.02
    assert got.margin == pytest.approx(0.02)
    assert got.lower == pytest.approx(-0.10 - Z95 * 0.0670820, abs=1e-6)  # -0.210341
    assert got.upper == pytest.approx(0.010341, abs=1e-6)
    # p = 1 - Phi((-0.10 + 0.02) / 0.0670820) = 1 - Phi(-1.192570) = 0.88349
    assert got.p_value == pytest.approx(0.88349, abs=1e-4)
    assert got.outcome == "inconclusive"


def test_ctr_fails_when_significantly_worse_than_the_margin() -> None:
    # 300/1000 vs 400/1000: SE = sqrt(.00045) = 0.0212132; upper = -0.1 + 0.0348928 = -0.0651072 < -0.02
    got = compare_ctr(Feedback(1000, 300, 0, 0), Feedback(1000, 400, 0, 0), 0.05, 0.05)
    assert got.upper == pytest.approx(-0.0651072, abs=1e-6)
    assert got.p_value == pytest.approx(1 - 8.13e-5, abs=2e-5)  # 1 - Phi(-3.77124)
    assert got.outcome == "fail"


def test_ctr_passes_when_non_inferior() -> None:
    # 420/1000 vs 400/1000: SE = sqrt(.2436/1000 + .24/1000) = 0.0219910; lower = .02 - .0361723 = -.0161723
    got = compare_ctr(Feedback(1000, 420, 0, 0), Feedback(1000, 400, 0, 0), 0.05, 0.05)
    assert got.lower == pytest.approx(-0.0161723, abs=1e-6)
    assert got.p_value == pytest.approx(0.034462, abs=1e-5)  # 1 - Phi(0.04 / 0.0219910 = 1.818926)
    assert got.outcome == "pass"


def test_mrr_uses_the_sample_variance_of_reciprocal_ranks() -> None:
    # rr = [1, .5, 0, 0]: sum 1.5, sum of squares 1.25, mean .375, s^2 = (1.25 - 4 * .140625) / 3 = .2291667
    c = Feedback(4, 2, 1.5, 1.25)
    assert c.mrr == pytest.approx(0.375) and c.mrr_variance() == pytest.approx(0.2291667, abs=1e-7)
    # stable rr = [1, 1, 1, 0]: mean .75, s^2 = (3 - 4 * .5625) / 3 = .25
    s = Feedback(4, 3, 3.0, 3.0)
    got = compare_mrr(c, s, 0.1, 0.05)  # delta = .075; SE = sqrt(.2291667/4 + .25/4) = 0.3461093
    assert got.margin == pytest.approx(0.075)
    assert got.lower == pytest.approx(-0.375 - Z95 * 0.3461093, abs=1e-6)
    assert got.outcome == "inconclusive"


def test_no_variance_is_exact() -> None:
    # Every impression clicked at position 1 in both: d = 0 > -delta, nothing uncertain.
    got = compare("MRR", 1.0, 1.0, 0.0, 0.05, 0.05)
    assert (got.lower, got.upper, got.p_value, got.outcome) == (0.0, 0.0, 0.0, "pass")


def test_empty_feedback_is_nan_not_zero() -> None:
    assert math.isnan(Feedback(0, 0, 0, 0).ctr) and math.isnan(Feedback(1, 1, 1, 1).mrr_variance())
