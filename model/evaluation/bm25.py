"""The BM25 baseline every model is compared with (Okapi BM25 from the `rank-bm25` package).

The corpus is the set of unique products of the frame given (title + description): a ranking frame is
the only collection we have, and across all of a split's queries its products approximate the shop's
catalog far better than one query's 30-100 candidates would (IDF from 30 documents is mostly noise).
Scores therefore depend on the frame: score a split with the split itself, as the evaluation does.

rank-bm25 computes the corpus statistics (document frequencies, IDF with its epsilon floor for terms in
more than half of the documents, average length); the per-candidate sum is done here with numpy because
`BM25Okapi.get_batch_scores` rebuilds a corpus-sized array on every call (slow for 2,000 queries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from rank_bm25 import BM25Okapi

# Lucene/Elasticsearch defaults; rank-bm25's own default k1 is 1.5.
K1 = 1.2
B = 0.75
_WORD = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """Lowercased runs of letters and digits in any script: "Wi-Fi 6E, 2-Pack" -> wi fi 6e 2 pack."""
    return _WORD.findall(text.lower())


QueryTerms = Mapping[str, Mapping[str, float]]  # query_id -> term -> weight


def query_terms(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each query's own words with weight 1 (a repeated word counts twice, as in Lucene)."""
    out: dict[str, dict[str, float]] = {}
    for qid, query in frame.drop_duplicates("query_id")[["query_id", "query"]].itertuples(index=False):
        terms: dict[str, float] = {}
        for term in tokens(str(query)):
            terms[term] = terms.get(term, 0.0) + 1.0
        out[str(qid)] = terms
    return out


def bm25_scores(
    frame: pd.DataFrame,
    k1: float = K1,
    b: float = B,
    fields: Sequence[str] = ("title", "description"),
    terms: QueryTerms | None = None,
) -> np.ndarray:
    """One BM25 score per row of `frame` (schema.COLUMNS), aligned with its rows.

    `terms` replaces each query's words by weighted terms (query_id -> term -> weight; a rewritten or
    expanded query, model/evaluation/baselines.py); by default the query's own words, weight 1.
    """
    terms = query_terms(frame) if terms is None else terms
    products = frame.drop_duplicates("product_id")
    columns = [products[f].astype(str).tolist() for f in fields]
    corpus = [tokens(" ".join(parts)) for parts in zip(*columns, strict=True)]
    if not any(corpus):
        return np.zeros(len(frame))
    # rank-bm25 divides by the average length; an all-empty corpus is handled above.
    bm25 = BM25Okapi(corpus, k1=k1, b=b)
    doc_of = pd.Index(products["product_id"]).get_indexer(frame["product_id"])
    doc_len = np.asarray(bm25.doc_len, dtype=float)
    length_norm = k1 * (1.0 - b + b * doc_len / bm25.avgdl)
    scores = np.zeros(len(frame))
    qids = frame["query_id"].astype(str).to_numpy()
    for rows in frame.groupby("query_id", sort=False).indices.values():
        docs = doc_of[rows]
        for term, weight in terms.get(qids[rows[0]], {}).items():
            idf = bm25.idf.get(term)
            if idf is None:
                continue
            tf = np.fromiter((bm25.doc_freqs[d].get(term, 0) for d in docs), dtype=float, count=len(docs))
            scores[rows] += weight * idf * tf * (k1 + 1.0) / (tf + length_norm[docs])
    return scores
