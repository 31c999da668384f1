"""Exact per-impression outcome probabilities of an A/B split and of team-draft interleaving, under a click model.

For one query, two fixed rankings and the position-based click model (`users.ClickModel`):

- A/B: a user sees one ranker's top `shown`; the impression is clicked with P(any click).
- Interleaving: a user sees the team-draft list of both (`model.serving.interleaving.team_draft`, the code
  the combiner runs). For `shown` results the coin is flipped exactly ceil(shown / 2) times, so there are
  2^ceil(shown/2) equally likely lists (32 for 10 results): all are enumerated. On each list, each team's
  click count is a Poisson-binomial of its positions' click probabilities; the canary wins when it gets
  more clicks than stable, stable when fewer, a tie otherwise. Averaged over the lists: P(win), P(loss).

Over queries drawn uniformly an impression is then a Bernoulli (A/B) or a three-way categorical
(interleaving) with the mean probabilities, so an experiment of N impressions can be drawn exactly from
them (`sensitivity.py`) instead of clicking N lists one by one; `tests/infra/canary/test_outcomes.py`
checks the enumeration against users clicking real interleaved lists.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from infra.canary.local.users import ClickModel, click_count_distribution, p_any_click
from model.serving.interleaving import CANARY, Coin, team_draft

SHOWN = 10


@dataclass(frozen=True)
class InterleavingOdds:
    canary: float  # P(the canary wins an impression)
    stable: float
    tie: float

    @property
    def decided(self) -> float:
        return self.canary + self.stable


def _scripted(flips: Sequence[bool]) -> Coin:
    it: Iterator[bool] = iter(flips)
    return lambda: next(it)


def interleavings(
    stable: Sequence[str], canary: Sequence[str], shown: int = SHOWN
) -> list[list[tuple[str, str]]]:
    """Every team-draft list of `shown` results, one per equally likely coin sequence."""
    flips = math.ceil(min(shown, len(stable)) / 2)
    lists = []
    for coins in itertools.product((True, False), repeat=flips):
        picks = team_draft(stable, canary, _scripted(coins), shown)
        lists.append([(p.id, p.team) for p in picks])
    return lists


def _win_loss(p_canary: np.ndarray, p_stable: np.ndarray) -> tuple[float, float]:
    dc, ds = click_count_distribution(p_canary), click_count_distribution(p_stable)
    joint = np.outer(dc, ds)  # [canary clicks, stable clicks]
    return float(np.tril(joint, -1).sum()), float(np.triu(joint, 1).sum())


def interleaving_odds(
    stable: Sequence[str],
    canary: Sequence[str],
    gain: dict[str, float],
    model: ClickModel,
    shown: int = SHOWN,
) -> InterleavingOdds:
    """Exact outcome probabilities of one query's interleaved impression."""
    lists = interleavings(stable, canary, shown)
    win = loss = 0.0
    for shown_list in lists:
        p = model.click_probabilities([gain[i] for i, _ in shown_list])
        is_canary = np.array([team == CANARY for _, team in shown_list])
        w, lo = _win_loss(p[is_canary], p[~is_canary])
        win, loss = win + w, loss + lo
    win, loss = win / len(lists), loss / len(lists)
    return InterleavingOdds(win, loss, 1.0 - win - loss)


def click_through(
    ranking: Sequence[str], gain: dict[str, float], model: ClickModel, shown: int = SHOWN
) -> float:
    """P(an impression of this ranking's top `shown` gets at least one click)."""
    return p_any_click(model.click_probabilities([gain[i] for i in ranking[:shown]]))


def mean_odds(odds: Sequence[InterleavingOdds]) -> InterleavingOdds:
    c = float(np.mean([o.canary for o in odds]))
    s = float(np.mean([o.stable for o in odds]))
    return InterleavingOdds(c, s, 1.0 - c - s)
