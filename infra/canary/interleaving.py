"""The interleaving check: did users prefer the canary's or stable's results in interleaved lists?

The interleaving combiner (`model/serving/combiner.py`) counts one outcome per impression that got feedback,
`rankship_interleaving_total{stable_version, canary_version, winner=stable|canary|tie}`. Ties (equal clicks
per team, also no click) carry no preference; the *decided* impressions are a sign test: under "no
preference" the canary's wins among n decided impressions are Binomial(n, 1/2). The exact two-sided p-value
is 2 * P(X <= min(wins, losses)) (capped at 1); exact because n is small exactly when it matters.

The check fails only when stable is preferred significantly (p < alpha and the canary won fewer): an
interleaving that cannot tell the two apart is no reason to stop a canary whose other checks pass. Below
`min_decided` decided impressions it is not measurable (None), like any check short of traffic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from infra.canary.prometheus import PrometheusError, Series
from infra.canary.queries import Target
from infra.settings.serving import Interleave
from infra.specs import naming as n

METRIC = "rankship_interleaving_total"


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided sign test p-value of `wins` against `losses` (ties left out), p = 1/2."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins} and {losses}")
    total = wins + losses
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / 2**total)


@dataclass(frozen=True)
class Tally:
    """Interleaved impressions with feedback over one window, by winner."""

    canary: int
    stable: int
    tie: int

    @property
    def decided(self) -> int:
        return self.canary + self.stable


@dataclass(frozen=True)
class InterleavingResult:
    tally: Tally
    p_value: float
    ok: bool | None  # None: fewer than min_decided decided impressions
    why: str
    alpha: float = 0.05
    min_decided: int = 0  # the decided impressions the check needed


def judge_interleaving(tally: Tally, min_decided: int, alpha: float) -> InterleavingResult:
    """Pass unless stable wins significantly more interleaved impressions than the canary."""
    p = sign_test_p(tally.canary, tally.stable)
    share = f"canary won {tally.canary}, stable {tally.stable} of {tally.decided} decided ({tally.tie} ties)"
    if tally.decided < min_decided:
        return InterleavingResult(
            tally, p, None, f"{share}: need >= {min_decided} decided impressions", alpha, min_decided
        )
    if p < alpha and tally.canary < tally.stable:
        return InterleavingResult(
            tally, p, False, f"{share}: users prefer stable, p = {p:.3g} < {alpha}", alpha, min_decided
        )
    verdict = "users prefer the canary" if p < alpha and tally.canary > tally.stable else "no preference"
    return InterleavingResult(tally, p, True, f"{share}: {verdict}, p = {p:.3g}", alpha, min_decided)


def tally_query(target: Target, window: str) -> str:
    """Outcomes per winner of this stable/canary pair over `window` (one series per winner)."""
    selector = ", ".join(
        (
            f'namespace="{target.namespace}"',
            f'{n.PROM_MODEL_LABEL}="{target.model}"',
            f'stable_version="{target.stable_version}"',
            f'canary_version="{target.canary_version}"',
        )
    )
    return f"sum by (winner) (increase({METRIC}{{{selector}}}[{window}]))"


def tally_from(values: dict[str, float]) -> Tally:
    """A tally from `winner -> increase` (Prometheus' increase() extrapolates: rounded to counts)."""
    unknown = sorted(set(values) - {"stable", "canary", "tie"})
    if unknown:
        raise ValueError(f"{METRIC}: unknown winner label {unknown[0]!r}")
    return Tally(*(round(values.get(w, 0.0)) for w in ("canary", "stable", "tie")))


class RangeQuerier(Protocol):
    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]: ...


def measure_interleaving(
    prom: RangeQuerier, target: Target, settings: Interleave, times: Sequence[float]
) -> list[InterleavingResult]:
    """One result per evaluation time (newest first, evenly spaced like `measure.evaluation_times`), each
    over the `settings.window` ending there, from one range query. Raises PrometheusError."""
    step = times[0] - times[1] if len(times) > 1 else 60.0
    series = prom.range_query(tally_query(target, settings.window), times[-1], times[0], step)
    results = []
    for at in times:
        values: dict[str, float] = {}
        for s in series:
            found = [v for t, v in s.points.items() if abs(t - at) < 1e-3]
            if found:
                values[s.labels.get("winner", "")] = found[0]
        try:
            tally = tally_from(values)
        except ValueError as e:
            raise PrometheusError(str(e)) from e
        results.append(judge_interleaving(tally, settings.min_decided, settings.alpha))
    return results
