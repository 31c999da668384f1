"""k-fold cross-validation: folds by query group, splits per fold, pooled paired comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.bench import crossval


def _frame(queries: list[str], groups: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for i, q in enumerate(queries):
        for j in range(2):
            row = {
                "query_id": q,
                "query": f"query {q}",
                "product_id": f"{q}-p{j}",
                "title": f"title {j}",
                "description": "",
                "gain": float(j),
            }
            if groups is not None:
                row["group_id"] = groups[i]
            rows.append(row)
    return pd.DataFrame(rows)


def test_every_query_lands_in_one_fold_and_fold_sizes_differ_by_at_most_one() -> None:
    frame = _frame([f"q{i}" for i in range(7)])
    fold_of = crossval.assign_folds(frame, 3, seed=7)
    assert sorted(fold_of) == [f"q{i}" for i in range(7)]
    # 7 units dealt in turn to 3 folds: 3, 2, 2.
    assert sorted(np.bincount(list(fold_of.values()))) == [2, 2, 3]
    # Only the set of queries matters: reversed rows, the same folds; another seed, another deal.
    assert crossval.assign_folds(frame.iloc[::-1], 3, seed=7) == fold_of
    deals = {tuple(sorted(crossval.assign_folds(frame, 3, seed=s).items())) for s in range(5)}
    assert len(deals) > 1


def test_queries_of_one_group_share_a_fold() -> None:
    frame = _frame(["a", "b", "c", "d", "e"], groups=["g1", "g1", "g2", "g3", "g3"])
    fold_of = crossval.assign_folds(frame, 3, seed=1)
    assert fold_of["a"] == fold_of["b"] and fold_of["d"] == fold_of["e"]
    # Three groups, three folds: one group each.
    assert sorted(set(fold_of.values())) == [0, 1, 2]
    assert len({fold_of["a"], fold_of["c"], fold_of["d"]}) == 3


def test_too_few_folds_or_groups_is_refused_by_name() -> None:
    frame = _frame(["a", "b"])
    with pytest.raises(ValueError, match="folds must be >= 3"):
        crossval.assign_folds(frame, 2, seed=0)
    with pytest.raises(ValueError, match="at least 3 query groups for 3 folds, got 2"):
        crossval.assign_folds(frame, 3, seed=0)


def test_fold_i_is_test_the_next_fold_valid_and_the_rest_train() -> None:
    frame = _frame(["a", "b", "c", "d"])
    fold_of = {"a": 0, "b": 1, "c": 2, "d": 0}
    last = crossval.fold_splits(frame, fold_of, 2)
    assert list(dict.fromkeys(last.test["query_id"])) == ["c"]
    assert list(dict.fromkeys(last.valid["query_id"])) == ["a", "d"]  # the next fold, cyclically: 0
    assert list(dict.fromkeys(last.train["query_id"])) == ["b"]
    first = crossval.fold_splits(frame, fold_of, 0)
    assert list(dict.fromkeys(first.test["query_id"])) == ["a", "d"]
    assert list(dict.fromkeys(first.valid["query_id"])) == ["b"]
    assert list(dict.fromkeys(first.train["query_id"])) == ["c"]
    assert first.test.index.tolist() == [0, 1, 2, 3]  # rows renumbered, in frame order


def test_pooled_comparison_is_the_mean_paired_difference_over_queries_both_score() -> None:
    per_query = pd.DataFrame(
        {
            "model:ndcg@10": [1.0, 0.5, np.nan],
            "bm25:ndcg@10": [0.5, 0.5, 0.7],
            "model:rr": [1.0, 0.5, 1.0],
            "bm25:rr": [1.0, 1.0, 0.5],
        }
    )
    ndcg, rr = crossval.compare(per_query, "model", ["bm25"], samples=500, confidence=0.95, seed=0)
    # NDCG: the third query has no model value, so (1.0 - 0.5 + 0.5 - 0.5) / 2.
    assert (ndcg.candidate, ndcg.metric, ndcg.reference, ndcg.queries) == ("model", "ndcg@10", "bm25", 2)
    assert ndcg.estimate == pytest.approx(0.25)
    assert (ndcg.model, ndcg.other) == (pytest.approx(0.75), pytest.approx(0.5))
    # Resampling two differences (0.5 and 0) can only give means 0, 0.25 and 0.5.
    assert 0.0 <= ndcg.low <= 0.25 <= ndcg.high <= 0.5
    # MRR: (0 - 0.5 + 0.5) / 3 = 0 over all three queries.
    assert (rr.metric, rr.queries) == ("mrr", 3)
    assert rr.estimate == pytest.approx(0.0)


def test_a_config_that_pre_trains_is_refused_with_the_setting_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert crossval.main(["--preset", "tiny", "--folds", "3"]) == 2  # the tiny preset pre-trains
    assert "pretrain.enabled is true" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_cross_validation_tests_every_query_once(tmp_path: Path) -> None:
    config = tmp_path / "cv.yaml"
    config.write_text("pretrain:\n  enabled: false\ndistill:\n  enabled: false\n", encoding="utf-8")
    out = tmp_path / "cv.json"
    args = ["--preset", "tiny", "--config", str(config), "--folds", "3", "--json", str(out)]
    assert crossval.main(args) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["folds"]) == 3
    # The tiny preset's 60 queries: each is a test query exactly once, and every fold trains on the rest.
    assert sum(f["queries"]["test"] for f in doc["folds"]) == 60
    assert all(sum(f["queries"].values()) == 60 for f in doc["folds"])
    bm25 = next(
        c
        for c in doc["comparisons"]
        if (c["candidate"], c["metric"], c["reference"]) == ("model", "ndcg@10", "bm25")
    )
    assert bm25["queries"] == 60 and bm25["low"] <= bm25["estimate"] <= bm25["high"]
    # The strongest lexical ranker of a fold is the baseline that fold chose on its validation split.
    for fold in doc["folds"]:
        ndcg = fold["test_ndcg@10"]
        assert ndcg[crossval.STRONGEST] == ndcg[fold["strongest"]]
        # A weight of 0 would make the hybrid the model: equal then, else chosen because it helped valid.
        if fold["fusion_weight"] == 0.0:
            assert ndcg[crossval.HYBRID] == ndcg[crossval.MODEL]
