"""The vectorised `encode` gives exactly the ids of the reference loop (the contract serving relies on)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from model.config import TokenizerConfig
from model.text.features import fit_texts
from model.text.tokenizer import EXACT_ID, FUZZY_ID, Tokenizer, product_text
from model.text.vocabulary import fit_tokenizer
from tests.model.text.catalogs import CATALOGS, catalog

SETTINGS = {
    "buckets": 4096,
    "ngram_min": 3,
    "ngram_max": 4,
    "subtokens_per_word": 6,
    "max_query_words": 4,
    "max_product_words": 6,
    "lowercase": True,
    "match_markers": True,
}


def _requests(name: str):  # type: ignore[no-untyped-def]
    frame = catalog(name)
    for _, group in frame.groupby("query_id", sort=False):
        texts = [product_text(t, d) for t, d in zip(group["title"], group["description"], strict=True)]
        yield str(group["query"].iloc[0]), texts


@pytest.mark.parametrize("name", CATALOGS)
@pytest.mark.parametrize("kind", ["hashed", "wordpiece", "hybrid"])
def test_fast_path_equals_reference_on_the_catalogs(name: str, kind: str) -> None:
    frame = catalog(name)
    cfg = TokenizerConfig(kind=kind, vocab_size=2048)  # type: ignore[arg-type]
    fast = fit_tokenizer(cfg, fit_texts(frame))
    reference = Tokenizer.from_json(fast.to_json())
    expected = {}
    for query, texts in _requests(name):
        expected[query] = reference.encode_reference(query, texts)
        np.testing.assert_array_equal(fast.encode(query, texts), expected[query])
    # Again, with every product text in the cache and the word table full: nothing may change.
    cold = fast.cache_stats()
    for query, texts in _requests(name):
        np.testing.assert_array_equal(fast.encode(query, texts), expected[query])
    warm = fast.cache_stats()
    assert warm["misses"] == cold["misses"] > 0 and warm["hits"] - cold["hits"] == len(frame)


@pytest.mark.parametrize(
    ("query", "texts"),
    [
        ("wireless keybaord", ["keyboard wireless mouse", "", "keyboard keyboard"]),
        ("shoe shoe red", ["red shoes", "shoe"]),  # repeated query word, plural is fuzzy
        ("", ["anything at all"]),  # no query words: nothing is marked
        ("cat", ["car cart"]),  # short words are never fuzzy
        ("a b c d e f", ["f e d c b a"]),  # query longer than its slots
        ("ok", []),
    ],
)
@pytest.mark.parametrize("markers", [True, False])
def test_fast_path_equals_reference_on_edge_cases(query: str, texts: list[str], markers: bool) -> None:
    tok = Tokenizer({**SETTINGS, "match_markers": markers})
    np.testing.assert_array_equal(tok.encode(query, texts), tok.encode_reference(query, texts))


def test_markers_worked_by_hand() -> None:
    tokens = Tokenizer(SETTINGS).encode("shoe shoe red", ["red shoes"])[0]
    start = 2 + 4
    assert tokens[start, 1] == EXACT_ID and tokens[start + 1, 1] == FUZZY_ID  # red, shoes
    # Both "shoe" query slots are fuzzy-matched by "shoes"; "red" exactly.
    assert list(tokens[1:4, 1]) == [FUZZY_ID, FUZZY_ID, EXACT_ID]


def test_one_encoder_is_safe_to_share_between_threads() -> None:
    tok = Tokenizer(SETTINGS)
    requests = [(f"item {i} blue", [f"blue item {j}" for j in range(i, i + 30)]) for i in range(40)]
    expected = [tok.encode_reference(q, t) for q, t in requests]
    failures: list[int] = []

    def worker(offset: int) -> None:
        for k in range(len(requests)):
            i = (k + offset) % len(requests)
            if not np.array_equal(tok.encode(*requests[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(o,)) for o in (0, 13, 27)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_text_cache_keeps_the_most_recently_used_texts_and_none_at_zero() -> None:
    from model.text.fastpath import FastEncoder

    tok = Tokenizer(SETTINGS)
    enc = FastEncoder(tok, text_limit=2)
    enc.encode("shoe", ["red shoe", "blue mug"])  # 2 misses; cache: red, blue
    enc.encode("shoe", ["red shoe", "wool coat"])  # red hits (now newest); coat evicts blue
    assert (enc.hits, enc.misses) == (1, 3)
    enc.encode("mug", ["blue mug"])  # evicted: misses again (and evicts red)
    enc.encode("mug", ["wool coat"])  # still there
    assert (enc.hits, enc.misses) == (2, 4)
    off = FastEncoder(tok, text_limit=0)
    ids = off.encode("shoe", ["red shoe", "red shoe"])
    assert (off.hits, off.misses, len(off.texts)) == (0, 0, 0)
    np.testing.assert_array_equal(ids, tok.encode_reference("shoe", ["red shoe", "red shoe"]))
    with pytest.raises(ValueError, match="text_limit must be >= 0"):
        FastEncoder(tok, text_limit=-1)
