"""Ranking metrics against numbers worked out by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from model.evaluation.metrics import (
    ndcg_at_k,
    per_query_metrics,
    ranking_metrics,
    recall_at_k,
    reciprocal_rank,
)


def frame_of(queries: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        (qid, f"{qid} text", f"p{i}", "t", "", g)
        for qid, gains in queries.items()
        for i, g in enumerate(gains)
    ]
    return pd.DataFrame(rows, columns=["query_id", "query", "product_id", "title", "description", "gain"])


def test_ndcg_with_exponential_gain_and_log2_discount() -> None:
    # gains [3, 2, 0] scored so the order is items 0, 2, 1:
    # DCG  = (2^3-1)/log2(2) + (2^0-1)/log2(3) + (2^2-1)/log2(4) = 7 + 0 + 3/2 = 8.5
    # IDCG = 7/log2(2) + 3/log2(3) + 0 = 7 + 1.8928 = 8.8928  -> NDCG = 0.955831
    expected = 8.5 / (7 + 3 / math.log2(3))
    assert ndcg_at_k(np.array([3.0, 2.0, 0.0]), np.array([0.9, 0.1, 0.5])) == pytest.approx(expected)
    assert expected == pytest.approx(0.955831, abs=1e-6)


def test_ndcg_cut_at_k() -> None:
    # Order 0, 1, 2 with gains [0, 0, 3]: nothing useful in the top 2 -> 0; top 3 -> 7/log2(4) / 7 = 0.5.
    gains, scores = np.array([0.0, 0.0, 3.0]), np.array([3.0, 2.0, 1.0])
    assert ndcg_at_k(gains, scores, k=2) == 0.0
    assert ndcg_at_k(gains, scores, k=3) == pytest.approx(0.5)


def test_ties_keep_row_order() -> None:
    # Equal scores: row 0 (gain 0) stays first, so the gain-3 item is at rank 2:
    # DCG = 7/log2(3), IDCG = 7 -> 1/log2(3) = 0.63093; its reciprocal rank is 1/2.
    gains, scores = np.array([0.0, 3.0]), np.array([1.0, 1.0])
    assert ndcg_at_k(gains, scores) == pytest.approx(1 / math.log2(3))
    assert reciprocal_rank(gains, scores) == 0.5
    # Same items in the other row order: the gain-3 item is first.
    assert ndcg_at_k(gains[::-1], scores) == 1.0


def test_reciprocal_rank_uses_relevant_gain() -> None:
    # Order 0, 1, 2 with gains [1, 2, 3]: first gain >= 2 at rank 2, first gain >= 3 at rank 3.
    gains, scores = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    assert reciprocal_rank(gains, scores) == 0.5
    assert reciprocal_rank(gains, scores, relevant_gain=3.0) == pytest.approx(1 / 3)
    assert math.isnan(reciprocal_rank(gains, scores, relevant_gain=4.0))


def test_recall_at_k() -> None:
    # Order 0, 2, 1, 3 with gains [3, 2, 0, 2]: relevant (>= 2) are items 0, 1, 3; the top 2 (0, 2)
    # hold one of them -> 1/3. With k=3 (0, 2, 1) -> 2/3.
    gains, scores = np.array([3.0, 2.0, 0.0, 2.0]), np.array([4.0, 2.0, 3.0, 1.0])
    assert recall_at_k(gains, scores, k=2) == pytest.approx(1 / 3)
    assert recall_at_k(gains, scores, k=3) == pytest.approx(2 / 3)
    assert math.isnan(recall_at_k(np.zeros(3), np.arange(3.0), k=2))


def test_queries_without_gain_are_left_out_and_counted() -> None:
    frame = frame_of({"a": [3.0, 2.0, 0.0], "b": [0.0, 0.0], "c": [1.0, 0.0]})
    # a: NDCG 0.955831 (first test), RR 1, recall@2 = 1/2 (items 0 and 2 in the top 2, relevant 0 and 1).
    # b: no gain at all -> out of every mean. c: NDCG 1 (gain 1 first) but nothing >= 2 -> out of MRR/recall.
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.1])
    got = ranking_metrics(frame, scores, k=2)
    # a's NDCG@2: DCG = 7 + 0, IDCG = 7 + 3/log2(3) -> 0.78715
    assert got["ndcg@2"] == pytest.approx((7 / (7 + 3 / math.log2(3)) + 1.0) / 2)
    assert got["mrr"] == 1.0
    assert got["recall@2"] == 0.5
    assert (got["queries"], got["queries_no_gain"], got["queries_no_relevant"]) == (3, 1, 2)


def test_per_query_handles_interleaved_rows() -> None:
    # Rows of two queries interleaved (a0 b0 a1 b1 a2 b2); each query's figures worked out by hand:
    # a: scores a0=0.1 (g3), a1=0.9 (g0), a2=0.3 (g2) -> order a1 a2 a0, gains 0 2 3.
    #    NDCG@2 = (0 + 3/log2 3) / (7 + 3/log2 3) = 0.212846; first gain >= 2 at rank 2 -> RR 1/2.
    # b: scores b0=0.5 (g0), b1=0.7 (g3), b2=0.2 (g1) -> order b1 b0 b2, gains 3 0 1.
    #    NDCG@2 = 7 / (7 + 1/log2 3) = 0.917319; RR 1.
    frame = frame_of({"a": [3.0, 0.0, 2.0], "b": [0.0, 3.0, 1.0]}).iloc[[0, 3, 1, 4, 2, 5]]
    scores = np.array([0.1, 0.5, 0.9, 0.7, 0.3, 0.2])
    per = per_query_metrics(frame, scores, k=2)
    assert list(per.index) == ["a", "b"]
    assert per.loc["a", "ndcg@2"] == pytest.approx((3 / math.log2(3)) / (7 + 3 / math.log2(3)))
    assert per.loc["a", "ndcg@2"] == pytest.approx(0.212846, abs=1e-6)
    assert per.loc["b", "ndcg@2"] == pytest.approx(7 / (7 + 1 / math.log2(3)))
    assert per.loc["b", "ndcg@2"] == pytest.approx(0.917319, abs=1e-6)
    assert (per.loc["a", "rr"], per.loc["b", "rr"]) == (0.5, 1.0)


def test_ideal_dcg_is_cut_at_k_too() -> None:
    # Three gain-3 items, k = 2: the ideal top 2 is two gain-3 items, IDCG@2 = 7 + 7/log2 3 = 11.4165.
    # Order 0, 3, 1, 2 (gains 3, 0, 3, 3): DCG@2 = 7 -> NDCG@2 = 0.613147. An IDCG over all four ranks
    # (7 + 7/log2 3 + 7/2) would give 0.469284, and the perfect order below would score < 1.
    gains, scores = np.array([3.0, 3.0, 3.0, 0.0]), np.array([4.0, 2.0, 1.0, 3.0])
    assert ndcg_at_k(gains, scores, k=2) == pytest.approx(7 / (7 + 7 / math.log2(3)))
    assert ndcg_at_k(gains, scores, k=2) == pytest.approx(0.613147, abs=1e-6)
    assert ndcg_at_k(gains, np.array([3.0, 2.0, 1.0, 0.0]), k=2) == 1.0


def test_perfect_and_reversed_rankings() -> None:
    gains = np.array([0.0, 1.0, 2.0, 3.0])
    assert ndcg_at_k(gains, gains) == 1.0
    # Reversed: DCG = 0 + 1/log2(3) + 3/2 + 7/log2(5); IDCG = 7 + 3/log2(3) + 1/2 + 0.
    dcg = 1 / math.log2(3) + 1.5 + 7 / math.log2(5)
    assert ndcg_at_k(gains, -gains) == pytest.approx(dcg / (7 + 3 / math.log2(3) + 0.5))


def test_bad_scores_are_rejected() -> None:
    frame = frame_of({"a": [1.0, 0.0]})
    with pytest.raises(ValueError, match="3 entries but the frame has 2 rows"):
        ranking_metrics(frame, np.zeros(3))
    with pytest.raises(ValueError, match="not finite"):
        ranking_metrics(frame, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="k must be at least 1"):
        ranking_metrics(frame, np.zeros(2), k=0)


def test_relevant_gain_reaches_the_frame_metrics() -> None:
    # One query, order 0, 1, 2 with gains [1, 2, 3]: relevant >= 2 -> first at rank 2 (RR 1/2), recall@1 0;
    # relevant >= 3 -> first at rank 3 (RR 1/3); >= 1 -> rank 1 and recall@1 = 1/3.
    frame = frame_of({"a": [1.0, 2.0, 3.0]})
    scores = np.array([3.0, 2.0, 1.0])
    assert ranking_metrics(frame, scores, k=1)["mrr"] == 0.5
    assert ranking_metrics(frame, scores, k=1, relevant_gain=3.0)["mrr"] == pytest.approx(1 / 3)
    low = ranking_metrics(frame, scores, k=1, relevant_gain=1.0)
    assert (low["mrr"], low["recall@1"]) == (1.0, pytest.approx(1 / 3))
    assert per_query_metrics(frame, scores, k=1, relevant_gain=3.0).loc["a", "rr"] == pytest.approx(1 / 3)


def test_an_empty_frame_has_nan_means_and_no_queries() -> None:
    got = ranking_metrics(frame_of({}), np.array([]))
    assert math.isnan(got["ndcg@10"]) and math.isnan(got["mrr"]) and math.isnan(got["recall@10"])
    assert (got["queries"], got["queries_no_gain"], got["queries_no_relevant"]) == (0, 0, 0)
    assert math.isnan(ndcg_at_k(np.array([]), np.array([])))


def test_the_default_cut_is_ten() -> None:
    # Eleven candidates scored 11..1; only the last one (rank 11) has a gain: outside the default top 10,
    # so NDCG@10 and recall@10 are 0 (a cut at 11 would give 7/log2(12) / 7 and 1).
    gains, scores = np.array([0.0] * 10 + [3.0]), np.arange(11.0, 0.0, -1.0)
    assert ndcg_at_k(gains, scores) == 0.0
    assert recall_at_k(gains, scores) == 0.0
    assert per_query_metrics(frame_of({"a": list(gains)}), scores).loc["a", "ndcg@10"] == 0.0
    assert ndcg_at_k(gains, scores, k=11) == pytest.approx(1 / math.log2(12))


def test_recall_of_a_query_with_one_relevant_item() -> None:
    # One relevant item (gain 2), ranked first: recall@1 = 1/1; ranked second: 0/1.
    assert recall_at_k(np.array([2.0, 0.0]), np.array([2.0, 1.0]), k=1) == 1.0
    assert recall_at_k(np.array([2.0, 0.0]), np.array([1.0, 2.0]), k=1) == 0.0


def test_unsigned_integer_gains_and_scores_rank_like_floats() -> None:
    # Grades or scores held as unsigned integers: negating an unsigned 0 stays 0 and anything else wraps, so
    # they must be read as floats before ranking. Item 1 (gain 3, score 5) first -> NDCG 1; item 0 first would
    # give (7/log2 3) / 7 = 0.6309, and an ideal order ranked by wrapped gains NDCG log2 3 > 1.
    gains, scores = np.array([0, 3], dtype=np.uint8), np.array([0, 5], dtype=np.uint8)
    assert ndcg_at_k(gains, scores) == 1.0
    frame = frame_of({"a": [0.0, 3.0]}).astype({"gain": np.uint8})
    assert per_query_metrics(frame, scores).loc["a", "ndcg@10"] == 1.0


def test_queries_come_in_order_of_first_appearance_under_their_column_name() -> None:
    # "b" appears first: it stays first (not sorted), and the index is named so that reset_index() gives
    # the query_id column of per_query.parquet.
    per = per_query_metrics(frame_of({"b": [3.0, 0.0], "a": [0.0, 2.0]}), np.array([2.0, 1.0, 2.0, 1.0]))
    assert list(per.reset_index().columns) == ["query_id", "ndcg@10", "rr", "recall@10"]
    assert list(per.index) == ["b", "a"]
    assert (per.loc["b", "rr"], per.loc["a", "rr"]) == (1.0, 0.5)


def test_undefined_metrics_are_nan_without_a_warning() -> None:
    # A query without gain divides 0 by 0: NaN by design, not a RuntimeWarning in every evaluation's log.
    frame = frame_of({"a": [0.0, 0.0], "b": [2.0, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per = per_query_metrics(frame, np.array([1.0, 0.0, 1.0, 0.0]))
    assert math.isnan(per.loc["a", "ndcg@10"]) and math.isnan(per.loc["a", "recall@10"])
    assert per.loc["b", "ndcg@10"] == 1.0
