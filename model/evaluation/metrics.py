"""Ranking metrics over a ranking frame (schema.COLUMNS) and one score per row.

- NDCG@k: exponential gain 2^g - 1 and log2 discount, DCG@k = sum_{r<k} (2^g_r - 1) / log2(r + 2) with
  0-based rank r, divided by the DCG@k of the ideal order (gains sorted high to low).
- MRR: 1 / (1-based rank of the first relevant item), relevant meaning gain >= `relevant_gain`.
- Recall@k: relevant items in the top k / relevant items of the query.

Ties in score keep the frame's row order (a stable sort), so the result is deterministic; callers who want
ties to cost something should shuffle rows first (the synthetic set's candidates come shuffled).
A query whose gains are all 0 has no NDCG and one without a relevant item has no MRR or recall; they are
left out of those means (not counted as 0 or 1) and counted under "queries_no_gain"/"queries_no_relevant".
A mean over no query at all is NaN, which fails every quality bound.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _check(gains: np.ndarray, scores: np.ndarray) -> None:
    if scores.shape != gains.shape:
        raise ValueError(f"scores has {scores.shape[0]} entries but the frame has {gains.shape[0]} rows")
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise ValueError(f"{len(bad)} scores are not finite numbers (first at row {bad[0]})")


def _grouped(
    codes: np.ndarray, gains: np.ndarray, scores: np.ndarray, k: int, relevant_gain: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group 0..G-1 of `codes`: (NDCG@k, reciprocal rank, Recall@k), NaN where undefined."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    position = np.arange(len(codes))
    # lexsort keys go last-to-first: group, then score high to low, then row order for ties.
    order = np.lexsort((position, -scores, codes))
    ideal = np.lexsort((position, -gains, codes))
    sizes = np.bincount(codes, minlength=n_groups)
    rank = position - (np.cumsum(sizes) - sizes)[codes[order]]
    top = rank < k
    discount = np.where(top, 1.0 / np.log2(rank + 2.0), 0.0)
    dcg = np.bincount(codes[order], weights=(2.0 ** gains[order] - 1.0) * discount, minlength=n_groups)
    idcg = np.bincount(codes[ideal], weights=(2.0 ** gains[ideal] - 1.0) * discount, minlength=n_groups)
    relevant = gains[order] >= relevant_gain
    n_relevant = np.bincount(codes[order], weights=relevant, minlength=n_groups)
    first = np.full(n_groups, np.inf)
    np.minimum.at(first, codes[order][relevant], rank[relevant])
    hits = np.bincount(codes[order], weights=relevant & top, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg = np.where(idcg > 0, dcg / idcg, np.nan)
        rr = np.where(n_relevant > 0, 1.0 / (first + 1.0), np.nan)
        recall = np.where(n_relevant > 0, hits / n_relevant, np.nan)
    return ndcg, rr, recall


def _one(gains: np.ndarray, scores: np.ndarray, k: int, relevant_gain: float) -> tuple[float, float, float]:
    g, s = np.asarray(gains, dtype=float), np.asarray(scores, dtype=float)
    _check(g, s)
    ndcg, rr, recall = _grouped(np.zeros(len(g), dtype=np.int64), g, s, k, relevant_gain)
    return (float(ndcg[0]), float(rr[0]), float(recall[0])) if len(g) else (np.nan, np.nan, np.nan)


def ndcg_at_k(gains: np.ndarray, scores: np.ndarray, k: int = 10) -> float:
    """NDCG@k of one query's candidates; NaN when every gain is 0."""
    return _one(gains, scores, k, np.inf)[0]


def reciprocal_rank(gains: np.ndarray, scores: np.ndarray, relevant_gain: float = 2.0) -> float:
    """1 / rank of the first candidate with gain >= relevant_gain; NaN when there is none."""
    return _one(gains, scores, 1, relevant_gain)[1]


def recall_at_k(gains: np.ndarray, scores: np.ndarray, k: int = 10, relevant_gain: float = 2.0) -> float:
    """Share of the relevant candidates ranked in the top k; NaN when there is none."""
    return _one(gains, scores, k, relevant_gain)[2]


def per_query_metrics(
    frame: pd.DataFrame, scores: np.ndarray, k: int = 10, relevant_gain: float = 2.0
) -> pd.DataFrame:
    """One row per query_id (in order of first appearance): ndcg@k, rr, recall@k, NaN where undefined."""
    gains = frame["gain"].to_numpy(dtype=float)
    s = np.asarray(scores, dtype=float)
    _check(gains, s)
    codes, uniques = pd.factorize(frame["query_id"], sort=False)
    ndcg, rr, recall = _grouped(codes.astype(np.int64), gains, s, k, relevant_gain)
    return pd.DataFrame(
        {f"ndcg@{k}": ndcg, "rr": rr, f"recall@{k}": recall}, index=pd.Index(uniques, name="query_id")
    )


def ranking_metrics(
    frame: pd.DataFrame, scores: np.ndarray, k: int = 10, relevant_gain: float = 2.0
) -> dict[str, float]:
    """Means over queries of ndcg@k, mrr and recall@k; "queries" counts all queries, and
    "queries_no_gain" / "queries_no_relevant" those left out of the NDCG / MRR and recall means."""
    per = per_query_metrics(frame, scores, k, relevant_gain)

    def mean(column: str) -> float:
        values = per[column].dropna()
        return float(values.mean()) if len(values) else float("nan")

    return {
        f"ndcg@{k}": mean(f"ndcg@{k}"),
        "mrr": mean("rr"),
        f"recall@{k}": mean(f"recall@{k}"),
        "queries": float(len(per)),
        "queries_no_gain": float(per[f"ndcg@{k}"].isna().sum()),
        "queries_no_relevant": float(per["rr"].isna().sum()),
    }
