"""The shipped ranker's lexical half: catalog BM25 worked by hand, lexical.json and its errors."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest

from model.text.lexical import LexicalError, LexicalIndex, words


def _index(weight: float = 0.0) -> LexicalIndex:
    # Catalog of 4 products, lengths 2, 3, 1, 2 -> average 2.
    return LexicalIndex.fit(["red lamp", "red oak lamp", "lamp", "oak desk"], weight=weight)


def test_words_are_lowercased_letter_and_digit_runs_in_any_script() -> None:
    assert words("Wi-Fi 6E, 2-Pack") == ["wi", "fi", "6e", "2", "pack"]
    assert words("Größe_XL été") == ["größe", "xl", "été"]


def test_bm25_with_lucene_idf_worked_by_hand() -> None:
    index = _index()
    assert dict(index.df) == {"desk": 1, "lamp": 3, "oak": 2, "red": 2}
    assert (index.documents, index.average_length) == (4, 2.0)
    # "red lamp" against "red lamp" (length 2 = average: norm k1 = 1.2; tf 1 -> 2.2 / 2.2 = 1 per word):
    # idf(red) = ln(1 + 2.5 / 2.5) = ln 2, idf(lamp) = ln(1 + 1.5 / 3.5).
    expected = math.log(2) + math.log(1 + 1.5 / 3.5)
    got = index.scores("Red LAMP", ["red lamp", "blue chair", "lamp lamp lamp lamp"])
    assert got[0] == pytest.approx(expected, rel=1e-6)
    assert got[1] == 0.0
    # lamp x4 in a length-4 text: norm 1.2 * (0.25 + 0.75 * 2) = 2.1; 4 * 2.2 / 6.1 saturates below 2.2.
    assert got[2] == pytest.approx(math.log(1 + 1.5 / 3.5) * 4 * 2.2 / 6.1, rel=1e-6)
    # A word the catalog never had has df 0: the largest idf, ln(1 + 4.5 / 0.5).
    assert index.scores("zebra", ["zebra"])[0] == pytest.approx(
        math.log(10) * 2.2 / (1 + 1.2 * 0.625), rel=1e-6
    )
    assert index.scores("", ["red lamp"]).tolist() == [0.0]


def test_fusion_adds_the_weighted_bm25_and_weight_0_is_the_model_alone() -> None:
    model = np.array([0.5, 0.25], dtype=np.float32)
    np.testing.assert_array_equal(_index(0.0).fuse(model, "red", ["red lamp", "oak"]), model)
    fused = _index(2.0).fuse(model, "red", ["red lamp", "oak"])
    assert fused.dtype == np.float32
    assert fused[0] == pytest.approx(0.5 + 2.0 * math.log(2), rel=1e-6) and fused[1] == 0.25


def test_the_serving_cache_gives_exactly_the_uncached_scores_and_stays_bounded() -> None:
    plain, cached = _index(0.5), _index(0.5).with_cache(2)
    texts = ["red lamp", "oak desk lamp lamp", "red lamp", "Lamp, red", "oak"]
    for query in ("red lamp", "lamp lamp oak", "zebra red"):
        np.testing.assert_array_equal(cached.scores(query, texts), plain.scores(query, texts))  # bit for bit
    # Two entries, least recently used first out: after the last request, "Lamp, red" and "oak".
    assert list(cached._cache.texts) == ["Lamp, red", "oak"]
    assert cached._cache.texts["Lamp, red"][1] == 2  # its number of words, for BM25's length norm
    assert cached == plain.with_cache(2) and cached.with_weight(1.0).cache_entries == 2
    assert copy.deepcopy(cached)._cache.texts == {}  # a copy starts empty


def test_the_serving_cache_is_bounded_in_words_too() -> None:
    cached = _index().with_cache(4)  # at most 4 texts and 4 x 16 = 64 words
    long_title = " ".join(f"w{i}" for i in range(65))
    cached.scores("w1", [long_title])
    assert cached._cache.texts == {}  # more than 64 words: scored, not kept
    texts = [" ".join(f"{c}{i}" for i in range(30)) for c in "abc"]  # 30 words each
    cached.scores("a1 b1 c1", texts)
    assert list(cached._cache.texts) == texts[1:] and cached._cache.words == 60  # 90 > 64: the oldest out
    np.testing.assert_array_equal(cached.scores("a1 b1", texts), _index().scores("a1 b1", texts))


def test_max_terms_keeps_the_most_frequent_words() -> None:
    index = LexicalIndex.fit(["red lamp", "red oak lamp", "lamp", "oak desk"], max_terms=2)
    assert dict(index.df) == {"lamp": 3, "oak": 2}  # red ties oak at 2: by word, oak first
    assert index.documents == 4  # the counts of kept words are exact; only rare words are dropped


def test_lexical_json_round_trips_byte_for_byte() -> None:
    index = _index(0.125)
    again = LexicalIndex.from_json(index.to_json())
    assert again == index and again.to_json() == index.to_json()
    np.testing.assert_array_equal(
        again.scores("oak lamp", ["red oak lamp"]), index.scores("oak lamp", ["red oak lamp"])
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "not a rankship-lexical file"),
        ({"version": 2}, "format version 2 unsupported"),
        ({"weight": -1.0}, "weight must be >= 0, got -1.0"),
        ({"weight": "1"}, "weight must be a finite number, got '1'"),
        ({"b": 1.5}, "b must be <= 1"),
        ({"average_length": 0}, "average_length must be > 0"),
        ({"documents": 0}, "documents must be an integer >= 1, got 0"),
        ({"df": []}, "df must be an object"),
        ({"df": {"lamp": 9}}, "df['lamp'] must be an integer in 1..documents, got 9"),
    ],
)
def test_a_bad_lexical_json_names_the_field(change: dict[str, object], message: str) -> None:
    doc = json.loads(_index().to_json())
    doc.update(change)
    with pytest.raises(LexicalError, match=f"^bundle/lexical\\.json: .*{re.escape(message)}"):
        LexicalIndex.from_json(json.dumps(doc), source="bundle/lexical.json")


def test_not_json_and_an_empty_catalog_are_refused() -> None:
    with pytest.raises(LexicalError, match=re.escape("lexical.json: not valid JSON")):
        LexicalIndex.from_json("{")
    with pytest.raises(LexicalError, match="no catalog texts"):
        LexicalIndex.fit([])
