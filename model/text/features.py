"""Ranking frames -> padded listwise arrays, one row per query with all its candidates.

Training uses a listwise loss, so a batch is a set of whole queries: tokens [Q, C, L, K] with a
candidate mask [Q, C] (C = the longest candidate list; shorter lists are padded and masked out).
`rows` remembers where every candidate came from, so scores can be put back into frame order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from model.data.schema import COLUMNS
from model.text.tokenizer import Tokenizer, product_text


@dataclass(frozen=True)
class Listwise:
    tokens: npt.NDArray[np.int32]  # [Q, C, L, K]
    gains: npt.NDArray[np.float32]  # [Q, C]; 0 where masked
    mask: npt.NDArray[np.bool_]  # [Q, C]; True for real candidates
    rows: npt.NDArray[np.int64]  # [Q, C]; positional row in the source frame, -1 where masked
    query_ids: tuple[str, ...]

    @property
    def queries(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def candidates(self) -> int:
        """Real (unmasked) candidates in total."""
        return int(self.mask.sum())


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"ranking frame is missing column(s) {missing}")
    if frame.empty:
        raise ValueError("ranking frame has no rows")


def to_listwise(frame: pd.DataFrame, tokenizer: Tokenizer) -> Listwise:
    """Group `frame` (schema.COLUMNS) by query_id, in first-appearance order, and tokenize."""
    _check_frame(frame)
    query_ids = frame["query_id"].astype(str).to_numpy()
    positions = pd.Series(np.arange(len(frame))).groupby(query_ids, sort=False).indices
    groups = [(qid, positions[qid]) for qid in dict.fromkeys(query_ids)]
    width = max(len(idx) for _, idx in groups)
    shape = (len(groups), width)
    tokens = np.zeros((*shape, tokenizer.seq_len, tokenizer.subtokens), dtype=np.int32)
    gains = np.zeros(shape, dtype=np.float32)
    mask = np.zeros(shape, dtype=bool)
    rows = np.full(shape, -1, dtype=np.int64)
    queries = frame["query"].astype(str).to_numpy()
    titles = frame["title"].astype(str).to_numpy()
    descriptions = frame["description"].fillna("").astype(str).to_numpy()
    gain = frame["gain"].to_numpy(dtype=np.float32)
    for q, (_, idx) in enumerate(groups):
        texts = [product_text(titles[i], descriptions[i]) for i in idx]
        tokens[q, : len(idx)] = tokenizer.encode(queries[idx[0]], texts)
        gains[q, : len(idx)] = gain[idx]
        mask[q, : len(idx)] = True
        rows[q, : len(idx)] = idx
    return Listwise(tokens, gains, mask, rows, tuple(qid for qid, _ in groups))


def catalog_texts(frame: pd.DataFrame) -> list[str]:
    """The product text of every distinct product_id in `frame`, in first-appearance order."""
    products = frame.drop_duplicates("product_id")
    return [product_text(t, d) for t, d in zip(products["title"], products["description"], strict=True)]


def query_lists(frame: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(query, its candidates' product texts) per query_id of `frame`, grades unused."""
    return [
        (
            str(g["query"].iloc[0]),
            [product_text(t, d) for t, d in zip(g["title"], g["description"], strict=True)],
        )
        for _, g in frame.groupby("query_id", sort=False)
    ]


def fit_texts(train: pd.DataFrame, *catalog: pd.DataFrame) -> list[str]:
    """What a vocabulary may read: the product texts of the whole catalog (known before any query is
    asked; `catalog` frames add products beyond `train`'s) and the training split's queries.
    Validation and test queries are never in it."""
    return catalog_texts(pd.concat([train, *catalog])) + list(dict.fromkeys(train["query"].astype(str)))


def to_frame_order(listwise: Listwise, scores: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Scores [Q, C] aligned with `listwise` -> one score per source-frame row, in frame order."""
    if scores.shape != listwise.mask.shape:
        raise ValueError(
            f"scores shape {scores.shape} does not match the listwise shape {listwise.mask.shape}"
        )
    out = np.full(listwise.candidates, np.nan, dtype=np.float32)
    out[listwise.rows[listwise.mask]] = scores[listwise.mask]
    return out
