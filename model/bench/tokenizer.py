"""`python -m model.bench.tokenizer`: tokenizer cost per request and id-space saturation, printed.

Requests are the data's own queries, each with `--candidates` product texts: its judged candidates
first, then products drawn from the catalog by popularity (Zipf), so candidates recur across queries as
they do in e-commerce. Timed: the reference loop (`encode_reference`, the path serving used before) and
the vectorised `encode`, cold (first pass: empty caches) and warm (a second pass), with the product-text
cache's hit rate; and `model.text.saturation` for each tokenizer kind. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import DataConfig, SyntheticConfig, TokenizerConfig, load_config
from model.data import load
from model.text.features import catalog_texts, fit_texts, query_lists
from model.text.saturation import saturation
from model.text.tokenizer import Tokenizer
from model.text.vocabulary import fit_tokenizer

ROOT = Path(__file__).resolve().parents[2]


def _frame(name: str) -> pd.DataFrame:
    if name == "synthetic":
        return load(DataConfig(synthetic=SyntheticConfig()))
    return load(load_config(ROOT / "model" / "configs" / "crowdflower.yaml").data)


def requests(frame: pd.DataFrame, candidates: int, count: int, seed: int) -> list[tuple[str, list[str]]]:
    rng = np.random.default_rng(seed)
    catalog = catalog_texts(frame)
    popularity = 1.0 / np.arange(1, len(catalog) + 1)
    popularity /= popularity.sum()
    out = []
    for query, texts in query_lists(frame)[:count]:
        extra = rng.choice(len(catalog), size=max(candidates - len(texts), 0), p=popularity)
        out.append((query, (texts + [catalog[i] for i in extra])[:candidates]))
    return out


def _time(fn, reqs: list[tuple[str, list[str]]]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    ms = []
    for query, texts in reqs:
        start = time.perf_counter()
        fn(query, texts)
        ms.append((time.perf_counter() - start) * 1e3)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench(name: str, candidates: int, count: int) -> list[str]:
    frame = _frame(name)
    reqs = requests(frame, candidates, count, seed=7)
    lines = [f"== tokenizer on {name}: {len(reqs)} requests x {candidates} candidates =="]
    texts = fit_texts(frame)
    for kind in ("hashed", "wordpiece", "hybrid"):
        fitted = fit_tokenizer(TokenizerConfig(kind=kind), texts)
        reference, fast = Tokenizer.from_json(fitted.to_json()), Tokenizer.from_json(fitted.to_json())
        ref = _time(reference.encode_reference, reqs)
        ref_warm = _time(reference.encode_reference, reqs)
        cold = _time(fast.encode, reqs)
        after_cold = fast.cache_stats()
        warm = _time(fast.encode, reqs)
        stats = fast.cache_stats()
        hits = (stats["hits"] - after_cold["hits"]) / max(
            stats["hits"] + stats["misses"] - sum(after_cold.values()), 1
        )
        first = after_cold["hits"] / max(sum(after_cold.values()), 1)
        lines.append(
            f"{kind:9} reference p50/p99 {ref[0]:.2f}/{ref[1]:.2f} ms (second pass {ref_warm[0]:.2f}/{ref_warm[1]:.2f});"
            f" vectorised cold {cold[0]:.2f}/{cold[1]:.2f} ms (text cache hits {first:.0%}),"
            f" warm {warm[0]:.3f}/{warm[1]:.3f} ms (hits {hits:.0%})"
        )
        figures = saturation(fitted, texts + list(frame["query"].astype(str).unique()))
        lines.append("          saturation " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.bench.tokenizer", description=__doc__)
    p.add_argument("--data", choices=("synthetic", "crowdflower"), action="append")
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args(argv)
    for name in args.data or ["synthetic", "crowdflower"]:
        print("\n".join(bench(name, args.candidates, args.requests)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
