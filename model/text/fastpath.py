"""The tokenizer's serving-speed path: the same ids as `Tokenizer.encode_reference`, vectorised.

Per request the reference does Python work for every word of every candidate (about 50 µs a
candidate). Here each distinct word is turned into its id rows once (a growing table), each product
text into a row of word indices once (candidates recur across queries, so the text cache mostly hits),
and a request is numpy gathers over [N, P] word indices plus one small Python step per *query* word:

- [EXACT]: product word index equals a query word's index;
- [FUZZY]: the words' one-deletion neighbourhoods intersect. The table keeps an inverted index
  variant -> words, so the words fuzzy-matching a query are found from the query's own ~33 variants a
  word, whatever the number of candidates;
- which query positions a product word matches is a bitmask (int64), OR-reduced per candidate for the
  query side's markers.

Caches are bounded: the product texts least recently used first (`text_limit` entries, 0 = none, as
serving's RANKSHIP_PRODUCT_CACHE); past WORD_LIMIT words the word table is rebuilt. Hits and misses count
text lookups while the text cache is on. A lock makes one encoder safe to share between threads.
Stdlib + numpy only (imported by the serving runtime).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from model.text.tokenizer import Tokenizer

WORD_LIMIT = 500_000  # distinct words kept before the table is rebuilt
TEXT_LIMIT = 200_000  # distinct product texts kept before their cache is dropped
_MAX_BITS = 62  # query positions a bitmask holds; longer query settings use the reference path


class FastEncoder:
    def __init__(self, tokenizer: Tokenizer, text_limit: int = TEXT_LIMIT):
        if text_limit < 0:
            raise ValueError(f"text_limit must be >= 0, got {text_limit}")
        self.text_limit = text_limit
        from model.text.tokenizer import CLS_ID, EXACT_ID, FUZZY_ID, FUZZY_MIN_CHARS, SEP_ID

        self.tok = tokenizer
        self.ids = {"cls": CLS_ID, "sep": SEP_ID, "exact": EXACT_ID, "fuzzy": FUZZY_ID}
        self.fuzzy_min = FUZZY_MIN_CHARS
        self.lock = threading.Lock()
        self.hits = self.misses = 0
        self._reset()

    def _reset(self) -> None:
        k = self.tok.subtokens
        self.index: dict[str, int] = {}
        self.plain = np.zeros((1024, k), dtype=np.int32)  # row 0: padding (no word)
        self.marked = np.zeros((1024, k), dtype=np.int32)  # the marked row, marker slot left 0
        self.size = 1
        self.by_variant: dict[str, list[int]] = {}
        self.texts: OrderedDict[str, npt.NDArray[np.int32]] = OrderedDict()

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}

    def _word(self, word: str) -> int:
        found = self.index.get(word)
        if found is not None:
            return found
        if self.size == len(self.plain):
            self.plain = np.concatenate([self.plain, np.zeros_like(self.plain)])
            self.marked = np.concatenate([self.marked, np.zeros_like(self.marked)])
        i = self.size
        self.plain[i] = self.tok.row(word)
        if self.tok.markers:
            self.marked[i] = self.tok.row(word, self.ids["exact"])
            self.marked[i, 1] = 0
            if len(word) >= self.fuzzy_min:
                for v in self.tok.variants(word):
                    self.by_variant.setdefault(v, []).append(i)
        self.index[word] = i
        self.size += 1
        return i

    def _text(self, text: str) -> npt.NDArray[np.int32]:
        found = self.texts.get(text)
        if found is not None:
            self.hits += 1
            self.texts.move_to_end(text)
            return found
        row = np.zeros(self.tok.max_product_words, dtype=np.int32)
        words = self.tok.words(text, self.tok.max_product_words)
        row[: len(words)] = [self._word(w) for w in words]
        if self.text_limit:
            self.misses += 1
            self.texts[text] = row
            if len(self.texts) > self.text_limit:
                self.texts.popitem(last=False)
        return row

    def encode(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        tok = self.tok
        if tok.max_query_words > _MAX_BITS:
            return tok.encode_reference(query, texts)
        with self.lock:
            if self.size >= WORD_LIMIT:
                self._reset()
            q_words = tok.words(query, tok.max_query_words)
            q_idx = np.array([self._word(w) for w in q_words], dtype=np.int64)
            prod = np.stack([self._text(t) for t in texts]) if len(texts) else np.zeros((0, 1), np.int32)
            prod = prod.reshape(len(texts), tok.max_product_words)
            matches = self._matches(q_words, q_idx) if tok.markers and q_words else None
            return self._assemble(q_idx, prod, matches)

    def _matches(self, q_words: list[str], q_idx: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
        """Sorted word indices that match the query, their marker, and the query positions as bits."""
        exact: dict[int, int] = {}
        for j, i in enumerate(q_idx.tolist()):
            exact[i] = exact.get(i, 0) | 1 << j
        fuzzy: dict[int, int] = {}
        for j, word in enumerate(q_words):
            if len(word) >= self.fuzzy_min:
                for v in self.tok.variants(word):
                    for i in self.by_variant.get(v, ()):
                        fuzzy[i] = fuzzy.get(i, 0) | 1 << j
        keys = sorted(exact.keys() | fuzzy.keys())
        marks = [self.ids["exact"] if i in exact else self.ids["fuzzy"] for i in keys]
        bits = [exact[i] if i in exact else fuzzy[i] for i in keys]
        return np.array(keys, np.int64), np.array(marks, np.int64), np.array(bits, np.int64)

    def _assemble(
        self,
        q_idx: npt.NDArray[np.int64],
        prod: npt.NDArray[np.int32],
        matches: tuple[npt.NDArray[np.int64], ...] | None,
    ) -> npt.NDArray[np.int32]:
        tok, n = self.tok, len(prod)
        out = np.zeros((n, tok.seq_len, tok.subtokens), dtype=np.int32)
        start = 2 + tok.max_query_words
        out[:, 0, 0] = self.ids["cls"]
        out[:, start - 1, 0] = self.ids["sep"]
        if matches is None:
            out[:, start:] = self.plain[prod]
            out[:, 1 : 1 + len(q_idx)] = self.plain[q_idx]
            return out
        keys, marks, bits = matches
        pos = np.minimum(np.searchsorted(keys, prod), len(keys) - 1)
        hit = keys[pos] == prod
        p_mark = np.where(hit, marks[pos], 0)
        p_bits = np.where(hit, bits[pos], 0)
        out[:, start:] = _rows(self.plain[prod], self.marked[prod], p_mark)
        exact_bits = np.bitwise_or.reduce(np.where(p_mark == self.ids["exact"], p_bits, 0), axis=1)
        any_bits = np.bitwise_or.reduce(p_bits, axis=1)
        shifts = np.arange(len(q_idx), dtype=np.int64)
        is_exact = (exact_bits[:, None] >> shifts) & 1
        is_any = (any_bits[:, None] >> shifts) & 1
        q_mark = np.where(is_exact == 1, self.ids["exact"], np.where(is_any == 1, self.ids["fuzzy"], 0))
        plain_q = np.broadcast_to(self.plain[q_idx], (n, *self.plain[q_idx].shape))
        marked_q = np.broadcast_to(self.marked[q_idx], plain_q.shape)
        out[:, 1 : 1 + len(q_idx)] = _rows(plain_q, marked_q, q_mark)
        return out


def _rows(
    plain: npt.NDArray[np.int32], marked: npt.NDArray[np.int32], mark: npt.NDArray[np.int64]
) -> npt.NDArray[np.int32]:
    """Per word slot: the plain row, or where `mark` is set the marked row with the marker in slot 1."""
    marked = marked.copy()
    marked[..., 1] = mark
    return np.where(mark[..., None] > 0, marked, plain)
