"""Simulated users: a position-based click model over the synthetic catalog's true relevance labels.

Position-based model (PBM; Craswell et al. 2008, the model interleaving simulations use, e.g. Hofmann et
al. 2011): a user examines the result at 1-based position k with probability 1 / k^eta and clicks an
examined result with a probability that depends only on its true grade (ESCI gain 0..3). Examination and
click are independent across positions, so a user may click several results or none.

Defaults, stated once here: eta = 1; click given examined 0.05 (irrelevant), 0.2 (complement), 0.5
(substitute), 0.9 (exact) — "navigational" users who mostly click what they came for, with some noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_CLICK_GIVEN_EXAMINED: tuple[float, ...] = (0.05, 0.2, 0.5, 0.9)


@dataclass(frozen=True)
class ClickModel:
    eta: float = 1.0
    click_given_examined: tuple[float, ...] = DEFAULT_CLICK_GIVEN_EXAMINED  # index = integer gain

    def __post_init__(self) -> None:
        if not all(0.0 <= p <= 1.0 for p in self.click_given_examined):
            raise ValueError(f"click probabilities must lie in 0..1, got {self.click_given_examined}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")

    def click_probabilities(self, gains: Sequence[float] | np.ndarray) -> np.ndarray:
        """P(click) of each result of a shown list (gains in shown order)."""
        grades = np.asarray(gains, dtype=np.int64)
        top = len(self.click_given_examined) - 1
        if grades.size and (grades.min() < 0 or grades.max() > top):
            raise ValueError(f"gains must be whole grades 0..{top}, got {sorted(set(grades.tolist()))}")
        examined = 1.0 / np.arange(1, grades.size + 1, dtype=np.float64) ** self.eta
        return examined * np.asarray(self.click_given_examined)[grades]

    def clicks(self, gains: Sequence[float] | np.ndarray, rng: np.random.Generator) -> list[int]:
        """0-based positions one simulated user clicks."""
        p = self.click_probabilities(gains)
        return np.flatnonzero(rng.random(p.size) < p).tolist()


def p_any_click(p: np.ndarray) -> float:
    """P(at least one click) for independent per-position click probabilities."""
    return float(1.0 - np.prod(1.0 - p))


def click_count_distribution(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """P(exactly j clicks), j = 0..len(p), for independent clicks (the Poisson-binomial, by convolution)."""
    dist = np.array([1.0])
    for q in p:
        dist = np.convolve(dist, [1.0 - q, q])
    return dist
