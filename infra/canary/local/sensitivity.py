"""`make bench-interleaving`: impressions needed to detect an NDCG@10 difference, A/B click rate vs interleaving.

    python -m infra.canary.local.sensitivity [--seeds 5] [--deltas 0.01 0.02 0.05 0.1] [--queries 300]

The simulation (everything seeded):
- queries and candidates with true ESCI grades from the synthetic catalog (`model.data.synthetic`);
- rankers that know the truth up to noise: score = grade + sigma * z, z ~ N(0, 1) drawn once per
  (query, product) and shared by both rankers, so the canary is stable with less noise (a retrained model
  that fixes some of stable's mistakes and keeps the rest). Stable has sigma 1.5; for each wanted
  difference the canary's sigma is bisected until its NDCG@10 (`model.evaluation.metrics`, the pipeline's
  own definition) is higher by that much on these queries (the achieved difference is printed);
- users: the position-based click model of `users.py` on the top 10 results.

Per impression the outcome probabilities are exact (`outcomes.py`); an experiment of N impressions draws
from them. A/B: N/2 impressions per ranker, two-sided two-proportion z-test on "clicked at least once"
(CTR, what `infra/canary/online.py` compares). Interleaving: N interleaved impressions, two-sided sign test
on the decided ones (`infra/canary/interleaving.py`; here its normal approximation with continuity
correction, which matches the exact test to 3 decimals above a few hundred decided impressions). Both at
alpha = 0.05. "Impressions needed" is the smallest N on a x1.19 grid at which at least 80 % of 2000
simulated experiments detect the better ranker (significant, right direction).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from statistics import NormalDist

import numpy as np
import pandas as pd

from infra.canary.local.outcomes import InterleavingOdds, click_through, interleaving_odds, mean_odds
from infra.canary.local.users import ClickModel
from model.config import SyntheticConfig
from model.data.synthetic import generate
from model.evaluation.metrics import ranking_metrics

STABLE_SIGMA, ALPHA, POWER, EXPERIMENTS = 1.5, 0.05, 0.8, 2000
Z = NormalDist().inv_cdf(1 - ALPHA / 2)
GRID = np.unique(np.round(50 * 1.19 ** np.arange(80)).astype(np.int64))


@dataclass(frozen=True)
class Pair:
    ndcg_stable: float
    ndcg_canary: float
    ctr_stable: float
    ctr_canary: float
    odds: InterleavingOdds


def noisy_scores(frame: pd.DataFrame, sigma: float, noise: np.ndarray) -> np.ndarray:
    return frame["gain"].to_numpy(dtype=float) + sigma * noise


def ndcg(frame: pd.DataFrame, scores: np.ndarray) -> float:
    return ranking_metrics(frame, scores)["ndcg@10"]


def canary_sigma(frame: pd.DataFrame, noise: np.ndarray, target: float) -> float:
    """Bisect the canary's noise until its NDCG@10 reaches `target` (NDCG falls as sigma grows)."""
    low, high = 0.0, STABLE_SIGMA
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if ndcg(frame, noisy_scores(frame, mid, noise)) > target else (low, mid)
    return (low + high) / 2


def rankings(frame: pd.DataFrame, scores: np.ndarray) -> dict[str, list[str]]:
    ranked = frame.assign(score=scores).sort_values(["query_id", "score"], ascending=[True, False])
    return {str(q): list(g["product_id"]) for q, g in ranked.groupby("query_id", sort=False)}


def compare(frame: pd.DataFrame, stable: np.ndarray, canary: np.ndarray, users: ClickModel) -> Pair:
    """Both rankers' NDCG@10 and exact per-impression outcome probabilities, averaged over queries."""
    s_rank, c_rank = rankings(frame, stable), rankings(frame, canary)
    gains = dict(zip(frame["product_id"], frame["gain"], strict=True))
    odds = [interleaving_odds(s_rank[q], c_rank[q], gains, users) for q in s_rank]
    ctr_s = float(np.mean([click_through(s_rank[q], gains, users) for q in s_rank]))
    ctr_c = float(np.mean([click_through(c_rank[q], gains, users) for q in c_rank]))
    return Pair(ndcg(frame, stable), ndcg(frame, canary), ctr_s, ctr_c, mean_odds(odds))


def ab_power(p_stable: float, p_canary: float, n: int, rng: np.random.Generator) -> float:
    half = n // 2
    ks, kc = rng.binomial(half, p_stable, EXPERIMENTS), rng.binomial(half, p_canary, EXPERIMENTS)
    pooled = (ks + kc) / (2 * half)
    se = np.sqrt(pooled * (1 - pooled) * 2 / half)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (kc - ks) / half / se, 0.0)
    return float(np.mean(z > Z))


def interleaving_power(odds: InterleavingOdds, n: int, rng: np.random.Generator) -> float:
    draws = rng.multinomial(n, [odds.canary, odds.stable, odds.tie], EXPERIMENTS)
    wins, losses = draws[:, 0].astype(float), draws[:, 1].astype(float)
    decided = wins + losses
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(decided > 0, (np.abs(wins - losses) - 1) / np.sqrt(decided), 0.0)
    return float(np.mean((z > Z) & (wins > losses)))


def needed(power: Callable[[int], float]) -> int | None:
    """Smallest grid N with power >= POWER (binary search: power grows with N); None beyond the grid."""
    lo, hi = 0, len(GRID) - 1
    if power(int(GRID[hi])) < POWER:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if power(int(GRID[mid])) < POWER else (lo, mid)
    return int(GRID[lo])


def _ab(pair: Pair, rng: np.random.Generator, n: int) -> float:
    return ab_power(pair.ctr_stable, pair.ctr_canary, n, rng)


def _il(pair: Pair, rng: np.random.Generator, n: int) -> float:
    return interleaving_power(pair.odds, n, rng)


@dataclass(frozen=True)
class Row:
    seed: int
    target: float
    pair: Pair
    ab: int | None
    interleaving: int | None


def run_seed(
    seed: int, deltas: Sequence[float], queries: int, users: ClickModel, shared: bool = True
) -> list[Row]:
    """`shared` False: the canary's noise is drawn on its own (rankers that disagree everywhere)."""
    frame = generate(SyntheticConfig(products=3000, queries=queries, candidates_per_query=30), seed)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(len(frame))
    canary_noise = noise if shared else rng.standard_normal(len(frame))
    stable = noisy_scores(frame, STABLE_SIGMA, noise)
    base = ndcg(frame, stable)
    rows = []
    for delta in deltas:
        canary = noisy_scores(frame, canary_sigma(frame, canary_noise, base + delta), canary_noise)
        pair = compare(frame, stable, canary, users)
        ab = needed(partial(_ab, pair, rng))
        il = needed(partial(_il, pair, rng))
        rows.append(Row(seed, delta, pair, ab, il))
    return rows


def table(rows: Sequence[Row]) -> str:
    """Markdown: per target difference, median over seeds (min-max) of impressions needed and the ratio."""
    lines = [
        "| NDCG@10 difference (achieved) | CTR stable → canary | P(decided) / P(canary wins) | "
        "A/B impressions | interleaved impressions | A/B ÷ interleaving |",
        "|---|---|---|---|---|---|",
    ]
    for target in sorted({r.target for r in rows}):
        rs = [r for r in rows if r.target == target]
        got = [r.pair.ndcg_canary - r.pair.ndcg_stable for r in rs]
        ctr = (
            f"{np.mean([r.pair.ctr_stable for r in rs]):.3f} → {np.mean([r.pair.ctr_canary for r in rs]):.3f}"
        )
        odds = f"{np.mean([r.pair.odds.decided for r in rs]):.3f} / {np.mean([r.pair.odds.canary for r in rs]):.3f}"
        ratios = [r.ab / r.interleaving for r in rs if r.ab and r.interleaving]
        lines.append(
            f"| {target:.2f} ({min(got):.3f}–{max(got):.3f}) | {ctr} | {odds} | {_spread([r.ab for r in rs])} | "
            f"{_spread([r.interleaving for r in rs])} | {_spread(ratios, '.1f')} |"
        )
    return "\n".join(lines)


def _spread(values: Sequence[float | None], fmt: str = ",.0f") -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    if len(known) < len(values):
        return f"> {int(GRID[-1]):,} in {len(values) - len(known)} of {len(values)} seeds"
    median, low, high = np.median(known), min(known), max(known)
    return f"{median:{fmt}} ({low:{fmt}}–{high:{fmt}})"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m infra.canary.local.sensitivity", description=__doc__.split("\n")[0]
    )
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--deltas", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.1])
    p.add_argument("--queries", type=int, default=300, help="synthetic queries per seed (30 candidates each)")
    p.add_argument("--independent-noise", action="store_true", help="canary noise not shared with stable")
    args = p.parse_args(argv)
    users = ClickModel()
    print(f"click model: {users}; stable sigma {STABLE_SIGMA}; alpha {ALPHA}, power {POWER}", flush=True)
    rows = []
    for seed in range(1, args.seeds + 1):
        rows += run_seed(seed, args.deltas, args.queries, users, shared=not args.independent_noise)
        print(f"seed {seed} done", flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
