"""What a bundle records about the data it was trained on, so a later run can tell whether comparing
with it is fair.

- `data_fingerprint`: sha256 of the whole ranking frame (rows sorted, every schema column), so two runs
  on the same data say so whatever the row order of the file;
- `splits`: per split, the sorted hashes of its queries. A query is hashed by its normalized text
  (lowercase, single spaces), not by its id: ids are per source and the synthetic generator reuses
  Q00001 for a different query under another seed, while the text is what a model learns from.

`overlap` counts this run's evaluation queries that production was trained (or selected) on: a
production model scored on queries it was trained on looks better than it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from model.data.schema import COLUMNS, Splits

HASH_CHARS = 16


def query_hash(text: str) -> str:
    normalized = " ".join(str(text).lower().split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:HASH_CHARS]


def query_hashes(frame: pd.DataFrame) -> list[str]:
    return sorted({query_hash(q) for q in frame["query"].unique()})


def fingerprint(splits: Splits) -> str:
    frame = pd.concat([splits.train, splits.valid, splits.test], ignore_index=True)[list(COLUMNS)]
    frame = frame.astype({"gain": float}).sort_values(["query_id", "product_id"], kind="stable")
    rows = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


def lineage(splits: Splits, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "data_fingerprint": fingerprint(splits),
        "query_hash": f"sha256(lowercased, whitespace-collapsed query text)[:{HASH_CHARS}]",
        "splits": {name: query_hashes(getattr(splits, name)) for name in ("train", "valid", "test")},
    }


def overlap(production: Mapping[str, Any], splits: Splits) -> dict[str, Any]:
    """How many of this run's valid/test queries production trained or selected on."""
    seen = set(production["splits"]["train"]) | set(production["splits"].get("valid", []))
    out: dict[str, Any] = {"same_data": production.get("data_fingerprint") == fingerprint(splits)}
    for name in ("valid", "test"):
        mine = query_hashes(getattr(splits, name))
        out[name] = {"queries": len(mine), "seen_by_production": len(seen.intersection(mine))}
    out["any"] = any(out[n]["seen_by_production"] for n in ("valid", "test"))
    return out
