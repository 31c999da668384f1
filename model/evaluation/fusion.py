"""`model + w * BM25`: the lexical index of a run, its scores on a split, and w chosen on validation.

The index counts words over the catalog: every product of the run's frames (product text is known
before any query is asked; grades are never read). The weight is chosen per ranker on the selection
split (`fusion_weight`); the test split only reports the result, as for everything else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from model.config import FusionConfig
from model.evaluation.metrics import per_query_metrics
from model.text.features import catalog_texts
from model.text.lexical import LexicalIndex
from model.text.tokenizer import product_text


def catalog_index(frames: Sequence[pd.DataFrame], cfg: FusionConfig) -> LexicalIndex:
    """Document frequencies over the distinct products of `frames` (weight 0 until one is chosen)."""
    return LexicalIndex.fit(catalog_texts(pd.concat(list(frames))), cfg.max_terms)


def lexical_scores(index: LexicalIndex, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """BM25 of every row of `frame` against its query, aligned with the frame's rows."""
    frame = frame.reset_index(drop=True)
    out = np.zeros(len(frame), dtype=np.float64)
    titles, descriptions = frame["title"].to_numpy(), frame["description"].to_numpy()
    queries = frame["query"].astype(str).to_numpy()
    for rows in frame.groupby("query_id", sort=False).indices.values():
        texts = [product_text(titles[i], descriptions[i]) for i in rows]
        out[rows] = index.scores(queries[rows[0]], texts)
    return out


def fusion_weight(
    frame: pd.DataFrame,
    model: npt.NDArray[np.floating],
    lexical: npt.NDArray[np.floating],
    relevant: float,
    grid: Sequence[float],
) -> float:
    """The w of `model + w * lexical` with the best NDCG@10 on `frame` (the selection split), from
    `grid` times std(model) / std(lexical); the smaller of equals. 0 when `lexical` is constant."""
    model, lexical = np.asarray(model, dtype=np.float64), np.asarray(lexical, dtype=np.float64)
    spread = float(np.std(lexical))
    if spread == 0.0:
        return 0.0
    scale = float(np.std(model)) / spread

    def ndcg(m: float) -> float:
        return float(per_query_metrics(frame, model + m * scale * lexical, 10, relevant)["ndcg@10"].mean())

    by_m = {m: ndcg(m) for m in grid}
    best = max(grid, key=lambda m: (by_m[m], -m))
    return best * scale
