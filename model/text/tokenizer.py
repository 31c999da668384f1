"""Word tokenizer shared by training and serving: hashed n-grams or WordPiece pieces per word slot.

`kind: hashed` has no vocabulary to ship or to drift: a word's ids are stable hashes (CRC-32, never
Python's salted `hash()`) of the word and of its character n-grams, fastText style. A misspelled word
keeps most of its n-grams, so it lands near the correct spelling instead of on an unknown-word id.
Hashing collides once the text has more distinct words and n-grams than buckets
(model/text/saturation.py measures it). `kind: wordpiece` gives each word its WordPiece pieces from a
vocabulary trained on the catalog (model/text/vocabulary.py): no collisions, and an unseen word is
still spelled out in known pieces; the vocabulary travels inside tokenizer.json. `kind: hybrid` gives
a word its first pieces (at most half its slots), then hashed n-grams in the rest, hashed into ids
after the vocabulary's: a collision-free identity plus the n-grams' robustness to misspellings.

Encoding of one (query, product text) pair into fixed slots, `Q = max_query_words`,
`seq_len = 2 + Q + max_product_words`:

    position:  0      1 .. Q                    Q + 1    Q + 2 .. seq_len - 1
    content:   [CLS]  query words, 0-padded     [SEP]    product words, 0-padded

Fixed slots make position and segment a function of the position alone, so the ranker folds both into
one constant instead of computing them per request.

Each position carries `subtokens_per_word` ids: the word's own hash (or first piece), then (with
`match_markers`) a marker when the word also occurs on the other side of [SEP], then n-gram hashes (or
the remaining pieces), 0-padded. [CLS] and
[SEP] sit in sub-token slot 0. Ids 0..4 are reserved (padding, [CLS], [SEP], [EXACT], [FUZZY]); hashes
map into 5..buckets-1.

Match markers give the cross-encoder the signal BM25 is built on (which query words a product contains)
without having to learn word identity from a few thousand queries: [EXACT] for the same word, [FUZZY]
for words one edit apart (insert, delete, substitute, swap; both at least FUZZY_MIN_CHARS long), found
through deletion neighbourhoods (SymSpell) so it costs a few set look-ups per word.

`encode` is the vectorised, cached path (model/text/fastpath.py); `encode_reference` the plain loop it
must equal id for id (tests/model/text/test_fastpath.py). This module is imported by the serving
runtime, whose virtualenv has numpy<2 and neither TensorFlow nor pydantic: keep it stdlib + numpy only.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from model.text.wordpiece import check_vocab, encode_word

FORMAT = "rankship-hash-tokenizer"
# Version 2 added `kind` and `vocab` (wordpiece); hashed tokenizers are still written as version 1.
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
KINDS = ("hashed", "wordpiece", "hybrid")
PAD_ID, CLS_ID, SEP_ID, EXACT_ID, FUZZY_ID = 0, 1, 2, 3, 4
RESERVED_IDS = 5
FUZZY_MIN_CHARS = 4
# Description words appended to the title to form the product text (the title carries most signal and
# the sequence is short; a few description words help products with terse titles).
DESCRIPTION_WORDS = 8
# A "word" longer than this is cut: bounds the n-gram work for pathological input (URLs, base64, ...).
MAX_WORD_CHARS = 32
_WORD = re.compile(r"[^\W_]+")
_CACHE_LIMIT = 500_000

# name -> (type, minimum); all required, no others allowed.
_SETTINGS: dict[str, tuple[type, int]] = {
    "buckets": (int, 64),
    "ngram_min": (int, 1),
    "ngram_max": (int, 1),
    "subtokens_per_word": (int, 1),
    "max_query_words": (int, 1),
    "max_product_words": (int, 1),
    "lowercase": (bool, 0),
    "match_markers": (bool, 0),
}
# Optional keys (absent in version 1 files) and their defaults.
_OPTIONAL: dict[str, Any] = {"kind": "hashed"}


class TokenizerError(ValueError):
    """Unusable tokenizer settings or file; the message names the key or file."""


def product_text(title: str, description: str | None = None) -> str:
    """The product text the ranker reads: the title, then the first few description words."""
    title = title if isinstance(title, str) else ""
    if not isinstance(description, str) or not description:  # None, "", or NaN from a data frame
        return title
    extra = description.split(maxsplit=DESCRIPTION_WORDS)[:DESCRIPTION_WORDS]
    return f"{title} {' '.join(extra)}" if extra else title


def _check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(settings, Mapping):
        raise TokenizerError(f"tokenizer settings must be a mapping, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(_SETTINGS) - set(_OPTIONAL))
    if unknown:
        raise TokenizerError(f"tokenizer settings: unknown key {unknown[0]!r}")
    kind = settings.get("kind", _OPTIONAL["kind"])
    if kind not in KINDS:
        raise TokenizerError(f"tokenizer settings: kind must be one of {list(KINDS)}, got {kind!r}")
    # A hashed tokenizer's file stays exactly version 1 (bundle ids of existing bundles do not move).
    out: dict[str, Any] = {} if kind == "hashed" else {"kind": kind}
    for key, (expected, minimum) in _SETTINGS.items():
        if key not in settings:
            raise TokenizerError(f"tokenizer settings: missing key {key!r}")
        value: Any = settings[key]
        # bool is an int subclass: reject True for an int field and 1 for a bool field.
        if type(value) is not expected:
            raise TokenizerError(f"tokenizer settings: {key} must be {expected.__name__}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and value < minimum:
            raise TokenizerError(f"tokenizer settings: {key} must be >= {minimum}, got {value}")
        out[key] = value
    if out["ngram_max"] < out["ngram_min"]:
        raise TokenizerError("tokenizer settings: ngram_max must be >= ngram_min")
    return out


def _check_inputs(query: object, texts: Sequence[object]) -> None:
    if not isinstance(query, str):
        raise TokenizerError(f"query must be a string, got {type(query).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TokenizerError(f"product text {i} must be a string, got {type(text).__name__}")


def _hash(salt: str, text: str) -> int:
    return zlib.crc32(f"{salt}\x00{text}".encode())


@dataclass(frozen=True)
class ProductTokens:
    """One product text's words and their unmarked ids [words, subtokens_per_word] (read-only): all of its
    encoding that does not depend on the query. Match markers are added per query by `encode_prepared`."""

    words: tuple[str, ...]
    rows: npt.NDArray[np.int32]


class Tokenizer:
    """Turns a query and candidate product texts into int32 token arrays [N, seq_len, subtokens].

    `buckets` is the size of the id space (the embedding rows): the hash range, or the vocabulary size.
    """

    def __init__(self, settings: Mapping[str, Any], vocab: Sequence[str] | None = None):
        self.settings = _check_settings(settings)
        s = self.settings
        self.kind: str = s.get("kind", "hashed")
        self.vocab: list[str] | None = None
        self._index: dict[str, int] = {}
        if self.kind != "hashed":
            try:
                self.vocab = check_vocab(vocab if vocab is None else list(vocab), "tokenizer")
            except ValueError as e:
                raise TokenizerError(f"{e} (a wordpiece tokenizer is built by model.text.vocabulary)") from e
            if self.kind == "wordpiece" and s["buckets"] != len(self.vocab):
                raise TokenizerError(
                    f"tokenizer settings: buckets ({s['buckets']}) must equal the vocab size ({len(self.vocab)})"
                )
            if self.kind == "hybrid" and s["buckets"] < len(self.vocab) + 64:
                raise TokenizerError(
                    f"tokenizer settings: buckets ({s['buckets']}) must exceed the vocab size ({len(self.vocab)}) by >= 64"
                )
            self._index = {piece: i for i, piece in enumerate(self.vocab)}
        elif vocab is not None:
            raise TokenizerError("tokenizer: a hashed tokenizer takes no vocab")
        self.buckets: int = s["buckets"]
        self.subtokens: int = s["subtokens_per_word"]
        self.max_query_words: int = s["max_query_words"]
        self.max_product_words: int = s["max_product_words"]
        self.seq_len: int = 2 + self.max_query_words + self.max_product_words
        self.markers: bool = s["match_markers"] and self.subtokens >= 2
        self._cache: dict[str, tuple[int, ...]] = {}
        self._variants: dict[str, frozenset[str]] = {}
        self._rows: dict[tuple[str, int], tuple[int, ...]] = {}
        self._fast: Any = None

    @classmethod
    def from_config(cls, config: Any, vocab: Sequence[str] | None = None) -> Tokenizer:
        """From a `model.config.TokenizerConfig` (anything with pydantic's `model_dump`); a wordpiece
        config needs the trained `vocab` (model.text.vocabulary.fit_tokenizer trains one)."""
        settings = {k: v for k, v in config.model_dump().items() if k in _SETTINGS or k in _OPTIONAL}
        if vocab is not None:
            # wordpiece: the vocabulary is the id space; hybrid: n-gram buckets follow it.
            settings["buckets"] = len(vocab) + (
                settings["buckets"] if settings.get("kind") == "hybrid" else 0
            )
        return cls(settings, vocab)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> str:
        doc: dict[str, Any] = {"format": FORMAT, "version": 1, "settings": self.settings}
        if self.vocab is not None:
            doc.update(version=FORMAT_VERSION, vocab=self.vocab)
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "tokenizer.json") -> Tokenizer:
        """Parse `to_json` output; `source` names the file in errors."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise TokenizerError(f"{source}: not valid JSON: {e}") from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TokenizerError(f"{source}: not a {FORMAT} file")
        if doc.get("version") not in _READABLE_VERSIONS:
            raise TokenizerError(
                f"{source}: format version {doc.get('version')!r} unsupported (expected {FORMAT_VERSION})"
            )
        try:
            return cls(doc.get("settings"), doc.get("vocab"))  # type: ignore[arg-type]
        except TokenizerError as e:
            raise TokenizerError(f"{source}: {e}") from e

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Tokenizer:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise TokenizerError(f"{path}: cannot read tokenizer: {e}") from e
        return cls.from_json(text, source=str(path))

    # -- encoding ----------------------------------------------------------------------------------
    def words(self, text: str, limit: int) -> list[str]:
        """NFKC-normalised (and lowercased) words of `text`, at most `limit` of them."""
        # Normalise only a generous prefix: a megabyte of text costs no more than a sentence.
        text = unicodedata.normalize("NFKC", (text or "")[: limit * (MAX_WORD_CHARS + 8)])
        if self.settings["lowercase"]:
            text = text.lower()
        out = []
        for match in _WORD.finditer(text):
            out.append(match.group()[:MAX_WORD_CHARS])
            if len(out) == limit:
                break
        return out

    def word_ids(self, word: str) -> tuple[int, ...]:
        """The word's hash, then up to `subtokens_per_word - 1` n-gram hashes.

        N-grams are picked in a fixed order: the shortest and longest prefix and suffix first (a typo
        inside a word keeps all four), then the rest by smallest hash value (bottom-k/MinHash: two
        spellings keep a shared n-gram with a probability that grows with their overlap).
        """
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if self.kind == "wordpiece":
            ids = tuple(encode_word(word, self._index)[: self.subtokens])
        elif self.kind == "hybrid":
            pieces = encode_word(word, self._index)[: max(1, self.subtokens // 2)]
            first = len(self._index)  # n-gram ids follow the vocabulary's
            span = self.buckets - first
            grams = (first + _hash("g", g) % span for g in self.grams(word))
            ids = (*pieces, *grams)[: self.subtokens]
        else:
            ids = self._hashed_ids(word)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def grams(self, word: str) -> list[str]:
        """The character n-grams a hashed word row keeps, in slot order (see `word_ids`)."""
        marked = f"<{word}>"
        sizes = range(self.settings["ngram_min"], self.settings["ngram_max"] + 1)
        grams = {marked[i : i + n] for n in sizes for i in range(len(marked) - n + 1)}
        grams.discard(marked)  # the whole word is already the first sub-token
        ends = [g for n in (sizes[0], sizes[-1]) for g in (marked[:n], marked[-n:]) if g in grams]
        picked = list(dict.fromkeys(ends))
        picked += sorted(grams - set(picked), key=lambda g: _hash("g", g))
        return picked[: self.subtokens - 1]

    def _hashed_ids(self, word: str) -> tuple[int, ...]:
        span = self.buckets - RESERVED_IDS
        grams = self.grams(word)
        return (RESERVED_IDS + _hash("w", word) % span, *(RESERVED_IDS + _hash("g", g) % span for g in grams))

    def variants(self, word: str) -> frozenset[str]:
        """The word and its one-deletion variants: two words are one edit apart iff these intersect."""
        found = self._variants.get(word)
        if found is None:
            found = frozenset({word, *(word[:i] + word[i + 1 :] for i in range(len(word)))})
            if len(self._variants) >= _CACHE_LIMIT:
                self._variants.clear()
            self._variants[word] = found
        return found

    def row(self, word: str, mark: int = 0) -> tuple[int, ...]:
        """The `subtokens_per_word` ids of one word position: word hash, [mark], n-grams, 0-padding."""
        key = (word, mark)
        found = self._rows.get(key)
        if found is None:
            ids = self.word_ids(word)
            if mark:
                ids = (ids[0], mark, *ids[1 : self.subtokens - 1])
            found = ids + (PAD_ID,) * (self.subtokens - len(ids))
            if len(self._rows) >= _CACHE_LIMIT:
                self._rows.clear()
            self._rows[key] = found
        return found

    def _matcher(self, query: list[str]) -> Callable[[str], tuple[int, tuple[int, ...]]]:
        """word -> (its mark, the query positions it matches), memoised for one query."""
        exact: dict[str, list[int]] = {}
        by_variant: dict[str, list[int]] = {}
        for j, word in enumerate(query):
            exact.setdefault(word, []).append(j)
            if len(word) >= FUZZY_MIN_CHARS:
                for v in self.variants(word):
                    by_variant.setdefault(v, []).append(j)
        memo: dict[str, tuple[int, tuple[int, ...]]] = {}

        def match(word: str) -> tuple[int, tuple[int, ...]]:
            found = memo.get(word)
            if found is None:
                if not self.markers:
                    found = (0, ())
                elif word in exact:
                    found = (EXACT_ID, tuple(exact[word]))
                elif len(word) >= FUZZY_MIN_CHARS:
                    hits = tuple(sorted({j for v in self.variants(word) for j in by_variant.get(v, ())}))
                    found = (FUZZY_ID if hits else 0, hits)
                else:
                    found = (0, ())
                memo[word] = found
            return found

        return match

    def prepare(self, text: str) -> ProductTokens:
        """The query-independent part of one product text's encoding (what serving caches per product)."""
        if not isinstance(text, str):
            raise TokenizerError(f"product text must be a string, got {type(text).__name__}")
        words = tuple(self.words(text, self.max_product_words))
        rows = np.array([self.row(w) for w in words], dtype=np.int32).reshape(len(words), self.subtokens)
        rows.flags.writeable = False  # shared between requests (and threads) by a cache
        return ProductTokens(words, rows)

    def encode(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        """Tokens for one query against N product texts: int32 [N, seq_len, subtokens_per_word].

        Vectorised over the candidates, with product texts cached (they recur across queries)."""
        _check_inputs(query, texts)
        if self._fast is None:
            from model.text.fastpath import FastEncoder

            self._fast = FastEncoder(self)
        return self._fast.encode(query, texts)

    def cache_stats(self) -> dict[str, int]:
        """Product-text cache hits and misses of `encode` since the tokenizer was made."""
        return {"hits": 0, "misses": 0} if self._fast is None else self._fast.stats()

    def encode_reference(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.int32]:
        """The plain per-candidate loop that defines the ids; `encode` must give exactly these."""
        _check_inputs(query, texts)
        return self.encode_prepared(query, [self.prepare(text) for text in texts])

    def encode_prepared(self, query: str, products: Sequence[ProductTokens]) -> npt.NDArray[np.int32]:
        """`encode_reference(query, texts)` from `prepare(text)` of each text: the same array, byte for byte."""
        if not isinstance(query, str):
            raise TokenizerError(f"query must be a string, got {type(query).__name__}")
        out = np.zeros((len(products), self.seq_len, self.subtokens), dtype=np.int32)
        q = self.words(query, self.max_query_words)
        start = 2 + self.max_query_words
        out[:, 0, 0] = CLS_ID
        out[:, start - 1, 0] = SEP_ID
        if q:
            out[:, 1 : 1 + len(q)] = [self.row(w) for w in q]  # unmarked; marked words patched below
        match = self._matcher(q)
        for i, product in enumerate(products):
            out[i, start : start + len(product.words)] = product.rows
            q_marks = [0] * len(q)
            for k, word in enumerate(product.words):
                mark, hits = match(word)
                if not mark:
                    continue
                out[i, start + k] = self.row(word, mark)
                for j in hits:
                    # [EXACT] wins over [FUZZY] when several product words match the same query word.
                    q_marks[j] = EXACT_ID if mark == EXACT_ID else (q_marks[j] or mark)
            for j, m in enumerate(q_marks):
                if m:
                    out[i, 1 + j] = self.row(q[j], m)
        return out
