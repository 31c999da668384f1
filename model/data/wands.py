"""WANDS (Wayfair ANnotation DataSet, Chen et al. 2022) -> ranking frame.

Reads the tab-separated `query.csv`, `product.csv` and `label.csv` of one directory. Labels map to gains
Exact=2, Partial=1, Irrelevant=0 (so with the default relevant_gain=2 only Exact counts for MRR/recall).
Title is `product_name`; the description joins `product_class`, `category hierarchy` and
`product_description`. Errors name the file and the 1-based line of the offending record.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.data.readers import Source, first, join_text, read_delimited, text, unique_ids
from model.data.schema import COLUMNS

WANDS_GAINS: dict[str, float] = {"Exact": 2.0, "Partial": 1.0, "Irrelevant": 0.0}
_QUERY_COLUMNS = ("query_id", "query")
_PRODUCT_COLUMNS = ("product_id", "product_name")
_PRODUCT_TEXT = ("product_class", "category hierarchy", "product_description")
_LABEL_COLUMNS = ("query_id", "product_id", "label")


def _lookup(ids: pd.Index, wanted: pd.Series, labels: Source, column: str, other: Path) -> list[int]:
    at = ids.get_indexer(pd.Index(wanted))
    if (at < 0).any():
        i = first(at < 0)
        raise labels.error(f"{column} {wanted.iloc[i]!r} is not in {other.name}", column, wanted.index[i])
    return [int(x) for x in at]


def load_wands(directory: Path) -> tuple[pd.DataFrame, Source]:
    """The frame (index: label.csv record) and label.csv, for validation and errors."""
    q_source = Source(directory / "query.csv", "\t")
    p_source = Source(directory / "product.csv", "\t")
    l_source = Source(directory / "label.csv", "\t", names={"gain": "label", "query": "query_id"})
    queries = read_delimited(q_source.path, "\t", _QUERY_COLUMNS)
    query_text = text(queries, "query")
    if (query_text == "").any():
        raise q_source.error("empty query text", "query", queries.index[first(query_text == "")])
    q_ids = unique_ids(queries, "query_id", q_source)
    products = read_delimited(p_source.path, "\t", _PRODUCT_COLUMNS)
    p_ids = unique_ids(products, "product_id", p_source)
    descriptions = join_text(products, _PRODUCT_TEXT)
    labels = read_delimited(l_source.path, "\t", _LABEL_COLUMNS)
    grade = text(labels, "label")
    gain = grade.map(WANDS_GAINS)
    if gain.isna().any():
        i = first(gain.isna())
        problem = f"unknown label {grade.iloc[i]!r}; expected Exact, Partial or Irrelevant"
        raise l_source.error(problem, "label", labels.index[i])
    q_at = _lookup(q_ids, text(labels, "query_id"), l_source, "query_id", q_source.path)
    p_at = _lookup(p_ids, text(labels, "product_id"), l_source, "product_id", p_source.path)
    frame = pd.DataFrame(
        {
            "query_id": text(labels, "query_id"),
            "query": query_text.to_numpy()[q_at],
            "product_id": text(labels, "product_id"),
            "title": text(products, "product_name").to_numpy()[p_at],
            "description": descriptions.to_numpy()[p_at],
            "gain": gain.astype(float),
        },
        columns=list(COLUMNS),
    )
    return frame, l_source
