"""The catalogs the tokenizer parity tests run over: a small synthetic set and (when ../shared is here)
Crowdflower's real product texts and queries."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

from model.config import DataConfig, SyntheticConfig
from model.data import load

CROWDFLOWER = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "data"
    / "crowdflower"
    / "crowdflower-search-relevance.csv.gz"
)


@functools.cache
def catalog(name: str) -> pd.DataFrame:
    if name == "synthetic":
        return load(DataConfig(synthetic=SyntheticConfig(products=800, queries=80, candidates_per_query=12)))
    if not CROWDFLOWER.exists():
        pytest.skip(f"{CROWDFLOWER} is not here (needs ../shared)")
    return load(
        DataConfig(
            source="csv",
            path=CROWDFLOWER,
            csv={"query": "query", "title": "product_title", "description": "product_description"},
        )
    )


CATALOGS = ("synthetic", "crowdflower")
