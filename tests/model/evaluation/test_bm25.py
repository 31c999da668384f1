"""BM25 baseline: hand-computed scores on a 3-document corpus, and agreement with rank-bm25."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from rank_bm25 import BM25Okapi

from model.config import SyntheticConfig
from model.data.synthetic import generate
from model.evaluation.bm25 import bm25_scores, tokens


def frame_of(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(query_id, query, product_id, title) rows; empty descriptions, gain 0."""
    return pd.DataFrame(
        [(q, qt, p, t, "", 0.0) for q, qt, p, t in rows],
        columns=["query_id", "query", "product_id", "title", "description", "gain"],
    )


def test_tokens_lowercase_and_split_on_non_alphanumerics() -> None:
    assert tokens("Wi-Fi 6E, 2-Pack") == ["wi", "fi", "6e", "2", "pack"]
    assert tokens("Café Crème_Brûlée") == ["café", "crème", "brûlée"]
    assert tokens("  --  ") == []


def test_scores_by_hand_on_three_documents() -> None:
    # Corpus: d1 "red shoes" (2 words), d2 "blue shoes" (2), d3 "green big hat" (3); avgdl = 7/3.
    # "red" and "hat" are in one document each: idf = ln((3 - 1 + 0.5) / (1 + 0.5)) = ln(5/3) = 0.510826.
    # With k1 = 1.2, b = 0.75 and tf = 1:
    #   d1: idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / (7/3))) = 0.510826 * 2.2 / 2.071429 = 0.542532
    #   d2: no query word -> 0
    #   d3: idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / (7/3))) = 0.510826 * 2.2 / 2.457143 = 0.457367
    frame = frame_of(
        [
            ("q", "Red HAT", "d1", "red shoes"),
            ("q", "Red HAT", "d2", "blue shoes"),
            ("q", "Red HAT", "d3", "green big hat"),
        ]
    )
    idf = math.log(5 / 3)
    expected = [
        idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / (7 / 3))),
        0.0,
        idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / (7 / 3))),
    ]
    assert bm25_scores(frame) == pytest.approx(expected)
    assert expected == pytest.approx([0.542532, 0.0, 0.457367], abs=1e-6)


def test_idf_counts_each_product_once_across_queries() -> None:
    # The same three products judged for two queries: the corpus is still 3 documents, so the scores of
    # the second query's rows are those of the hand-computed case; rows are returned in frame order.
    one = [
        ("q", "red hat", "d1", "red shoes"),
        ("q", "red hat", "d2", "blue shoes"),
        ("q", "red hat", "d3", "green big hat"),
    ]
    two = [("r", "blue", "d2", "blue shoes"), ("r", "blue", "d1", "red shoes")]
    frame = frame_of([one[0], two[0], one[1], two[1], one[2]])
    scores = bm25_scores(frame)
    assert scores[[0, 2, 4]] == pytest.approx([0.542532, 0.0, 0.457367], abs=1e-6)
    # "blue": in d2 only -> the same formula as "red" on a 2-word document.
    assert scores[[1, 3]] == pytest.approx([0.542532, 0.0], abs=1e-6)


def test_description_counts_unless_left_out() -> None:
    # Three documents (with two, a word in one of them has idf ln(1.5/1.5) = 0 in Okapi BM25).
    frame = frame_of(
        [("q", "leather", "a", "sofa"), ("q", "leather", "b", "armchair"), ("q", "leather", "c", "desk")]
    )
    frame.loc[0, "description"] = "Made of leather."
    assert bm25_scores(frame)[0] > 0.0
    assert list(bm25_scores(frame, fields=("title",))) == [0.0, 0.0, 0.0]


def test_agrees_with_rank_bm25_batch_scores() -> None:
    # The vectorised sum must equal the package's own get_batch_scores on a realistic frame.
    frame = generate(SyntheticConfig(products=300, queries=30, candidates_per_query=8), seed=5)
    ours = bm25_scores(frame)
    products = frame.drop_duplicates("product_id")
    corpus = [tokens(f"{t} {d}") for t, d in zip(products["title"], products["description"], strict=True)]
    index = {p: i for i, p in enumerate(products["product_id"])}
    bm25 = BM25Okapi(corpus, k1=1.2, b=0.75)
    for qid, rows in frame.groupby("query_id").indices.items():
        docs = [index[p] for p in frame["product_id"].iloc[rows]]
        theirs = bm25.get_batch_scores(tokens(frame["query"].iloc[rows[0]]), docs)
        assert ours[rows] == pytest.approx(theirs), qid
    assert np.count_nonzero(ours) > len(frame) // 4


def test_empty_corpus_scores_zero() -> None:
    frame = frame_of([("q", "anything", "a", ""), ("q", "anything", "b", "")])
    assert list(bm25_scores(frame)) == [0.0, 0.0]
