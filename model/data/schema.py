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

Every query has at least two candidates and no (query_id, product_id) pair appears twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

COLUMNS: tuple[str, ...] = ("query_id", "query", "product_id", "title", "description", "gain")

# Amazon ESCI labels and the gains used throughout (documented in the README).
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
