"""The CSV loader on the real Crowdflower search relevance set (skipped where ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.config import DataConfig
from model.data import load, split_by_query
from model.evaluation.bm25 import bm25_scores
from model.evaluation.metrics import ranking_metrics

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
CROWDFLOWER = SHARED / "data" / "crowdflower" / "crowdflower-search-relevance.csv.gz"

pytestmark = pytest.mark.skipif(
    not CROWDFLOWER.exists(), reason=f"{CROWDFLOWER} is not here (needs ../shared)"
)


def test_default_csv_columns_load_crowdflower() -> None:
    frame = load(DataConfig(source="csv", path=CROWDFLOWER, max_candidates_per_query=200))
    # PROVENANCE.md: 10,158 rows, 261 queries, median_relevance 1-4. Identical listings judged twice for
    # a query are merged (one product to a ranker), which leaves about 3 % fewer rows.
    assert frame["query_id"].nunique() == 261
    assert 9_500 < len(frame) < 10_158
    assert frame["gain"].min() == 0.0 and frame["gain"].max() == 3.0  # grade 1 -> 0, grade 4 -> 3
    assert (frame["gain"] == 3.0).mean() > 0.5  # 6,171 of the ratings are 4


def test_bm25_ranks_crowdflower_better_than_chance() -> None:
    frame = load(DataConfig(source="csv", path=CROWDFLOWER))
    test = split_by_query(frame, (0.8, 0.1, 0.1), seed=7).test
    bm25 = ranking_metrics(test, bm25_scores(test))["ndcg@10"]
    constant = ranking_metrics(test, np.zeros(len(test)))["ndcg@10"]
    assert bm25 > constant + 0.02, (bm25, constant)
