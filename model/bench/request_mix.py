"""Serving request mixes drawn from a ranking data set, for `make bench-serve` (model/serving/bench.py).

    python -m model.bench.request_mix --out mix.json [--data artifacts/work/data] [--requests 300]

A search engine sends the ranker one query and the retriever's candidates; products recur across queries
(head queries repeat, related queries retrieve the same products), which is what the serving product
cache exploits. So each request is: a query of the data set, drawn with replacement by a Zipf(1)
popularity over the queries, its judged candidates, then the catalog's BM25 top products for that query
(the retriever) until `candidates`, in shuffled order. Not 100 copies of one request: the tokenizer, the
cache and the model see a catalog's variety.

Reads the pipeline's splits (`<out>/work/data/*.parquet`) when given, else generates the default
preset's synthetic data set (what `make demo` trains on). Runs in the main virtualenv (pandas); the
serving benchmark reads the JSON in the serving virtualenv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rank_bm25 import BM25Okapi

from model.evaluation.bm25 import K1, B, tokens

SIZES = (100, 1000)
SPLITS = ("train", "valid", "test")


def load_frame(data: Path | None) -> tuple[pd.DataFrame, str]:
    if data is not None and all((data / f"{s}.parquet").is_file() for s in SPLITS):
        return pd.concat([pd.read_parquet(data / f"{s}.parquet") for s in SPLITS]), str(data)
    from model.config import load_config
    from model.data import load

    return load(load_config(preset="default").data), "synthetic data set of the default preset"


def _product(row: Any) -> dict[str, str]:
    out = {"id": str(row.product_id), "title": str(row.title)}
    if isinstance(row.description, str) and row.description:
        out["description"] = row.description
    return out


class Retriever:
    """BM25 (rank-bm25, as the evaluation's baseline) over the catalog's distinct products."""

    def __init__(self, frame: pd.DataFrame):
        products = frame.drop_duplicates("product_id")
        self.catalog = [_product(r) for r in products.itertuples()]
        corpus = [tokens(f"{p['title']} {p.get('description', '')}") for p in self.catalog]
        self._bm25 = BM25Okapi(corpus, k1=K1, b=B)

    def top(self, query: str, n: int) -> list[dict[str, str]]:
        scores = self._bm25.get_scores(tokens(query))
        return [self.catalog[i] for i in np.argsort(-scores, kind="stable")[:n]]


def make_mix(frame: pd.DataFrame, candidates: int, requests: int, seed: int) -> dict[str, Any]:
    """`requests` jsonData payloads of `candidates` products each (see the module docstring), stored once
    per distinct query: {"unique": [payload, ...], "order": [index into unique, ...]}."""
    rng = np.random.default_rng(seed)
    retriever = Retriever(frame)
    if len(retriever.catalog) < candidates:
        raise SystemExit(f"the catalog has {len(retriever.catalog)} products, fewer than {candidates}")
    by_query = dict(list(frame.groupby("query_id", sort=True)))
    queries = list(by_query)
    rng.shuffle(queries)
    popularity = 1.0 / np.arange(1, len(queries) + 1)
    drawn = rng.choice(len(queries), size=requests, p=popularity / popularity.sum())
    made: dict[int, int] = {}
    unique: list[dict[str, Any]] = []
    for qi in drawn:
        if qi not in made:
            group = by_query[queries[qi]]
            query = str(group["query"].iloc[0])
            cands = [_product(r) for r in group.itertuples()][:candidates]
            seen = {c["id"] for c in cands}
            cands += [p for p in retriever.top(query, 2 * candidates) if p["id"] not in seen]
            cands = cands[:candidates]
            rng.shuffle(cands)  # retrieval order says nothing about relevance here
            made[qi] = len(unique)
            unique.append({"query": query, "candidates": cands})
    return {"unique": unique, "order": [made[qi] for qi in drawn]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--data", type=Path, help="a pipeline's work/data directory (parquet splits)")
    parser.add_argument(
        "--requests", type=int, default=3000, help="requests of 100 candidates (1/10 as many of 1000)"
    )
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    frame, source = load_frame(args.data)
    # Fewer large requests: 1,000 candidates take ~10x as long and the JSON ~10x as much memory.
    counts = {100: args.requests, 1000: max(20, args.requests // 10)}
    mixes = {str(n): make_mix(frame, n, counts[n], args.seed) for n in SIZES}
    doc = {
        "source": source,
        "products": int(frame["product_id"].nunique()),
        "queries": int(frame["query_id"].nunique()),
        "requests": mixes,
    }
    args.out.write_text(json.dumps(doc, ensure_ascii=False))
    print(f"request mix: {source}, {doc['products']} products, {doc['queries']} queries -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
