"""The serving benchmark's request mix: real queries with their candidates, then the retriever's."""

from __future__ import annotations

import pandas as pd

from model.bench.request_mix import make_mix


def _frame() -> pd.DataFrame:
    rows = [
        ("q1", "red shoe", "p1", "Red running shoe", "Mesh"),
        ("q1", "red shoe", "p2", "Blue shoe", None),
        ("q2", "oak table", "p3", "Oak dining table", "Solid oak"),
        ("q2", "oak table", "p4", "Glass table", ""),
    ]
    extra = [(f"q{i}", f"lamp {i}", f"p{i}", f"Desk lamp {i}", "LED") for i in range(5, 9)]
    return pd.DataFrame(rows + extra, columns=["query_id", "query", "product_id", "title", "description"])


def test_each_request_has_its_judged_candidates_then_the_best_bm25_matches() -> None:
    mix = make_mix(_frame(), candidates=3, requests=40, seed=1)
    assert len(mix["order"]) == 40 and set(mix["order"]) == set(range(len(mix["unique"])))
    by_query = {r["query"]: r for r in mix["unique"]}
    shoes = by_query["red shoe"]["candidates"]
    assert len(shoes) == 3 and len({c["id"] for c in shoes}) == 3
    # Both judged candidates, then one product from the retriever.
    assert {"p1", "p2"} <= {c["id"] for c in shoes}
    assert {"id": "p1", "title": "Red running shoe", "description": "Mesh"} in shoes
    assert {"id": "p2", "title": "Blue shoe"} in shoes  # no description: none sent
    # Zipf(1) over 6 queries: the head query repeats, so products recur across requests.
    assert len(mix["unique"]) < 40
