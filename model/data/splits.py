"""Train/validation/test splits made on query ids (or query groups), so no query (and none of its
candidates, and none of its near-duplicates when the source groups them) is in two."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.data.schema import GROUP_COLUMN, SPLIT_COLUMN, Splits

NAMES = ("train", "valid", "test")


def _counts(n: int, fractions: Sequence[float]) -> list[int]:
    """Queries per split: rounded shares, at least one each, summing to n."""
    counts = [max(1, round(f * n)) for f in fractions[:-1]]
    while sum(counts) > n - 1:  # the last split needs one too: take from the largest
        counts[int(np.argmax(counts))] -= 1
    return [*counts, n - sum(counts)]


def _units(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per split unit (group): its queries, and the split it is pinned to ("" for none)."""
    qid = frame["query_id"].astype(str)
    group = frame[GROUP_COLUMN].astype(str) if GROUP_COLUMN in frame.columns else qid
    hint = (
        frame[SPLIT_COLUMN].astype(str) if SPLIT_COLUMN in frame.columns else pd.Series("", index=frame.index)
    )
    per_query = pd.DataFrame({"query_id": qid, "group": group, "hint": hint}).drop_duplicates("query_id")
    bad = set(per_query["hint"]) - {"", "valid", "test"}
    if bad:
        raise ValueError(f"{SPLIT_COLUMN} must be '', 'valid' or 'test', got {sorted(bad)}")
    hints = per_query[per_query["hint"] != ""].groupby("group")["hint"].nunique()
    if (hints > 1).any():
        raise ValueError(f"group {hints[hints > 1].index[0]!r} is pinned to both valid and test")
    units = per_query.groupby("group", sort=True).agg(queries=("query_id", list), hint=("hint", "max"))
    return units


def split_by_query(frame: pd.DataFrame, fractions: Sequence[float], seed: int) -> Splits:
    """Shuffle the split units with `seed` and deal them out by `fractions` (train, valid, test).

    A unit is a query, or the queries of one `group_id` when the frame has that column (near-duplicates
    stay together); a unit with a `split_hint` goes to that split. The others are dealt in shuffled
    order to train, then valid, then test, each until it holds its share of all queries. Deterministic:
    the same frame, fractions and seed give the same splits, rows in frame order. Raises ValueError when
    there are fewer distinct queries than splits, a split ends up empty, or the fractions are not three
    positive numbers.
    """
    if len(fractions) != 3 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers (train, valid, test): {tuple(fractions)}")
    total = float(sum(fractions))
    shares = [f / total for f in fractions]
    n_queries = frame["query_id"].nunique()
    if n_queries < 3:
        raise ValueError(f"need at least 3 distinct queries to make 3 non-empty splits, got {n_queries}")
    # Sorted first so the result does not depend on row order, only on the set of queries.
    units = _units(frame)
    targets = dict(zip(NAMES, _counts(n_queries, shares), strict=True))
    assigned: dict[str, list[str]] = {name: [] for name in NAMES}
    for _, unit in units[units["hint"] != ""].iterrows():
        assigned[unit["hint"]] += unit["queries"]
    free = units[units["hint"] == ""]
    for i in np.random.default_rng(seed).permutation(len(free)):
        queries = free["queries"].iloc[i]
        name = next((n for n in NAMES if len(assigned[n]) < targets[n]), "test")
        assigned[name] += queries
    empty = [name for name in NAMES if not assigned[name]]
    if empty:
        raise ValueError(f"split {empty[0]} would be empty: {len(units)} groups for {n_queries} queries")
    which = frame["query_id"].astype(str)
    train, valid, test = (frame[which.isin(set(assigned[n]))].reset_index(drop=True) for n in NAMES)
    return Splits(train=train, valid=valid, test=test)
