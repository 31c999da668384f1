"""Data card, leakage figures, lineage and the latency summary, worked out by hand on tiny frames."""

from __future__ import annotations

import pandas as pd
import pytest

from model.config import DataConfig
from model.data.lineage import lineage, overlap, query_hash
from model.data.schema import Splits
from model.evaluation.card import data_card, leakage, relevant_gain
from model.evaluation.extra import ExtraModel, register, registered
from model.evaluation.latency import summarize


def _frame(rows: list[tuple[str, str, str, float]], groups: dict[str, str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "query_id": [q for q, _, _, _ in rows],
            "query": [t for _, t, _, _ in rows],
            "product_id": [p for _, _, p, _ in rows],
            "title": [p for _, _, p, _ in rows],
            "description": "",
            "gain": [g for _, _, _, g in rows],
        }
    )
    if groups is not None:
        frame["group_id"] = frame["query_id"].map(groups)
    return frame


TRAIN = _frame([("a", "frying pan 8 inch", "p1", 3.0), ("a", "frying pan 8 inch", "p2", 0.0)], {"a": "G1"})
TEST = _frame(
    [
        ("b", "fying pan 8 inch", "p1", 3.0),  # a typo of a training query: same group
        ("b", "fying pan 8 inch", "p3", 0.0),
        ("c", "wok", "p4", 2.0),
        ("c", "wok", "p5", 1.0),
    ],
    {"b": "G1", "c": "G2"},
)


def test_leakage_by_hand() -> None:
    leak = leakage(TRAIN, TEST)
    # Groups: b's G1 is in train, c's G2 is not -> 1 of 2. Words {fying, pan, 8, inch, wok}: pan, 8 and
    # inch are training words -> 3 of 5. Both queries have an unseen word (fying; wok). Products
    # {p1, p3, p4, p5}: only p1 is a training candidate -> 1 of 4.
    assert leak == {
        "queries_in_train": 0.0,
        "groups_in_train": 0.5,
        "query_words_seen": pytest.approx(0.6),
        "queries_with_unseen_word": 1.0,
        "candidates_seen": 0.25,
    }


def test_card_counts_and_relevant_threshold() -> None:
    card = data_card(Splits(TRAIN, TEST, TEST), relevant=2.0)
    test = card["splits"]["test"]
    assert (test["queries"], test["pairs"], test["products"]) == (2, 4, 4)
    assert test["grades"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    assert test["candidates_per_query"] == {"min": 2, "median": 2.0, "mean": 2.0, "max": 2}
    assert test["relevant_share"] == 0.5 and test["queries_without_relevant"] == 0
    # csv: half the largest training gain (3 -> 1.5); the others have fixed scales; a setting wins.
    assert relevant_gain(DataConfig(source="csv", path="x.csv"), TRAIN) == 1.5
    assert relevant_gain(DataConfig(), TRAIN) == 2.0
    assert relevant_gain(DataConfig(source="csv", path="x.csv", relevant_gain=3), TRAIN) == 3.0


def test_lineage_hashes_normalized_text_and_counts_overlap() -> None:
    assert query_hash("Frying  Pan") == query_hash("frying pan") != query_hash("frying pans")
    production = lineage(Splits(TRAIN, TEST.iloc[2:], TEST.iloc[:2]), "csv:x")
    # This run tests on b and c; production trained on a and selected on c.
    seen = overlap(production, Splits(TRAIN, TEST.iloc[:2], TEST))
    assert seen["test"] == {"queries": 2, "seen_by_production": 1} and seen["any"]
    assert seen["same_data"] is False
    assert (
        lineage(Splits(TRAIN, TEST, TEST), "x")["data_fingerprint"]
        == lineage(Splits(TRAIN.iloc[::-1], TEST, TEST), "x")["data_fingerprint"]
    )  # row order does not change the fingerprint


def test_latency_summary_is_the_median_over_rounds_and_the_ratio_to_the_reference() -> None:
    rounds = {
        "ref": [
            {"p50_ms": 1, "p99_ms": 2, "mean_ms": 1},
            {"p50_ms": 1, "p99_ms": 4, "mean_ms": 1},
            {"p50_ms": 1, "p99_ms": 3, "mean_ms": 1},
        ],
        "int8": [
            {"p50_ms": 1, "p99_ms": 1, "mean_ms": 1},
            {"p50_ms": 1, "p99_ms": 8, "mean_ms": 1},
            {"p50_ms": 1, "p99_ms": 2.4, "mean_ms": 1},
        ],
    }
    out = summarize(rounds, "ref")
    # int8's p99 median is 2.4 (the 8 ms round is load noise); ratios per round 0.5, 2, 0.8 -> median 0.8.
    assert out["int8"]["latency_p99_ms"] == 2.4 and out["int8"]["latency_p99_max_ms"] == 8
    assert out["int8"]["latency_p99_vs_reference"] == pytest.approx(0.8)
    assert out["ref"]["latency_p99_vs_reference"] == 1.0
    assert "latency_cpu_p99_ms" not in out["int8"]  # rounds without CPU figures give none


def test_latency_summary_on_the_cpu_clock() -> None:
    # CPU p99 per round: ref 5, 5, 6; int8 4, 7, 3 -> medians 5 and 4; ratios 0.8, 1.4, 0.5 -> 0.8.
    def r(wall: float, cpu: float) -> dict[str, float]:
        return {"p50_ms": 1, "p99_ms": wall, "mean_ms": 1, "cpu_p50_ms": cpu / 2, "cpu_p99_ms": cpu}

    out = summarize({"ref": [r(9, 5), r(30, 5), r(9, 6)], "int8": [r(8, 4), r(40, 7), r(8, 3)]}, "ref")
    assert out["int8"]["latency_cpu_p99_ms"] == 4 and out["int8"]["latency_cpu_p50_ms"] == 2
    assert out["int8"]["latency_cpu_p99_vs_reference"] == pytest.approx(0.8)
    assert out["int8"]["latency_p99_ms"] == 8  # the wall clock is summarized as before


def test_extra_models_register_and_replace_by_name(tmp_path) -> None:
    path = tmp_path / "extra_models.json"
    assert registered(path) == []
    register(path, ExtraModel("teacher", "savedmodel", "t", "tok.json", "4 layers"))
    register(path, ExtraModel("student", "tflite", "s.tflite", "tok.json"))
    register(path, ExtraModel("teacher", "savedmodel", "t2", "tok.json"))
    assert [(m.name, m.path) for m in registered(path)] == [("student", "s.tflite"), ("teacher", "t2")]
    with pytest.raises(ValueError, match="kind must be"):
        ExtraModel("x", "onnx", "x", "t")
