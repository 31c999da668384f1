"""The synthetic catalog and query log: determinism, size, coverage, label rules and BM25-hardness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.config import SyntheticConfig
from model.data.products import display, make_catalog, tables
from model.data.schema import COLUMNS, GROUP_COLUMN, SPLIT_COLUMN, validate
from model.data.splits import split_by_query
from model.data.synthetic import (
    INTENTS,
    MISSPELLED,
    Spec,
    SyntheticSet,
    generate,
    generate_parts,
    judge,
    misspell,
)
from model.data.vocabulary import Vocabulary
from model.evaluation.bm25 import bm25_scores
from model.evaluation.card import leakage
from model.evaluation.metrics import per_query_metrics

TINY = SyntheticConfig(products=600, queries=60, candidates_per_query=12)


@pytest.fixture(scope="module")
def default_set() -> SyntheticSet:
    return generate_parts(SyntheticConfig(), seed=7)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    first, again, other = generate(TINY, 3), generate(TINY, 3), generate(TINY, 4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["title"].equals(other["title"])


def test_tiny_frame_follows_the_schema() -> None:
    frame = generate(TINY, 1)
    assert tuple(frame.columns) == (*COLUMNS, GROUP_COLUMN, SPLIT_COLUMN)
    assert len(frame) == 60 * 12
    assert frame.groupby("query_id").size().eq(12).all()
    validate(frame, "synthetic")  # raises on any contract breach


def test_default_size_and_coverage(default_set: SyntheticSet) -> None:
    catalog, queries, frame = default_set.catalog, default_set.queries, default_set.frame
    assert len(catalog) == 20_000
    assert catalog["category"].nunique() >= 20
    for column in ("brand", "colour", "material"):
        assert catalog[column].ne("").all(), column
    assert catalog["size"].ne("").mean() > 0.5
    assert (catalog["price"] > 0).all()
    assert len(queries) == 2_000 and queries["query"].is_unique
    assert set(queries["intent"]) == {*INTENTS, MISSPELLED}
    assert queries["intent"].value_counts().min() >= 40
    assert len(frame) == 2_000 * 30
    validate(frame, "synthetic")


def test_label_mix(default_set: SyntheticSet) -> None:
    frame = default_set.frame
    share = frame["gain"].value_counts(normalize=True)
    assert set(share.index) == {0.0, 1.0, 2.0, 3.0}
    assert share.min() > 0.05, share.to_dict()
    per_query = frame.groupby("query_id")["gain"]
    # Every query has an exact match (it was made from a product) and something irrelevant.
    assert per_query.max().eq(3.0).all()
    assert per_query.min().eq(0.0).mean() > 0.95
    # Most queries mix at least three of the four grades.
    assert per_query.nunique().ge(3).mean() > 0.6


def test_titles_show_brand_type_and_attributes(default_set: SyntheticSet) -> None:
    catalog = default_set.catalog.head(500)
    for row in catalog.itertuples():
        assert row.brand in row.title and display(row.type) in row.title, row.title
        assert row.colour.capitalize() in row.title and row.material.title() in row.title, row.title
        assert f"${row.price:.2f}" in row.description


def test_judge_follows_the_esci_rules() -> None:
    tab = tables()
    cat = make_catalog(3_000, np.random.default_rng(0))
    shoes, walking, socks = (
        tab.type_names.index(n) for n in ("running shoes", "walking shoes", "running socks")
    )
    blue = tab.vocab.colours.index("blue")
    spec = Spec("attribute", category=int(tab.type_category[shoes]), type=shoes, colour=blue)

    def some(mask: np.ndarray) -> np.ndarray:
        assert mask.any()
        return np.flatnonzero(mask)[:5]

    blue_shoes = some((cat.type == shoes) & (cat.colour == blue))
    red_shoes = some((cat.type == shoes) & (cat.colour != blue))
    blue_walking = some((cat.type == walking) & (cat.colour == blue))
    red_walking = some((cat.type == walking) & (cat.colour != blue))
    any_socks = some(cat.type == socks)
    others = some(tab.type_category[cat.type] != tab.type_category[shoes])
    assert set(judge(spec, cat, tab, blue_shoes)) == {3.0}  # exact
    assert set(judge(spec, cat, tab, red_shoes)) == {2.0}  # same type, one attribute wrong
    assert set(judge(spec, cat, tab, blue_walking)) == {2.0}  # substitute type, nothing wrong
    assert set(judge(spec, cat, tab, red_walking)) == {0.0}  # substitute type with a wrong colour
    assert set(judge(spec, cat, tab, any_socks)) == {1.0}  # complement, whatever its colour
    assert set(judge(spec, cat, tab, others)) == {0.0}
    # Brand and colour both wrong: irrelevant; a wrong size never substitutes.
    brand = int(cat.brand[blue_shoes[0]])
    two_wrong = some((cat.type == shoes) & (cat.colour != blue) & (cat.brand != brand))
    assert set(
        judge(Spec("long_tail", spec.category, shoes, brand=brand, colour=blue), cat, tab, two_wrong)
    ) == {0.0}
    size = int(cat.size[blue_shoes[0]])
    wrong_size = some((cat.type == shoes) & (cat.size != size))
    assert set(judge(Spec("attribute", spec.category, shoes, size=size), cat, tab, wrong_size)) == {0.0}


def test_misspelling_changes_one_main_word() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        typo = misspell("acme blue running shoes", "running shoes", rng)
        changed = [
            (a, b) for a, b in zip(["acme", "blue", "running", "shoes"], typo.split(), strict=True) if a != b
        ]
        assert len(changed) == 1 and changed[0][0] in {"running", "shoes"}, typo
    assert (
        generate_parts(TINY.model_copy(update={"misspelling_rate": 0.0}), 2)
        .queries["intent"]
        .ne(MISSPELLED)
        .all()
    )
    spelled = generate_parts(TINY.model_copy(update={"misspelling_rate": 1.0}), 2).queries
    assert spelled["intent"].eq(MISSPELLED).mean() > 0.9


def test_candidates_are_shuffled(default_set: SyntheticSet) -> None:
    # Position carries no label: the mean gain of each candidate slot is about the overall mean.
    frame = default_set.frame
    slot_mean = frame.groupby(frame.groupby("query_id").cumcount())["gain"].mean()
    assert (slot_mean - frame["gain"].mean()).abs().max() < 0.15


def test_semantic_intents_are_harder_for_bm25(default_set: SyntheticSet) -> None:
    # The point of the generator: word overlap ranks head queries well and synonym or misspelled ones
    # badly, so a model that learns the vocabulary has room to beat BM25.
    frame, queries = default_set.frame, default_set.queries.set_index("query_id")
    per = per_query_metrics(frame, bm25_scores(frame)).join(queries)
    by_intent = per.groupby("intent")["ndcg@10"].mean()
    assert by_intent["synonym"] < by_intent["type"] - 0.15, by_intent.to_dict()
    assert by_intent["misspelled"] < by_intent["brand_type"] - 0.15, by_intent.to_dict()


def test_vocabulary_rejects_unknown_references() -> None:
    good = tables().vocab.model_dump()
    good["categories"][0]["types"][0]["complements"] = ["flux capacitor"]
    with pytest.raises(ValueError, match="flux capacitor"):
        Vocabulary.model_validate(good)


def test_near_duplicates_share_a_group_and_never_straddle_splits() -> None:
    """Before: splitting by query id puts a share of the test queries' specs in train too (a typo or a
    synonym of a training query). After: splitting by group puts none there."""
    cfg = SyntheticConfig(products=2000, queries=600, candidates_per_query=8, open_vocabulary_share=0.0)
    frame = generate(cfg, 5)
    assert frame.groupby(GROUP_COLUMN)["query_id"].nunique().max() > 1  # near-duplicates exist
    before = split_by_query(frame.drop(columns=[GROUP_COLUMN]), (0.8, 0.1, 0.1), 5)
    before_test = before.test.merge(frame[["query_id", GROUP_COLUMN]].drop_duplicates(), on="query_id")
    before_train = before.train.merge(frame[["query_id", GROUP_COLUMN]].drop_duplicates(), on="query_id")
    assert leakage(before_train, before_test)["groups_in_train"] > 0.05
    after = split_by_query(frame, (0.8, 0.1, 0.1), 5)
    assert leakage(after.train, after.test)["groups_in_train"] == 0.0
    assert (frame[SPLIT_COLUMN] == "").all()  # no open vocabulary asked for


def test_open_vocabulary_queries_are_pinned_to_evaluation_and_bring_unseen_words() -> None:
    cfg = SyntheticConfig(products=2000, queries=600, candidates_per_query=8, open_vocabulary_share=0.5)
    frame = generate(cfg, 5, evaluation_share=0.2)
    pinned = frame.drop_duplicates("query_id").set_index("query_id")[SPLIT_COLUMN]
    # 0.5 x 0.2 = 10 % of the queries, half for valid and half for test.
    assert 0.06 < (pinned != "").mean() < 0.14 and {"valid", "test"} <= set(pinned)
    splits = split_by_query(frame, (0.8, 0.1, 0.1), 5)
    assert not set(pinned[pinned != ""].index) & set(splits.train["query_id"])
    test = splits.test
    open_test = test[test[SPLIT_COLUMN] == "test"]
    closed_test = test[test[SPLIT_COLUMN] == ""]
    # Held-out types and brands: most pinned queries have a word no training query has; far fewer of
    # the others do (their rare words are colours, sizes and typos).
    opened = leakage(splits.train, open_test)["queries_with_unseen_word"]
    assert opened > 0.6 and opened > leakage(splits.train, closed_test)["queries_with_unseen_word"] + 0.2
