"""Click model and exact interleaving odds, worked out by hand on two or four results."""

from __future__ import annotations

import numpy as np
import pytest

from infra.canary.local.outcomes import click_through, interleaving_odds, interleavings
from infra.canary.local.users import ClickModel, click_count_distribution, p_any_click
from model.serving.interleaving import credit, request_coin, team_draft

ONLY_EXACT = (0.0, 0.0, 0.0, 1.0)  # users click exactly the grade-3 results they examine


def test_position_based_click_probabilities() -> None:
    # eta 1: examined 1, 1/2, 1/3; grades 3, 0, 2 -> 0.9, 0.05 / 2, 0.5 / 3.
    p = ClickModel().click_probabilities([3, 0, 2])
    assert p == pytest.approx([0.9, 0.025, 0.5 / 3])
    with pytest.raises(ValueError, match=r"gains must be whole grades 0..3, got \[4\]"):
        ClickModel().click_probabilities([4])
    with pytest.raises(ValueError, match=r"click probabilities must lie in 0\.\.1"):
        ClickModel(click_given_examined=(0.1, 1.5))


def test_click_counts_and_any_click() -> None:
    assert click_count_distribution([0.5, 0.5]) == pytest.approx([0.25, 0.5, 0.25])
    assert click_count_distribution([0.2, 1.0]) == pytest.approx([0.0, 0.8, 0.2])
    assert p_any_click(np.array([0.5, 0.5])) == pytest.approx(0.75)


def test_two_results_stable_ranks_the_exact_match_first() -> None:
    # stable a b, canary b a; only a (grade 3) is clicked when examined.
    # coin stable: [a(S), b(C)]: a at position 1, examined with p 1 -> stable wins surely.
    # coin canary: [b(C), a(S)]: a at position 2, examined with p 1/2 -> stable wins 1/2, tie 1/2.
    gains = {"a": 3.0, "b": 0.0}
    odds = interleaving_odds(
        ["a", "b"], ["b", "a"], gains, ClickModel(click_given_examined=ONLY_EXACT), shown=2
    )
    assert (odds.stable, odds.canary, odds.tie) == pytest.approx((0.75, 0.0, 0.25))
    assert click_through(["a", "b"], gains, ClickModel(click_given_examined=ONLY_EXACT)) == 1.0
    assert click_through(["b", "a"], gains, ClickModel(click_given_examined=ONLY_EXACT)) == 0.5


def test_ten_results_enumerate_32_coin_sequences() -> None:
    ids = [f"p{i}" for i in range(12)]
    assert len(interleavings(ids, ids[::-1])) == 32


def test_exact_odds_match_users_clicking_real_interleaved_lists() -> None:
    stable, canary = ["a", "b", "c", "d"], ["d", "c", "b", "a"]
    gains, users = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0}, ClickModel()
    exact = interleaving_odds(stable, canary, gains, users, shown=4)
    rng, n, wins = np.random.default_rng(3), 6000, {"stable": 0, "canary": 0, "tie": 0}
    for i in range(n):
        shown = team_draft(stable, canary, request_coin(f"r{i}"), 4)
        clicked = users.clicks([gains[p.id] for p in shown], rng)
        wins[credit({p.id: p.team for p in shown}, [shown[k].id for k in clicked]).winner] += 1
    for team, p in (("stable", exact.stable), ("canary", exact.canary)):
        sigma = (p * (1 - p) / n) ** 0.5
        assert abs(wins[team] / n - p) < 4 * sigma, (team, wins[team] / n, p)
