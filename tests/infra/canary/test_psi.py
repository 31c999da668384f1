"""PSI of score histograms, worked out by hand on two and four buckets."""

from __future__ import annotations

import math

import pytest

from infra.canary.psi import EPSILON, bucket_counts, psi
from tests.infra.canary.measurements import ALL_HIGH, EVEN, EVEN_SMALL, INF


def test_cumulative_counts_become_bucket_counts() -> None:
    assert bucket_counts({-1.0: 250, 0.0: 500, 1.0: 750, INF: 1000}, [-1.0, 0.0, 1.0, INF]) == [250] * 4


def test_a_missing_bound_means_nothing_at_or_below_it() -> None:
    # The runtime emits a bucket series with its first count: no `le="-1"` series means no score <= -1.
    assert bucket_counts({0.0: 40, INF: 100}, [-1.0, 0.0, INF]) == [0, 40, 60]


def test_a_dip_from_extrapolation_is_read_as_an_empty_bucket() -> None:
    assert bucket_counts({0.0: 50.4, INF: 50.0}, [0.0, INF]) == [50.4, 0.0]


def test_psi_by_hand_on_two_buckets() -> None:
    # canary 30 / 70, stable 50 / 50:
    # (0.3 - 0.5) ln(0.3 / 0.5) + (0.7 - 0.5) ln(0.7 / 0.5) = 0.2 * 0.5108256 + 0.2 * 0.3364722 = 0.1694596
    assert psi({0.0: 30, INF: 100}, {0.0: 50, INF: 100}) == pytest.approx(0.1694596, abs=1e-7)


def test_identical_proportions_have_zero_psi_whatever_the_traffic() -> None:
    assert psi(EVEN_SMALL, EVEN) == pytest.approx(0.0, abs=1e-12)


def test_psi_is_symmetric() -> None:
    a, b = {0.0: 30, INF: 100}, {0.0: 50, INF: 100}
    assert psi(a, b) == pytest.approx(psi(b, a))


def test_an_empty_bucket_counts_as_epsilon() -> None:
    # canary 0 / 100 (no `le="0"` series at all), stable 50 / 50:
    # (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5) = 0.4999 * 8.5171932 + 0.5 * 0.6931472 = 4.6043186
    expected = (EPSILON - 0.5) * math.log(EPSILON / 0.5) + 0.5 * math.log(2)
    assert expected == pytest.approx(4.6043186, abs=1e-6)
    assert psi({INF: 100}, {0.0: 50, INF: 100}) == pytest.approx(expected)


def test_a_collapsed_distribution_is_a_large_shift() -> None:
    # Every canary score in the top bucket, stable's in four even buckets:
    # 3 (1e-4 - 0.25) ln(1e-4 / 0.25) + (1 - 0.25) ln(1 / 0.25)
    expected = 3 * (EPSILON - 0.25) * math.log(EPSILON / 0.25) + 0.75 * math.log(4)
    assert psi(ALL_HIGH, EVEN) == pytest.approx(expected)
    assert expected > 6.9


@pytest.mark.parametrize("empty", [{}, {INF: 0.0}])
def test_no_scores_no_psi(empty: dict[float, float]) -> None:
    assert psi(empty, EVEN) is None
    assert psi(EVEN, empty) is None


def test_fractional_counts_from_increase_still_have_a_psi() -> None:
    # increase() over a short window extrapolates: a version can show 0.8 scores in total. Canary 0.4 / 0.4
    # against stable 50 / 50 is the same shape (PSI 0), and either side's total below 1 is still measured.
    assert psi({0.0: 0.4, INF: 0.8}, {0.0: 50, INF: 100}) == pytest.approx(0.0, abs=1e-12)
    assert psi({0.0: 50, INF: 100}, {0.0: 0.4, INF: 0.8}) == pytest.approx(0.0, abs=1e-12)
    # One score in total (canary 1 / 0, stable 50 / 50): (1 - 0.5) ln(1 / 0.5) + (1e-4 - 0.5) ln(1e-4 / 0.5).
    expected = 0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    assert psi({0.0: 1, INF: 1}, {0.0: 50, INF: 100}) == pytest.approx(expected)
