"""Online quality of canary vs stable from user feedback: non-inferiority z-tests on CTR and MRR of the click.

The serving runtime counts, per credited `bundle_version` (`model/serving/feedback.py`): impressions with
feedback `n`, impressions with at least one click `k`, and the sums of the reciprocal rank of the best click
`Σ rr` and of its square `Σ rr²` (rr = 1/position, 0 without a click). Over one window that gives

    CTR = k / n                           (a proportion)
    MRR = Σ rr / n,  s² = (Σ rr² - n·MRR²) / (n - 1)   (a mean with its sample variance)

**The test.** For each metric, the difference d = canary - stable with the unpooled (Wald / Welch) standard
error SE = sqrt(var_c / n_c + var_s / n_s) (for CTR var = p(1 - p)), against a *relative* non-inferiority
margin δ = margin · stable's value, at one-sided level α:

    pass  (non-inferior)  when the lower bound d - z₁₋α·SE > -δ, i.e. p = 1 - Φ((d + δ) / SE) < α
    fail  (inferior)      when the upper bound d + z₁₋α·SE < -δ: worse than the margin allows, significantly
    otherwise inconclusive: not measurable yet (the evaluation holds; the progress deadline ends a canary
    that stays inconclusive)

Why a fixed-sample z-test and not a sequential test: the counters give exactly its sufficient statistics,
each evaluation judges one window, a minimum sample per version (`min_feedback_per_version`) keeps the
normal approximation honest, and a reviewer can check it with a calculator. The repeated looks a sequential
test (mSPRT, SPRT) is made for are bounded by the decision rule instead: a promotion needs a pass at every
step on that step's own traffic, a rollback `failure_threshold` failures in a row. Consecutive windows
overlap when window > interval (the defaults, 10m and 5m), so those failures are correlated evidence: the
rule guards against a single unlucky window, it does not multiply the evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Feedback:
    """One version's feedback counters over one window."""

    impressions: float  # n
    clicked: float  # k
    rr_sum: float
    rr_sq_sum: float

    @property
    def ctr(self) -> float:
        return self.clicked / self.impressions if self.impressions else math.nan

    @property
    def mrr(self) -> float:
        return self.rr_sum / self.impressions if self.impressions else math.nan

    def ctr_variance(self) -> float:
        p = self.ctr
        return p * (1 - p)

    def mrr_variance(self) -> float:
        n = self.impressions
        if n < 2:
            return math.nan
        return max((self.rr_sq_sum - n * self.mrr**2) / (n - 1), 0.0)


@dataclass(frozen=True)
class Comparison:
    metric: str  # "CTR" or "MRR"
    canary: float
    stable: float
    margin: float  # δ, absolute (margin · stable)
    lower: float  # lower confidence bound of canary - stable at 1 - alpha
    upper: float
    p_value: float  # of H0 "canary is worse than stable by δ or more"
    outcome: str  # "pass", "fail" or "inconclusive"


def compare(
    metric: str, canary: float, stable: float, se: float, relative_margin: float, alpha: float
) -> Comparison:
    """The non-inferiority comparison of two estimates with standard error `se` of their difference."""
    d, delta = canary - stable, relative_margin * stable
    z_crit = _NORMAL.inv_cdf(1 - alpha)
    if se <= 0:
        # No variance at all (e.g. every impression clicked at position 1 in both): the difference is exact.
        lower = upper = d
        p = 0.0 if d > -delta else 1.0
    else:
        lower, upper = d - z_crit * se, d + z_crit * se
        p = 1 - _NORMAL.cdf((d + delta) / se)
    outcome = "pass" if lower > -delta else "fail" if upper < -delta else "inconclusive"
    return Comparison(metric, canary, stable, delta, lower, upper, p, outcome)


def compare_ctr(canary: Feedback, stable: Feedback, relative_margin: float, alpha: float) -> Comparison:
    se = math.sqrt(canary.ctr_variance() / canary.impressions + stable.ctr_variance() / stable.impressions)
    return compare("CTR", canary.ctr, stable.ctr, se, relative_margin, alpha)


def compare_mrr(canary: Feedback, stable: Feedback, relative_margin: float, alpha: float) -> Comparison:
    se = math.sqrt(canary.mrr_variance() / canary.impressions + stable.mrr_variance() / stable.impressions)
    return compare("MRR", canary.mrr, stable.mrr, se, relative_margin, alpha)
