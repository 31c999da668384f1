"""The lexical half of the shipped ranker: BM25 over the catalog, added to the model's score.

A cross-encoder trained on a few hundred queries learns which query words a product contains (the
tokenizer's match markers), but not how rare a word is in the catalog: BM25's IDF. On Crowdflower,
cross-validated over all 261 queries (`make bench-crossval`), the model alone ranks below BM25 and
`model + w * BM25` above both. So a bundle may carry `lexical.json`: the catalog's document
frequencies and the weight `w` the evaluation chose on the validation split (0: the model alone).

    {"format": "rankship-lexical", "version": 1, "k1": 1.2, "b": 0.75, "weight": float,
     "documents": int, "average_length": float, "df": {"<word>": int, ...}}

Scoring is Okapi BM25 with Lucene's IDF, ln(1 + (N - df + 0.5) / (df + 0.5)), over the product text
the model reads (`tokenizer.product_text`: the title and the first description words), with statistics
fixed at training time, so a candidate scores the same whoever else is in the request. A word the
catalog lacks (or that `max_terms` left out: the rarest ones) has df 0, the largest IDF, as a rare word
should. rank-bm25 (the baseline's library) scores only the documents it was built on, so the few lines
here are its formula applied to candidates that arrive with the request.

Imported by the serving runtime (numpy<2, no pandas): stdlib + numpy only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = "rankship-lexical"
FORMAT_VERSION = 1
# Lucene/Elasticsearch defaults (as the bm25 baseline).
K1, B = 1.2, 0.75
_WORD = re.compile(r"[^\W_]+")


class LexicalError(ValueError):
    """An unusable lexical.json or setting; the message names the file and the field."""


def words(text: str) -> list[str]:
    """Lowercased runs of letters and digits in any script: "Wi-Fi 6E, 2-Pack" -> wi fi 6e 2 pack."""
    return _WORD.findall(text.lower())


class _CountsCache:
    """Word counts of recently scored product texts, least recently used out first, bounded twice: at most
    `entries` texts and `entries * WORDS_PER_ENTRY` words in all, and texts of more than `MAX_WORDS` words
    (a title may be 8,192 characters) are scored without being kept. So the cache stays within ~1 KB per
    entry (~20 MB at 20,000) whatever the texts. Callers hold `lock` around `counts`."""

    WORDS_PER_ENTRY = 16  # a product text is a title and the first description words
    MAX_WORDS = 64

    def __init__(self, entries: int) -> None:
        self.entries, self.words = entries, 0
        self.texts: OrderedDict[str, tuple[Counter[str], int]] = OrderedDict()
        self.lock = threading.Lock()

    def __reduce__(self) -> tuple[type[_CountsCache], tuple[int]]:
        return _CountsCache, (self.entries,)  # copies and pickles start empty (a lock does not pickle)

    def counts(self, text: str) -> tuple[Counter[str], int]:
        """(count of each word, number of words) of `text`."""
        found = self.texts.get(text) if self.entries else None
        if found is not None:
            self.texts.move_to_end(text)
            return found
        tokens = words(text)
        found = (Counter(tokens), len(tokens))
        if self.entries and len(tokens) <= self.MAX_WORDS:
            self.texts[text] = found
            self.words += len(tokens)
            while len(self.texts) > self.entries or self.words > self.entries * self.WORDS_PER_ENTRY:
                self.words -= self.texts.popitem(last=False)[1][1]
        return found


@dataclass(frozen=True)
class LexicalIndex:
    """Catalog statistics for BM25 and the weight of its score in the shipped ranker."""

    df: Mapping[str, int]
    documents: int
    average_length: float
    weight: float = 0.0
    k1: float = K1
    b: float = B
    # Serving: the word counts of this many recently scored product texts (0: none). Candidates recur
    # across requests in a shop; a hit skips the regex and the count (0.54 -> 0.20 ms p50 per 100 warm
    # candidates of the demo mix; docs/serving.md) and gives exactly the uncached score.
    cache_entries: int = field(default=0, compare=False)
    _idf: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    _cache: _CountsCache = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cache", _CountsCache(self.cache_entries))

    @classmethod
    def fit(cls, texts: Iterable[str], max_terms: int | None = None, weight: float = 0.0) -> LexicalIndex:
        """Document frequencies over `texts` (one per catalog product); the `max_terms` most frequent
        words are kept (ties by word), the rarest dropped: their IDF barely differs from df 0's."""
        df: Counter[str] = Counter()
        lengths = []
        for text in texts:
            tokens = words(text)
            lengths.append(len(tokens))
            df.update(set(tokens))
        if not lengths:
            raise LexicalError("lexical index: no catalog texts to count words in")
        kept = sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))
        if max_terms is not None:
            kept = kept[:max_terms]
        average = sum(lengths) / len(lengths)
        return cls(dict(sorted(kept)), len(lengths), average if average > 0 else 1.0, weight)

    def with_weight(self, weight: float) -> LexicalIndex:
        return dataclasses.replace(self, weight=weight)

    def with_cache(self, entries: int) -> LexicalIndex:
        """The same index, keeping the word counts of the `entries` most recently scored texts."""
        return dataclasses.replace(self, cache_entries=entries)

    def idf(self, word: str) -> float:
        found = self._idf.get(word)
        if found is None:
            n = self.df.get(word, 0)
            found = self._idf[word] = math.log(1.0 + (self.documents - n + 0.5) / (n + 0.5))
        return found

    def scores(self, query: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 of each product text for `query` (each query word counts once per occurrence)."""
        terms = Counter(words(query))
        out = np.zeros(len(texts), dtype=np.float64)
        if not terms:
            return out.astype(np.float32)
        weights = {t: c * self.idf(t) for t, c in terms.items()}
        k1, b, average = self.k1, self.b, self.average_length
        # One lock for the request, misses' regex included: the GIL serialises that work anyway, and the
        # scorer's LiteRT invoke, which dominates, is one at a time too.
        with self._cache.lock:
            for i, text in enumerate(texts):
                counts, length = self._cache.counts(text)
                norm = k1 * (1.0 - b + b * length / average)
                # Words in order of first occurrence, as a Counter of the matching words would give.
                out[i] = sum(
                    weights[t] * f * (k1 + 1.0) / (f + norm) for t, f in counts.items() if t in weights
                )
        return out.astype(np.float32)

    def fuse(
        self, model: npt.NDArray[np.floating], query: str, texts: Sequence[str]
    ) -> npt.NDArray[np.float32]:
        """The shipped score: model + weight * BM25 (the model's own scores when the weight is 0)."""
        model = np.asarray(model, dtype=np.float32)
        if self.weight == 0.0:
            return model
        return (model + np.float32(self.weight) * self.scores(query, texts)).astype(np.float32)

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "k1": self.k1,
            "b": self.b,
            "weight": self.weight,
            "documents": self.documents,
            "average_length": self.average_length,
            "df": dict(self.df),
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "lexical.json") -> LexicalIndex:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise LexicalError(f"{source}: not valid JSON: {e}") from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise LexicalError(f"{source}: not a {FORMAT} file")
        if doc.get("version") != FORMAT_VERSION:
            raise LexicalError(f"{source}: format version {doc.get('version')!r} unsupported (expected 1)")
        for key, low in (("k1", 0.0), ("b", 0.0), ("weight", 0.0), ("average_length", 0.0)):
            value = doc.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise LexicalError(f"{source}: {key} must be a finite number, got {value!r}")
            if value < low or (key == "average_length" and value == 0):
                raise LexicalError(
                    f"{source}: {key} must be {'>' if key == 'average_length' else '>='} 0, got {value}"
                )
        if doc["b"] > 1:
            raise LexicalError(f"{source}: b must be <= 1, got {doc['b']}")
        documents = doc.get("documents")
        if isinstance(documents, bool) or not isinstance(documents, int) or documents < 1:
            raise LexicalError(f"{source}: documents must be an integer >= 1, got {documents!r}")
        df = doc.get("df")
        if not isinstance(df, dict):
            raise LexicalError(f"{source}: df must be an object of word -> document count")
        for word, n in df.items():
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= documents:
                raise LexicalError(f"{source}: df[{word!r}] must be an integer in 1..documents, got {n!r}")
        return cls(
            df,
            documents,
            float(doc["average_length"]),
            float(doc["weight"]),
            float(doc["k1"]),
            float(doc["b"]),
        )
