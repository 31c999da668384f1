"""Lexical baselines: spelling correction and query expansion learned from a hand-made training split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.config import BaselineConfig
from model.evaluation.baselines import (
    BASELINES,
    coverage_then_bm25,
    learn_rewriter,
    lexical_baselines,
    title_coverage,
)
from model.evaluation.metrics import ranking_metrics


def _frame(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query_id": [q for q, _, _, _ in rows],
            "query": [q for q, _, _, _ in rows],
            "product_id": [t for _, t, _, _ in rows],
            "title": [t for _, t, _, _ in rows],
            "description": [d for _, _, d, _ in rows],
            "gain": [g for _, _, _, g in rows],
        }
    )


# Two training queries say "sneakers"; their relevant products are "running shoes", their other
# candidates are not. "running" and "shoes" are in 2 of 2 relevant titles (share 1.0) and 2 of 4
# candidate titles (0.5): lift 0.5. "acme", "zeta" and "white" are in 1 of 2 relevant titles (share
# 0.5 >= expansion_min_share) and 1 of 4 candidates: lift 0.25 >= 0.2, so they qualify too, but rank
# below running/shoes.
TRAIN = _frame(
    [
        ("sneakers", "acme running shoes", "", 3.0),
        ("sneakers", "shoe rack", "", 0.0),
        ("white sneakers", "zeta running shoes white", "", 3.0),
        ("white sneakers", "white sofa", "", 0.0),
    ]
)


def test_expansions_are_the_words_of_relevant_products_that_other_candidates_lack():
    rewriter = learn_rewriter(TRAIN, relevant_gain=2.0, cfg=BaselineConfig(expansion_terms=2))
    # running/shoes (lift 0.5) make the top-2 cut; acme/zeta/white (lift 0.25) do not.
    assert dict(rewriter.expansions["sneakers"]) == {"running": 0.5, "shoes": 0.5}
    assert rewriter.terms("sneakers", 0.5) == {"sneakers": 1.0, "running": 0.5, "shoes": 0.5}
    assert rewriter.terms("sneakers", None) == {"sneakers": 1.0}


def test_spelling_correction_takes_the_most_frequent_word_one_edit_away():
    rewriter = learn_rewriter(TRAIN, relevant_gain=2.0, cfg=BaselineConfig())
    assert rewriter.correct("runing") == "running"  # one insert
    assert rewriter.correct("snaekers") == "sneakers"  # one transpose
    assert rewriter.correct("sofas") == "sofa"  # one delete
    assert rewriter.correct("xylophone") == "xylophone"  # nothing one edit away: kept
    assert rewriter.correct("rak") == "rak"  # shorter than 4 letters: never corrected


def test_expansion_lets_bm25_find_what_the_query_does_not_say():
    valid = _frame([("sneakers", "nova running shoes", "", 3.0), ("sneakers", "garden hose", "", 0.0)])
    # Four products: with two, BM25's IDF of a word in one of them is log(1.5 / 1.5) = 0.
    test = _frame(
        [("snekers", "vega running shoes", "", 3.0)]
        + [("snekers", f"{kind} lamp", "", 0.0) for kind in ("desk", "table", "floor")]
    )
    lex = lexical_baselines({"train": TRAIN, "valid": valid, "test": test}, 2.0, BaselineConfig())
    assert set(lex.scores) == set(BASELINES)
    plain, spelled, expanded = (lex.scores[name]["test"] for name in BASELINES[:3])
    # No product says "snekers" or "sneakers": plain and spell-corrected BM25 tie at 0; expansion ranks
    # the running shoes first.
    assert list(plain) == [0.0] * 4 and list(spelled) == [0.0] * 4
    assert expanded[0] > 0 and list(expanded[1:]) == [0.0] * 3
    assert ranking_metrics(test, expanded)["ndcg@10"] == pytest.approx(1.0)
    # The weight is chosen on valid, where every weight ties (2 products: IDF 0): the smallest wins.
    assert lex.expansion_weight == min(BaselineConfig().expansion_weights)
    assert lex.corrections == 1  # "snekers" -> "sneakers" in test


def test_title_coverage_is_the_share_of_distinct_query_words_in_the_title():
    frame = _frame(
        [
            ("red running shoes", "Red Running Shoes", "", 3.0),  # 3 of 3
            ("red running shoes", "running shoes, 2-pack", "", 2.0),  # running, shoes: 2 of 3
            ("red running shoes", "red sofa", "red running shoes", 0.0),  # red: 1 of 3 (title only)
            ("red running shoes", "desk lamp", "", 0.0),  # 0 of 3
            ("shoes shoes", "shoes", "", 1.0),  # one distinct word, in the title: 1 of 1
        ]
    )
    coverage, most = title_coverage(frame)
    assert coverage == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0, 1.0])
    assert most == 3


def test_coverage_orders_first_and_bm25_only_breaks_its_ties():
    frame = _frame(
        [
            ("red shoes", "red shoes", "", 3.0),  # coverage 1
            ("red shoes", "shoes", "", 1.0),  # 1/2
            ("red shoes", "blue shoes", "", 0.0),  # 1/2
            ("red shoes", "sofa", "red shoes red shoes", 0.0),  # 0: BM25 likes its description
        ]
    )
    bm25 = np.array([1.0, 2.0, 3.0, 9.0])
    # Range 8, at most 2 words: coverage x 2 x 9 + BM25 = 19, 11, 12, 9.
    assert list(coverage_then_bm25(frame, bm25)) == pytest.approx([19.0, 11.0, 12.0, 9.0])
    order = np.argsort(-coverage_then_bm25(frame, bm25))
    assert list(order) == [0, 2, 1, 3]


def test_the_coverage_baseline_puts_the_title_that_says_it_all_above_what_bm25_prefers():
    valid = _frame(
        [
            ("white sneakers", "white sneakers", "", 3.0),  # coverage 1
            # coverage 1/2 (its title lacks "white"), but its description repeats both words.
            ("white sneakers", "sneakers", "white white white sneakers sneakers", 0.0),
        ]
        # Coverage 0. Four of them, so that "white" and "sneakers" (in 2 of 6 products) get a positive IDF.
        + [("white sneakers", f"{kind} lamp", "", 0.0) for kind in ("desk", "floor", "table", "wall")]
    )
    lex = lexical_baselines({"train": TRAIN, "valid": valid, "test": valid}, 2.0, BaselineConfig())
    plain, covered = lex.scores["bm25"]["valid"], lex.scores["bm25_title_coverage"]["valid"]
    assert set(lex.scores["bm25_title_coverage"]) == {"valid", "test"}
    assert plain[1] > plain[0]  # BM25 alone ranks the description-stuffed product first
    assert covered[0] > covered[1] > max(covered[2:])


def test_the_catalog_baseline_is_bm25_over_the_text_the_model_reads_with_the_whole_catalogs_counts():
    # "blue hat" says "red shoe" only after its first 8 description words, which the model never reads.
    words = "a b c d e f g h red shoe red shoe"
    valid = _frame(
        [("red shoe", "red shoe", "", 3.0), ("red shoe", "blue hat", words, 0.0)]
        # Four more, so that plain BM25's IDF (rank-bm25, over this split's 6 products) is positive.
        + [("red shoe", f"{kind} lamp", "", 0.0) for kind in ("desk", "floor", "table", "wall")]
    )
    lex = lexical_baselines({"train": TRAIN, "valid": valid, "test": valid}, 2.0, BaselineConfig())
    catalog, plain = lex.scores["bm25_catalog"]["valid"], lex.scores["bm25"]["valid"]
    assert plain[1] > 0  # plain BM25 reads the whole description
    # The catalog: TRAIN's 4 products and valid's 6 (test repeats them), texts of 3, 2, 4, 2, 2, 10
    # ("blue hat" + 8 words), 2, 2, 2, 2 words: average 31 / 10. "red" is in 1 of them, "shoe" in 2
    # ("shoe rack", "red shoe"; "shoes" is another word): Lucene's IDF ln(1 + (N - df + 0.5) / (df + 0.5)).
    idf_red, idf_shoe = np.log(1 + 9.5 / 1.5), np.log(1 + 8.5 / 2.5)
    norm = 1.2 * (1 - 0.75 + 0.75 * 2 / (31 / 10))  # "red shoe" has 2 words, each once
    expected = (idf_red + idf_shoe) * 2.2 / (1 + norm)
    assert catalog == pytest.approx([expected, 0.0, 0.0, 0.0, 0.0, 0.0])
