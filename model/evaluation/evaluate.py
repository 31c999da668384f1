"""Encoding and scoring helpers of the evaluate step (model/evaluation/step.py).

Quality is measured with the same tokenizer and the same runtime the variant will be served with
(LiteRT for `.tflite`, TensorFlow for the fp32 SavedModel reference), so the numbers in the report are the
numbers production should see.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from tqdm import tqdm

from model.evaluation.record import QUALITY_KEYS
from model.text.lexical import LexicalIndex
from model.text.tokenizer import Tokenizer, product_text

__all__ = ["QUALITY_KEYS", "EncodedSplit", "encode_split", "golden_requests", "latency_tokens", "score_split"]
Tokens = npt.NDArray[np.int32]
ScoreFn = Callable[[Tokens], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class EncodedSplit:
    """A split tokenized once, query by query, in the frame's row order."""

    frame: pd.DataFrame
    groups: list[npt.NDArray[np.int64]]  # row positions of each query
    tokens: list[Tokens]


def encode_split(frame: pd.DataFrame, tokenizer: Tokenizer) -> EncodedSplit:
    frame = frame.reset_index(drop=True)
    groups, tokens = [], []
    for _, rows in frame.groupby("query_id", sort=False).indices.items():
        part = frame.iloc[rows]
        texts = [product_text(t, d) for t, d in zip(part["title"], part["description"], strict=True)]
        groups.append(np.asarray(rows))
        tokens.append(tokenizer.encode(str(part["query"].iloc[0]), texts))
    return EncodedSplit(frame=frame, groups=groups, tokens=tokens)


def score_split(
    split: EncodedSplit, score: ScoreFn, desc: str = "scoring", progress: bool = True
) -> npt.NDArray[np.float64]:
    """Scores aligned with split.frame's rows."""
    out = np.zeros(len(split.frame), dtype=np.float64)
    pairs = list(zip(split.groups, split.tokens, strict=True))
    for rows, tokens in tqdm(pairs, desc=desc, leave=False, disable=None if progress else True):
        out[rows] = np.asarray(score(tokens), dtype=np.float64).reshape(-1)
    return out


def latency_tokens(split: EncodedSplit, candidates: int, seed: int) -> Tokens:
    """One query's worth of input with exactly `candidates` rows, drawn reproducibly from the split."""
    everything = np.concatenate(split.tokens, axis=0)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(everything), size=candidates, replace=len(everything) < candidates)
    return np.ascontiguousarray(everything[rows])


def size_on_disk(path: Path) -> dict[str, float]:
    """Raw bytes and gzip -9 bytes (a directory is measured as a gzipped tar of its files)."""
    path = Path(path)
    if path.is_file():
        raw = path.read_bytes()
        return {"size_bytes": float(len(raw)), "size_gzip_bytes": float(len(gzip.compress(raw, 9)))}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            tar.add(file, arcname=file.relative_to(path).as_posix())
    raw_size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {"size_bytes": float(raw_size), "size_gzip_bytes": float(buffer.tell())}


def golden_requests(
    test: EncodedSplit,
    tokenizer: Tokenizer,
    score: ScoreFn,
    count: int,
    max_candidates: int = 20,
    lexical: LexicalIndex | None = None,
) -> list[dict[str, object]]:
    """A few queries with the scores the shipped ranker gave offline; serving replays them.

    With `lexical` the scores are the shipped sum, model + weight * BM25 (model/text/lexical.py).

    The request is encoded here exactly as a client would send it (id, title, description), so a
    mismatch at serving time points at the serving path, not at the data.
    """
    requests: list[dict[str, object]] = []
    for rows in test.groups[:count]:
        part = test.frame.iloc[rows[:max_candidates]]
        candidates = [
            {"id": str(pid), "title": str(title), "description": str(desc)}
            for pid, title, desc in zip(part["product_id"], part["title"], part["description"], strict=True)
        ]
        query = str(part["query"].iloc[0])
        texts = [product_text(c["title"], c["description"]) for c in candidates]
        scores = np.asarray(score(tokenizer.encode(query, texts)), dtype=np.float64).reshape(-1)
        if lexical is not None:
            scores = lexical.fuse(scores, query, texts).astype(np.float64)
        requests.append(
            {
                "request": {"query": query, "candidates": candidates},
                "scores": {c["id"]: float(s) for c, s in zip(candidates, scores, strict=True)},
            }
        )
    return requests
