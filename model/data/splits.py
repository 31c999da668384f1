"""Train/validation/test splits made on query ids, so no query (and none of its candidates) is in two."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.data.schema import Splits


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Queries per split: rounded shares, at least one each, summing to n."""
    counts = [max(1, round(f * n)) for f in fractions[:-1]]
    while sum(counts) > n - 1:  # the last split needs one too: take from the largest
        counts[int(np.argmax(counts))] -= 1
    return [*counts, n - sum(counts)]


def split_by_query(frame: pd.DataFrame, fractions: Sequence[float], seed: int) -> Splits:
    """Shuffle the distinct query ids with `seed` and cut them by `fractions` (train, valid, test).

    Deterministic: the same frame, fractions and seed give the same splits, rows in frame order.
    Raises ValueError when there are fewer distinct queries than splits or the fractions are not
    three positive numbers.
    """
    if len(fractions) != 3 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers (train, valid, test): {tuple(fractions)}")
    total = float(sum(fractions))
    shares = [f / total for f in fractions]
    # Sorted first so the result does not depend on row order, only on the set of queries.
    queries = np.sort(frame["query_id"].astype(str).unique())
    if len(queries) < 3:
        raise ValueError(f"need at least 3 distinct queries to make 3 non-empty splits, got {len(queries)}")
    shuffled = np.random.default_rng(seed).permutation(queries)
    bounds = np.cumsum(_counts(len(queries), shares))
    parts = np.split(shuffled, bounds[:-1])
    which = frame["query_id"].astype(str)
    train, valid, test = (frame[which.isin(part)].reset_index(drop=True) for part in parts)
    return Splits(train=train, valid=valid, test=test)
