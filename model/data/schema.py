"""The one in-memory form every loader produces and every step consumes.

A ranking set is a DataFrame with one row per (query, product) judgement:

| column      | type  | meaning                                                     |
|-------------|-------|-------------------------------------------------------------|
| query_id    | str   | stable id of the query (splits are made on it)              |
| query       | str   | the query text                                              |
| product_id  | str   | stable id of the product                                    |
| title       | str   | product title                                               |
| description | str   | product text beyond the title ("" when the source has none) |
| gain        | float | graded relevance, higher is better (ESCI: E=3 S=2 C=1 I=0)  |

Optional: `group_id` and `split_hint` (see GROUP_COLUMN and SPLIT_COLUMN below).

Every query has at least two candidates and no (query_id, product_id) pair appears twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

COLUMNS: tuple[str, ...] = ("query_id", "query", "product_id", "title", "description", "gain")
# Optional columns a source may add (the synthetic generator does); every step keeps them.
# Queries of one group land in one split: near-duplicates (one labelling spec, "frying pan 8 inch" and
# "fying pan 8 inch") must not be both trained and tested on. Without the column a query is its group.
GROUP_COLUMN = "group_id"
# "valid" or "test" pins a query to that split (held-out vocabulary queries); "" lets the split decide.
SPLIT_COLUMN = "split_hint"

# Amazon ESCI labels and the gains used throughout (documented in docs/pipeline.md).
ESCI_GAINS: dict[str, float] = {"E": 3.0, "S": 2.0, "C": 1.0, "I": 0.0}


class DataError(ValueError):
    """Bad input data. The message names the file, and where known the column and row."""

    def __init__(self, file: str, problem: str, column: str | None = None, row: int | None = None):
        where = file
        if column is not None:
            where += f", column {column!r}"
        if row is not None:
            where += f", row {row}"
        super().__init__(f"{where}: {problem}")
        self.file, self.column, self.row, self.problem = file, column, row, problem


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _default_row(label: object) -> int | None:
    return int(label) + 1 if isinstance(label, (int, np.integer)) else None


def validate(
    frame: pd.DataFrame,
    file: str = "<frame>",
    row_of: Callable[[Any], int | None] | None = None,
    names: Mapping[str, str] | None = None,
) -> None:
    """Raise DataError at the first row that breaks the contract in the module docstring.

    `row_of` turns an index label of `frame` into the row to report (loaders keep the source record
    number as the index and report the 1-based line of the source file); by default label + 1.
    `names` maps schema columns to the source file's (gain -> "esci_label"), so errors name what the
    user can find in the file. Checks, in order: columns, at least one row, non-empty ids and query
    text, finite gains >= 0, no (query_id, product_id) pair twice, at least two candidates per query.
    """

    def fail(problem: str, column: str, position: int | None = None) -> DataError:
        row = None if position is None else (row_of or _default_row)(frame.index[position])
        return DataError(file, problem, (names or {}).get(column, column), row)

    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise fail(f"missing column(s) {missing}", missing[0])
    if frame.empty:
        raise DataError(file, "no rows")
    for column in ("query_id", "product_id", "query"):
        blank = (frame[column].isna() | (frame[column].astype(str).str.strip() == "")).to_numpy()
        if blank.any():
            raise fail(f"empty {column}", column, int(blank.argmax()))
    gain = pd.to_numeric(frame["gain"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(gain) | (gain < 0)
    if bad.any():
        i = int(bad.argmax())
        raise fail(f"gain {frame['gain'].iloc[i]} is not a number >= 0", "gain", i)
    pair = frame.duplicated(["query_id", "product_id"], keep="first").to_numpy()
    if pair.any():
        i = int(pair.argmax())
        qid, pid = frame["query_id"].iloc[i], frame["product_id"].iloc[i]
        earlier = int(((frame["query_id"] == qid) & (frame["product_id"] == pid)).to_numpy().argmax())
        first = (row_of or _default_row)(frame.index[earlier])
        raise fail(f"query {qid!r} judges product {pid!r} twice (first at row {first})", "product_id", i)
    single = (frame.groupby("query_id", sort=False)["query_id"].transform("size") < 2).to_numpy()
    if single.any():
        i = int(single.argmax())
        raise fail(
            f"query {frame['query_id'].iloc[i]!r} has only one candidate (a ranking needs two)", "query_id", i
        )
