"""Distillation: a larger teacher cross-encoder's scores train the shipped-size student.

The teacher (train.distill.teacher, e.g. 4 layers) is trained on the graded pairs first. The student
then learns the teacher's ranking over each training query's labelled candidates *plus* unlabelled
products BM25 retrieves for it from the whole catalog (the pairs a search engine would show: plenty,
and no grader needed), with a listwise KL loss against the teacher's softmax
(`losses.listwise_distill`). Early stopping still reads the graded validation split.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from typing import Any

import numpy as np
import pandas as pd
import tf_keras
from rank_bm25 import BM25Okapi

from model.evaluation.bm25 import K1, B, tokens
from model.ranker.train import predict_listwise
from model.text.features import Listwise, to_listwise


def bm25_top_k(
    queries: list[str], products: pd.DataFrame, k: int, exclude: list[set[str]]
) -> list[list[int]]:
    """Per query, the row positions in `products` of its `k` best BM25 matches (title + description,
    the baseline's own tokens and constants) that are not in its `exclude` ids and score above 0."""
    corpus = [
        tokens(f"{t} {d}")
        for t, d in zip(
            products["title"].astype(str), products["description"].fillna("").astype(str), strict=True
        )
    ]
    bm25 = BM25Okapi(corpus, k1=K1, b=B)
    ids = products["product_id"].astype(str).to_numpy()
    out = []
    for query, skip in zip(queries, exclude, strict=True):
        scores = bm25.get_scores(tokens(query))
        order = np.argsort(-scores, kind="stable")
        picked = [int(i) for i in order[: k + len(skip)] if scores[i] > 0 and ids[i] not in skip][:k]
        out.append(picked)
    return out


def with_retrieved(train: pd.DataFrame, catalog: pd.DataFrame, per_query: int, seed: int) -> pd.DataFrame:
    """`train` plus, for each query, up to `per_query` catalog products BM25 ranks highest among those
    not already judged for it (gain NaN: unlabelled). Products are deduplicated by id."""
    if per_query <= 0:
        return train
    products = catalog.drop_duplicates("product_id").reset_index(drop=True)
    queries = train.drop_duplicates("query_id")[["query_id", "query"]]
    judged = train.groupby("query_id")["product_id"].agg(set).to_dict()
    exclude = [{str(p) for p in judged[q]} for q in queries["query_id"]]
    picks = bm25_top_k(queries["query"].astype(str).tolist(), products, per_query, exclude)
    rows = []
    for (qid, query), idx in zip(queries.itertuples(index=False), picks, strict=True):
        for i in idx:
            p = products.iloc[i]
            rows.append(
                {
                    "query_id": qid,
                    "query": query,
                    "product_id": p["product_id"],
                    "title": p["title"],
                    "description": p["description"],
                    "gain": np.nan,
                }
            )
    extra = pd.DataFrame(rows, columns=train.columns) if rows else train.iloc[:0]
    merged = pd.concat([train, extra], ignore_index=True)
    # Keep each query's rows together (to_listwise groups by first appearance anyway).
    return merged.sort_values("query_id", kind="stable").reset_index(drop=True)


def teacher_targets(teacher: tf_keras.Model, frame: pd.DataFrame, tokenizer: Any) -> Listwise:
    """The listwise batch of `frame` whose `gains` are the teacher's scores (logits), for the KL loss."""
    lw = to_listwise(frame.assign(gain=frame["gain"].fillna(0.0)), tokenizer)
    scores = predict_listwise(teacher, lw).astype(np.float32)
    return Listwise(
        lw.tokens, np.where(lw.mask, scores, 0.0).astype(np.float32), lw.mask, lw.rows, lw.query_ids
    )
