"""The offline score histogram: equal-mass buckets from the model's own quantiles, counted like Prometheus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.release.score_histogram import histogram_bytes, score_histogram


def test_quartiles_of_one_to_twenty() -> None:
    # numpy's linear quantiles of 1..20 at .25/.5/.75: positions 4.75, 9.5, 14.25 -> 5.75, 10.5, 15.25.
    got = score_histogram(np.arange(1, 21), "valid", buckets=4)
    assert got == {"split": "valid", "scores": 20, "edges": [5.75, 10.5, 15.25], "counts": [5, 5, 5, 5]}


def test_a_score_on_an_edge_falls_below_it_and_repeats_merge_edges() -> None:
    # [0, 0, 0, 1, 2] quartiles: 0, 0, 1 -> edges {0, 1}; le semantics: 3 scores <= 0, 1 <= 1, 1 above.
    got = score_histogram([0, 0, 0, 1, 2], "valid", buckets=4)
    assert got["edges"] == [0.0, 1.0] and got["counts"] == [3, 1, 1]


def test_scale_does_not_matter() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=500)
    assert score_histogram(scores, "v")["counts"] == score_histogram(scores * 40 + 7, "v")["counts"]


def test_too_few_or_non_finite_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="need >= 10 finite scores"):
        score_histogram([1.0] * 9, "valid")
    with pytest.raises(ValueError, match="finite"):
        score_histogram([*range(20), float("nan")], "valid")
    assert json.loads(histogram_bytes(range(10), "valid"))["scores"] == 10
