"""The data card of a run: what each split holds, and how much of the evaluation splits training saw.

Per split: queries, pairs, the grade (gain) distribution, candidates per query, relevant candidates.
Leakage of valid and test against train:
- `queries_in_train`: evaluation queries whose exact text is a training query (0 by construction);
- `groups_in_train`: evaluation queries whose split group (the synthetic generator's labelling spec, so
  "frying pan 8 inch" and its typo "fying pan 8 inch" are one group) has a training query;
- `query_words_seen`: share of the distinct evaluation query words that some training query has;
- `queries_with_unseen_word`: share of evaluation queries with at least one word no training query has;
- `candidates_seen`: share of the distinct evaluation candidates that are also training candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.config import DataConfig
from model.data.schema import GROUP_COLUMN, Splits
from model.evaluation.bm25 import tokens

# Sources whose gains have a fixed meaning (see config.DataConfig.relevant_gain).
_RELEVANT_BY_SOURCE = {"synthetic": 2.0, "esci": 2.0, "wands": 2.0}


def relevant_gain(cfg: DataConfig, train: pd.DataFrame) -> float:
    """The configured threshold, else the source's; csv: half the largest training gain."""
    if cfg.relevant_gain is not None:
        return float(cfg.relevant_gain)
    if cfg.source in _RELEVANT_BY_SOURCE:
        return _RELEVANT_BY_SOURCE[cfg.source]
    top = float(train["gain"].max())
    return top / 2.0 if top > 0 else 1.0


def _split_card(frame: pd.DataFrame, relevant: float) -> dict[str, Any]:
    sizes = frame.groupby("query_id", sort=False).size()
    gains = frame["gain"].round(2).value_counts().sort_index()
    rel = frame["gain"] >= relevant
    return {
        "queries": len(sizes),
        "pairs": len(frame),
        "products": int(frame["product_id"].nunique()),
        "grades": {f"{g:g}": int(n) for g, n in gains.items()},
        "candidates_per_query": {
            "min": int(sizes.min()),
            "median": float(sizes.median()),
            "mean": float(sizes.mean()),
            "max": int(sizes.max()),
        },
        "relevant_share": float(rel.mean()),
        "queries_without_relevant": int((~rel.groupby(frame["query_id"], sort=False).any()).sum()),
    }


def _words(frame: pd.DataFrame) -> dict[str, set[str]]:
    queries = frame.drop_duplicates("query_id")
    return {str(q): set(tokens(str(t))) for q, t in zip(queries["query_id"], queries["query"], strict=True)}


def leakage(train: pd.DataFrame, other: pd.DataFrame) -> dict[str, float]:
    """How much of `other`'s queries and candidates `train` already shows (module docstring)."""
    words, seen_words = _words(other), set().union(*_words(train).values())
    texts = set(train["query"].str.lower())
    queries = other.drop_duplicates("query_id")
    distinct = set().union(*words.values()) if words else set()
    out = {
        "queries_in_train": float(queries["query"].str.lower().isin(texts).mean()),
        "query_words_seen": float(len(distinct & seen_words) / len(distinct)) if distinct else float("nan"),
        "queries_with_unseen_word": float(np.mean([bool(w - seen_words) for w in words.values()])),
        "candidates_seen": float(other["product_id"].drop_duplicates().isin(set(train["product_id"])).mean()),
    }
    if GROUP_COLUMN in train.columns and GROUP_COLUMN in other.columns:
        out["groups_in_train"] = float(queries[GROUP_COLUMN].isin(set(train[GROUP_COLUMN])).mean())
    return out


def data_card(splits: Splits, relevant: float) -> dict[str, Any]:
    """The card the report shows and the record keeps."""
    frames = {"train": splits.train, "valid": splits.valid, "test": splits.test}
    return {
        "relevant_gain": relevant,
        "splits": {name: _split_card(frame, relevant) for name, frame in frames.items()},
        "leakage": {name: leakage(splits.train, frames[name]) for name in ("valid", "test")},
    }
