"""The product-token cache: exact answers whatever the query, bounded, thread-safe, counted as metrics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from model.release.bundle import BundleInfo
from model.serving.seldon_model import RankshipRanker

from .conftest import make_ranker

PRODUCTS = [
    {"id": "p1", "title": "Red running shoe", "description": "Lightweight mesh, men's size 10"},
    {"id": "p2", "title": "Trail running shoes", "description": "Grippy sole"},
    {"id": "p3", "title": "Navy wool coat"},
    {"id": "p4", "title": "Ceramic coffee mug"},
]


def _request(query: str, ids: list[int]) -> dict[str, Any]:
    return {"jsonData": {"query": query, "candidates": [PRODUCTS[i] for i in ids]}}


def _scores(ranker: RankshipRanker, query: str, ids: list[int]) -> dict[str, float]:
    answer = ranker.predict_raw(_request(query, ids))
    return {r["id"]: r["score"] for r in answer["jsonData"]["results"]}


def _cache_counts(answer: dict[str, Any]) -> dict[str, int]:
    names = {"rankship_product_cache_hits": "hits", "rankship_product_cache_misses": "misses"}
    return {names[m["key"]]: m["value"] for m in answer["meta"]["metrics"] if m["key"] in names}


def test_a_cached_product_scores_exactly_as_a_fresh_one(bundle: BundleInfo) -> None:
    cached = make_ranker(bundle.path, max_candidates=8, product_cache=16)
    plain = make_ranker(bundle.path, max_candidates=8, product_cache=0)
    # The second and third queries meet products tokenized for another query (match markers differ).
    for query in ("red running shoes", "denim jacket", "shoe mug"):
        assert _scores(cached, query, [0, 1, 2, 3]) == _scores(plain, query, [0, 1, 2, 3])
    assert plain.scorer is not None and plain.scorer.cache.counts().misses == 0  # disabled: never used


def test_hits_and_misses_ride_with_each_answer(bundle: BundleInfo) -> None:
    ranker = make_ranker(bundle.path, max_candidates=8, product_cache=16)
    # Load-time work (golden replay, warm-up) is not counted: the first request misses on its own.
    assert _cache_counts(ranker.predict_raw(_request("shoes", [0, 1]))) == {"misses": 2}
    assert _cache_counts(ranker.predict_raw(_request("jacket", [1, 2, 0]))) == {"hits": 2, "misses": 1}
    for m in ranker.predict_raw(_request("mug", [2]))["meta"]["metrics"]:
        assert m["tags"]["bundle_version"] == ranker.version


def test_the_cache_is_bounded_least_recently_used_first(bundle: BundleInfo) -> None:
    ranker = make_ranker(bundle.path, max_candidates=8, product_cache=2)
    assert ranker.scorer is not None
    cache = ranker.scorer.cache
    ranker.predict_raw(_request("q", [0, 1, 2]))  # p1 is evicted by p3
    before = cache.counts()
    ranker.predict_raw(_request("q", [2, 0]))  # p3 hits; p1 misses again
    after = cache.counts()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 1)


def test_concurrent_requests_get_the_uncached_answers(bundle: BundleInfo) -> None:
    cached = make_ranker(bundle.path, max_candidates=8, product_cache=3)  # small: evicts under load
    plain = make_ranker(bundle.path, max_candidates=8, product_cache=0)
    cases = [(q, ids) for q in ("red shoe", "jacket", "mug") for ids in ([0, 1, 2], [3, 2], [1, 3, 0, 2])]
    expected = [_scores(plain, q, ids) for q, ids in cases]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda case: _scores(cached, *case), cases * 8))
    assert got == expected * 8
