"""A tiny, trivially learnable ranking set for the ranker/train/optimize tests.

Products are "<color> <item> <filler>"; a query is "<color> <item>". Gain 3 when both words match,
1 when only the item matches, 0 otherwise: a model that learns word matching ranks perfectly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import PipelineConfig, load_config

COLORS = ("red", "blue", "green", "black", "white", "pink", "grey", "brown")
ITEMS = ("shoe", "lamp", "chair", "phone", "sock", "table", "mug", "bag", "hat", "desk")
FILLERS = ("deluxe", "classic", "new", "basic", "pro", "mini")


def toy_frame(queries: int, candidates: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(queries):
        color, item = rng.choice(COLORS), rng.choice(ITEMS)
        for c in range(candidates):
            kind = c % 3  # an exact match, a same-item product, a random product, ...
            p_color = color if kind == 0 else rng.choice([x for x in COLORS if x != color])
            p_item = item if kind < 2 else rng.choice([x for x in ITEMS if x != item])
            gain = {0: 3.0, 1: 1.0, 2: 0.0}[kind]
            rows.append(
                (
                    f"q{q}",
                    f"{color} {item}",
                    f"q{q}-p{c}",
                    f"{p_color} {p_item} {rng.choice(FILLERS)}",
                    "",
                    gain,
                )
            )
    frame = pd.DataFrame(rows, columns=["query_id", "query", "product_id", "title", "description", "gain"])
    # Shuffle rows so that candidate order carries no signal.
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def toy_config(**train: object) -> PipelineConfig:
    """The tiny preset, shrunk further so a test trains in seconds."""
    cfg = load_config(preset="tiny")
    return cfg.model_copy(
        update={
            "tokenizer": cfg.tokenizer.model_copy(
                update={"kind": "hashed", "buckets": 512, "max_query_words": 4, "max_product_words": 6}
            ),
            "ranker": cfg.ranker.model_copy(update={"layers": 1, "width": 16, "heads": 2, "dropout": 0.0}),
            "train": cfg.train.model_copy(
                update={"epochs": 3, "batch_queries": 8, "warmup_steps": 2, **train}
            ),
        }
    )
