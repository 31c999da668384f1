"""The served order: score high to low, and ties keep request order (the contract promises both)."""

from __future__ import annotations

from model.serving.seldon_model import RankshipRanker


def test_equal_scores_keep_request_order(ranker: RankshipRanker) -> None:
    # Identical product texts tokenize identically, so the model gives them bit-identical scores; only the
    # ids differ. A sort that is not stable (or sorts ascending and reverses) would answer t3, t2, t1.
    same = {"title": "Trail running shoe", "description": "Grippy sole"}
    candidates = [
        {"id": "t1", **same},
        {"id": "other", "title": "Denim jacket"},
        {"id": "t2", **same},
        {"id": "t3", **same},
    ]
    answer = ranker.predict_raw({"jsonData": {"query": "running shoes", "candidates": candidates}})
    results = answer["jsonData"]["results"]
    scores = {r["id"]: r["score"] for r in results}
    assert scores["t1"] == scores["t2"] == scores["t3"] != scores["other"]
    tied = [r["id"] for r in results if r["id"] != "other"]
    assert tied == ["t1", "t2", "t3"]
    assert [r["score"] for r in results] == sorted(scores.values(), reverse=True)


def test_ties_across_top_k_keep_the_earliest(ranker: RankshipRanker) -> None:
    same = {"title": "Red road running shoes"}
    candidates = [{"id": f"c{i}", **same} for i in range(5)]
    answer = ranker.predict_raw({"jsonData": {"query": "red shoes", "candidates": candidates, "top_k": 2}})
    assert [r["id"] for r in answer["jsonData"]["results"]] == ["c0", "c1"]
