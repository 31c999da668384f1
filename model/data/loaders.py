"""`load(cfg)`: the one entry point from settings to a validated ranking frame.

Every source goes through the same finish: optionally drop single-candidate queries (policy
`single_candidate_queries`), check the frame against schema.validate (errors name the source file, the
column and the row), then cap each query's candidates at `max_candidates_per_query` by a seeded random
sample, so the kept candidates (and their label mix) do not depend on the order of the file.
Loaders only read: a bad file raises DataError and nothing is written anywhere.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from model.config import DataConfig
from model.data.csvfile import load_csv
from model.data.esci import load_esci
from model.data.readers import Source
from model.data.schema import DataError, validate
from model.data.synthetic import generate
from model.data.wands import load_wands

log = logging.getLogger(__name__)


def cap_candidates(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most `limit` rows per query_id, a seeded random sample of each, kept in frame order."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    codes, _ = pd.factorize(frame["query_id"])
    keys = np.random.default_rng(seed).random(len(frame))
    order = np.lexsort((keys, codes))
    sizes = np.bincount(codes)
    rank = np.arange(len(frame)) - (np.cumsum(sizes) - sizes)[codes[order]]
    keep = np.zeros(len(frame), dtype=bool)
    keep[order[rank < limit]] = True
    if not keep.all():
        log.info(
            "capped %d queries at %d candidates (%d rows left out)",
            int((sizes > limit).sum()),
            limit,
            int((~keep).sum()),
        )
    return frame[keep].reset_index(drop=True)


def _drop_single(frame: pd.DataFrame) -> pd.DataFrame:
    sizes = frame.groupby("query_id", sort=False)["query_id"].transform("size")
    if (sizes < 2).any():
        log.info("dropped %d queries with a single candidate", int((sizes < 2).sum()))
    return frame[sizes >= 2]


def _read(cfg: DataConfig) -> tuple[pd.DataFrame, Source | None]:
    if cfg.source == "synthetic":
        return generate(cfg.synthetic, cfg.seed, evaluation_share=cfg.split[1] + cfg.split[2]), None
    assert cfg.path is not None  # DataConfig requires a path for every other source
    path = cfg.path.expanduser()
    if cfg.source == "csv":
        return load_csv(path, cfg.csv)
    if not path.is_dir():
        raise DataError(
            str(path), f"the {cfg.source} source needs a directory" + ("" if path.exists() else "; not found")
        )
    if cfg.source == "esci":
        return load_esci(path, cfg.esci_locale)
    return load_wands(path)


def load(cfg: DataConfig) -> pd.DataFrame:
    """The ranking frame (schema.COLUMNS, index 0..n-1) for the configured source; DataError if bad."""
    frame, source = _read(cfg)
    if cfg.single_candidate_queries == "drop":
        frame = _drop_single(frame)
    if source is None:
        validate(frame, "synthetic")
    else:
        validate(frame, str(source.path), source.row, source.names)
    return cap_candidates(frame, cfg.max_candidates_per_query, cfg.seed)
