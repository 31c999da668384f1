"""Splits by query id: no leakage, deterministic, every split non-empty."""

from __future__ import annotations

import pandas as pd
import pytest

from model.data import split_by_query


def frame_of(queries: int, per_query: int = 3) -> pd.DataFrame:
    rows = [
        (f"q{q:03d}", f"query {q}", f"p{q}-{i}", "t", "", float(i % 2))
        for q in range(queries)
        for i in range(per_query)
    ]
    return pd.DataFrame(rows, columns=["query_id", "query", "product_id", "title", "description", "gain"])


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["query_id"])


def test_no_query_in_two_splits_and_nothing_lost() -> None:
    frame = frame_of(100)
    splits = split_by_query(frame, (0.8, 0.1, 0.1), seed=7)
    train, valid, test = ids(splits.train), ids(splits.valid), ids(splits.test)
    assert not (train & valid or train & test or valid & test)
    assert train | valid | test == ids(frame)
    assert (len(train), len(valid), len(test)) == (80, 10, 10)
    assert len(splits.train) + len(splits.valid) + len(splits.test) == len(frame)
    # Each query keeps all of its candidates, in frame order.
    assert splits.test.groupby("query_id").size().eq(3).all()
    assert list(splits.valid.index) == list(range(len(splits.valid)))


def test_deterministic_and_seeded() -> None:
    frame = frame_of(50)
    first, again = split_by_query(frame, (0.6, 0.2, 0.2), 1), split_by_query(frame, (0.6, 0.2, 0.2), 1)
    pd.testing.assert_frame_equal(first.test, again.test)
    assert ids(split_by_query(frame, (0.6, 0.2, 0.2), 2).test) != ids(first.test)
    # Row order does not matter, only the set of queries.
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert ids(split_by_query(shuffled, (0.6, 0.2, 0.2), 1).test) == ids(first.test)


def test_every_split_gets_a_query_when_few() -> None:
    splits = split_by_query(frame_of(3), (0.8, 0.1, 0.1), seed=0)
    assert [len(ids(s)) for s in (splits.train, splits.valid, splits.test)] == [1, 1, 1]
    splits = split_by_query(frame_of(5), (0.98, 0.01, 0.01), seed=0)
    assert [len(ids(s)) for s in (splits.train, splits.valid, splits.test)] == [3, 1, 1]


def test_too_few_queries_or_bad_fractions() -> None:
    with pytest.raises(ValueError, match="at least 3 distinct queries"):
        split_by_query(frame_of(2), (0.8, 0.1, 0.1), seed=0)
    with pytest.raises(ValueError, match="three positive numbers"):
        split_by_query(frame_of(10), (0.9, 0.1, 0.0), seed=0)
    with pytest.raises(ValueError, match="three positive numbers"):
        split_by_query(frame_of(10), (0.9, 0.1), seed=0)


def test_without_groups_the_split_is_the_plain_shuffle_of_query_ids() -> None:
    """The old cut, worked out directly: sorted ids, permuted with the seed, cut 80/10/10 in that order."""
    import numpy as np

    frame = frame_of(40)
    order = np.random.default_rng(5).permutation(np.sort(frame["query_id"].unique()))
    splits = split_by_query(frame, (0.8, 0.1, 0.1), seed=5)
    assert ids(splits.train) == set(order[:32]) and ids(splits.valid) == set(order[32:36])
    assert ids(splits.test) == set(order[36:])


def test_a_group_stays_in_one_split() -> None:
    frame = frame_of(60)
    # Queries 0-29 come in near-duplicate pairs (q000/q001 share a group), the rest are alone.
    frame["group_id"] = [f"g{int(q[1:]) // 2}" if int(q[1:]) < 30 else q for q in frame["query_id"]]
    splits = split_by_query(frame, (0.6, 0.2, 0.2), seed=3)
    where = {g: name for name in ("train", "valid", "test") for g in getattr(splits, name)["group_id"]}
    for name in ("train", "valid", "test"):
        assert all(where[g] == name for g in getattr(splits, name)["group_id"])
    assert sum(len(ids(getattr(splits, n))) for n in ("train", "valid", "test")) == 60


def test_a_split_hint_pins_the_group() -> None:
    frame = frame_of(30)
    frame["split_hint"] = [
        "test" if q in ("q001", "q002") else "valid" if q == "q003" else "" for q in frame["query_id"]
    ]
    splits = split_by_query(frame, (0.8, 0.1, 0.1), seed=0)
    assert {"q001", "q002"} <= ids(splits.test) and "q003" in ids(splits.valid)
    # Shares count the pinned queries: 3 of 30 in each of valid and test.
    assert (len(ids(splits.valid)), len(ids(splits.test))) == (3, 3)


def test_a_group_pinned_to_two_splits_is_refused() -> None:
    frame = frame_of(10)
    frame["group_id"] = ["g" if q in ("q001", "q002") else q for q in frame["query_id"]]
    frame["split_hint"] = [
        "test" if q == "q001" else "valid" if q == "q002" else "" for q in frame["query_id"]
    ]
    with pytest.raises(ValueError, match="group 'g' is pinned to both valid and test"):
        split_by_query(frame, (0.8, 0.1, 0.1), seed=0)
