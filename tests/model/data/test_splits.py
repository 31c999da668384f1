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
