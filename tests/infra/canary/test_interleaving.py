"""The interleaving sign test, with p-values worked out by hand from binomial coefficients."""

from __future__ import annotations

import pytest

from infra.canary.interleaving import (
    Tally,
    judge_interleaving,
    measure_interleaving,
    sign_test_p,
    tally_from,
    tally_query,
)
from infra.canary.prometheus import PrometheusError, Series
from infra.canary.queries import Target
from infra.settings.serving import Interleave


def test_sign_test_by_hand() -> None:
    # n = 10, 1 vs 9: P(X <= 1) = (C(10,0) + C(10,1)) / 2^10 = 11/1024; two-sided 22/1024.
    assert sign_test_p(1, 9) == pytest.approx(22 / 1024)
    assert sign_test_p(9, 1) == pytest.approx(22 / 1024)  # symmetric
    # 2 vs 8: (1 + 10 + 45) / 1024 = 56/1024; two-sided 112/1024 = 0.109375.
    assert sign_test_p(2, 8) == pytest.approx(0.109375)
    # 0 vs 5: 2 * 1/32 = 0.0625 (five decided impressions can never reach 5 %).
    assert sign_test_p(0, 5) == pytest.approx(0.0625)
    # Equal: 2 * P(X <= 5) for n = 10 = 2 * 638/1024 > 1 -> capped at 1.
    assert sign_test_p(5, 5) == 1.0
    assert sign_test_p(0, 0) == 1.0


def test_sign_test_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="got -1 and 3"):
        sign_test_p(-1, 3)


def test_stable_preferred_significantly_fails() -> None:
    r = judge_interleaving(Tally(canary=1, stable=9, tie=40), min_decided=10, alpha=0.05)
    assert r.ok is False
    assert r.p_value == pytest.approx(22 / 1024)
    assert "users prefer stable, p = 0.0215 < 0.05" in r.why
    assert "canary won 1, stable 9 of 10 decided (40 ties)" in r.why


def test_canary_preferred_or_no_preference_passes() -> None:
    better = judge_interleaving(Tally(canary=9, stable=1, tie=0), min_decided=10, alpha=0.05)
    assert better.ok is True and "users prefer the canary" in better.why
    unclear = judge_interleaving(Tally(canary=2, stable=8, tie=0), min_decided=10, alpha=0.05)
    assert unclear.ok is True and "no preference, p = 0.109" in unclear.why


def test_too_few_decided_impressions_is_not_measurable() -> None:
    # 500 ties and 9 decided: still not enough, whatever the split.
    r = judge_interleaving(Tally(canary=0, stable=9, tie=500), min_decided=10, alpha=0.05)
    assert r.ok is None and "need >= 10 decided impressions" in r.why


def test_query_selects_the_pair() -> None:
    q = tally_query(Target("ns", "search-ranker", "aaaaaaaaaaaa", "bbbbbbbbbbbb"), "10m")
    assert q == (
        'sum by (winner) (increase(rankship_interleaving_total{namespace="ns", rankship_model="search-ranker", '
        'stable_version="aaaaaaaaaaaa", canary_version="bbbbbbbbbbbb"}[10m]))'
    )


def test_tally_from_rounds_increase_and_names_unknown_labels() -> None:
    assert tally_from({"canary": 3.9, "stable": 1.2}) == Tally(canary=4, stable=1, tie=0)
    with pytest.raises(ValueError, match="unknown winner label 'shadow'"):
        tally_from({"shadow": 1.0})


class Recorder:
    def __init__(self, series: list[Series]) -> None:
        self.series, self.calls = series, []  # type: ignore[var-annotated]

    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        self.calls.append((expr, start, end, step_s))
        return self.series


def test_measure_reads_each_evaluation_time_from_one_range_query() -> None:
    t = 1000.0
    prom = Recorder(
        [
            Series({"winner": "canary"}, {t: 12.0, t - 60: 3.0}),
            Series({"winner": "stable"}, {t: 2.0}),
            Series({"winner": "tie"}, {t: 40.0, t - 60: 10.0}),
        ]
    )
    target = Target("ns", "m", "aaaaaaaaaaaa", "bbbbbbbbbbbb")
    newest, older = measure_interleaving(prom, target, Interleave(weight=10, min_decided=10), [t, t - 60])
    assert prom.calls == [(tally_query(target, "1h"), t - 60, t, 60.0)]
    # 12 vs 2: P(X <= 2) = (1 + 14 + 91) / 2^14 = 106/16384, two-sided 0.01294: canary preferred.
    assert newest.tally == Tally(canary=12, stable=2, tie=40) and newest.ok is True
    assert newest.p_value == pytest.approx(212 / 16384)
    assert older.tally == Tally(canary=3, stable=0, tie=10) and older.ok is None  # 3 decided < 10


def test_measure_names_a_bad_winner_label() -> None:
    prom = Recorder([Series({"winner": "shadow"}, {5.0: 1.0})])
    with pytest.raises(PrometheusError, match="unknown winner label 'shadow'"):
        measure_interleaving(prom, Target("ns", "m", "a" * 12, "b" * 12), Interleave(weight=10), [5.0])
