"""The lexical baselines a learned ranker must beat, the way a team runs Elasticsearch/OpenSearch today.

- `bm25`: Okapi BM25 with Lucene's defaults (k1 1.2, b 0.75) over title + description;
- `bm25_spell`: each query word the training split never saw (queries or product text) is replaced by
  the most frequent known word one edit away (delete, transpose, replace, insert: what a "did you
  mean" term suggester with max_edits 1 does), when there is one;
- `bm25_spell_expand`: plus query expansion mined from the training judgements: a query word w brings
  in the title words t found in at least `expansion_min_share` of the relevant products of the training
  queries containing w, and in `expansion_min_lift` more of them than of those queries' other
  candidates (so words every listing has are not added). Expansion terms get a weight relative to the
  query's own words, chosen on the validation split among `expansion_weights`;
- `bm25_title_coverage`: products ordered first by the share of the query's distinct words their title
  contains, BM25 (title + description) breaking ties: what a shop gets from a title clause boosted by
  the share of query terms it matches (Lucene's old coordination factor). A title that names everything
  the shopper typed is the strongest simple signal on short product titles, and BM25's length
  normalisation alone under-weights it;
- `bm25_catalog`: BM25 over the product text the model reads (the title and the first description
  words, `tokenizer.product_text`) with the statistics of the whole catalog: the lexical half of the
  shipped `model + w * BM25` alone (model/evaluation/fusion.py; every word kept). A shop indexes its whole catalog, and
  a long description's boilerplate dilutes BM25's length normalisation: on Crowdflower (all 261
  queries) this scores 0.8082 against plain `bm25`'s 0.7941, on the synthetic catalog 0.8390 against
  0.8431. Without it a report could credit the model with what the lexical half of the sum does.

Everything is learned from the training split; the validation split picks the expansion weight and
which baseline is the strongest, and the test split only reports them, as for the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.config import BaselineConfig
from model.evaluation.bm25 import bm25_scores, query_terms, tokens
from model.evaluation.fusion import lexical_scores
from model.evaluation.metrics import ranking_metrics
from model.text.features import catalog_texts
from model.text.lexical import LexicalIndex

BASELINES = ("bm25", "bm25_spell", "bm25_spell_expand", "bm25_title_coverage", "bm25_catalog")
# A word is corrected only if it is at least this long: short tokens (sizes, "xl", "4k") are too
# often one edit from a different real word.
MIN_CORRECTED_LENGTH = 4
# Expansions need at least this many training queries with the word: one query's products are anecdote.
MIN_SUPPORT = 2
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | transposes | replaces | inserts


@dataclass(frozen=True)
class Rewriter:
    """Spelling correction and expansions learned from one training split."""

    vocabulary: Counter[str]
    expansions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def correct(self, word: str) -> str:
        if word in self.vocabulary or len(word) < MIN_CORRECTED_LENGTH or not word.isalpha():
            return word
        known = [w for w in _edits1(word) if w in self.vocabulary]
        return max(known, key=lambda w: (self.vocabulary[w], w)) if known else word

    def terms(self, query: str, expansion_weight: float | None) -> dict[str, float]:
        """Weighted terms of the rewritten query: its corrected words (1 each) and, when a weight is
        given, their expansions (weight each, never above a word the query has itself)."""
        out: dict[str, float] = {}
        words = [self.correct(w) for w in tokens(query)]
        for w in words:
            out[w] = out.get(w, 0.0) + 1.0
        if expansion_weight is not None:
            for w in words:
                for term in self.expansions.get(w, {}):
                    if term not in words:
                        out[term] = max(out.get(term, 0.0), expansion_weight)
        return out


def _expansions(
    train: pd.DataFrame, relevant_gain: float, cfg: BaselineConfig
) -> dict[str, dict[str, float]]:
    words = {
        qid: set(tokens(str(q))) for qid, q in train.drop_duplicates("query_id")[["query_id", "query"]].values
    }
    title_words = {
        pid: set(tokens(str(t)))
        for pid, t in train.drop_duplicates("product_id")[["product_id", "title"]].values
    }
    relevant: dict[str, Counter[str]] = {}
    candidates: dict[str, Counter[str]] = {}
    n_rel: Counter[str] = Counter()
    n_all: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for qid, rows in train.groupby("query_id", sort=False):
        for w in words[qid]:
            support[w] += 1
            for pid, gain in zip(rows["product_id"], rows["gain"], strict=True):
                t = title_words[pid]
                candidates.setdefault(w, Counter()).update(t)
                n_all[w] += 1
                if gain >= relevant_gain:
                    relevant.setdefault(w, Counter()).update(t)
                    n_rel[w] += 1
    out: dict[str, dict[str, float]] = {}
    for w, counts in relevant.items():
        if support[w] < MIN_SUPPORT:
            continue
        scored = []
        for term, c in counts.items():
            share, base = c / n_rel[w], candidates[w][term] / n_all[w]
            if term != w and share >= cfg.expansion_min_share and share - base >= cfg.expansion_min_lift:
                scored.append((share - base, term))
        if scored:
            out[w] = {t: lift for lift, t in sorted(scored, reverse=True)[: cfg.expansion_terms]}
    return out


def learn_rewriter(train: pd.DataFrame, relevant_gain: float, cfg: BaselineConfig) -> Rewriter:
    """Vocabulary (training queries and product text) and expansions from the training split only."""
    vocabulary: Counter[str] = Counter()
    for text in train.drop_duplicates("query_id")["query"]:
        vocabulary.update(tokens(str(text)))
    products = train.drop_duplicates("product_id")
    for title, description in zip(products["title"], products["description"], strict=True):
        vocabulary.update(tokens(f"{title} {description}"))
    return Rewriter(vocabulary, _expansions(train, relevant_gain, cfg))


def title_coverage(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Per row, the share of the query's distinct words that the product's title contains (0 to 1),
    and the most distinct words any query of the frame has."""
    out, most = np.zeros(len(frame)), 1
    for i, (query, title) in enumerate(zip(frame["query"], frame["title"], strict=True)):
        words = set(tokens(str(query)))
        most = max(most, len(words))
        out[i] = len(words & set(tokens(str(title)))) / len(words) if words else 0.0
    return out, most


def coverage_then_bm25(frame: pd.DataFrame, bm25: np.ndarray) -> np.ndarray:
    """One score that orders by title coverage and breaks its ties by BM25. Two coverages of a query
    with at most n words differ by at least 1/n, so coverage is scaled by n times BM25's range in the
    frame (plus one): no BM25 difference can outweigh a coverage step."""
    coverage, most = title_coverage(frame)
    spread = float(np.ptp(bm25)) if len(bm25) else 0.0
    return coverage * most * (1.0 + spread) + bm25


def rewritten_terms(
    frame: pd.DataFrame, rewriter: Rewriter, weight: float | None
) -> dict[str, dict[str, float]]:
    queries = frame.drop_duplicates("query_id")[["query_id", "query"]]
    return {str(qid): rewriter.terms(str(q), weight) for qid, q in queries.itertuples(index=False)}


@dataclass(frozen=True)
class LexicalBaselines:
    """Scores of each baseline per split (aligned with the split's rows) and what was learned/chosen."""

    scores: dict[str, dict[str, np.ndarray]]  # baseline -> split -> scores
    expansion_weight: float
    corrections: int  # query words of the scored splits that spelling correction changed
    expanded_words: int  # training words with at least one expansion term


def lexical_baselines(
    splits: Mapping[str, pd.DataFrame],
    relevant_gain: float,
    cfg: BaselineConfig,
    select_on: str = "valid",
) -> LexicalBaselines:
    """Every baseline on every split of `splits` (which must hold "train" and `select_on`); the
    catalog of `bm25_catalog` is every product of every split (product text, never a grade)."""
    rewriter = learn_rewriter(splits["train"], relevant_gain, cfg)
    scored = {name: frame for name, frame in splits.items() if name != "train"}

    def bm25(frame: pd.DataFrame, weight: float | None, spell: bool = True) -> np.ndarray:
        terms = rewritten_terms(frame, rewriter, weight) if spell else query_terms(frame)
        return bm25_scores(frame, cfg.k1, cfg.b, terms=terms)

    select = scored[select_on]
    by_weight = {
        w: ranking_metrics(select, bm25(select, w), 10, relevant_gain)["ndcg@10"]
        for w in cfg.expansion_weights
    }
    weight = max(cfg.expansion_weights, key=lambda w: (by_weight[w], -w))
    corrections = sum(
        rewriter.correct(w) != w
        for frame in scored.values()
        for q in frame.drop_duplicates("query_id")["query"]
        for w in tokens(str(q))
    )
    plain = {s: bm25(f, None, spell=False) for s, f in scored.items()}
    catalog = LexicalIndex.fit(catalog_texts(pd.concat(list(splits.values()))))
    scores = {
        "bm25": plain,
        "bm25_spell": {s: bm25(f, None) for s, f in scored.items()},
        "bm25_spell_expand": {s: bm25(f, weight) for s, f in scored.items()},
        "bm25_title_coverage": {s: coverage_then_bm25(f, plain[s]) for s, f in scored.items()},
        "bm25_catalog": {s: lexical_scores(catalog, f) for s, f in scored.items()},
    }
    return LexicalBaselines(scores, weight, corrections, len(rewriter.expansions))
