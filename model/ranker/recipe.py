"""The training recipe the `train` step runs: optional pre-trained start, optional teacher and
distillation, and the plain from-scratch student for comparison.

    distill off: ranker <- grades (from the pre-trained encoder when there is one)
    distill on:  teacher <- grades; ranker <- teacher's scores on labelled + BM25-retrieved pairs
                 (from the pre-trained encoder when there is one); with report_from_scratch also
                 scratch <- grades from a random start (the row that shows what the recipe adds)
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from model.config import PipelineConfig
from model.ranker.train import EpochRecord, TrainResult, train_ranker
from model.text.tokenizer import Tokenizer


@dataclass
class Trained:
    ranker: TrainResult  # the model the pipeline compresses and ships
    others: dict[str, TrainResult] = field(default_factory=dict)  # "teacher", "scratch"
    seconds: dict[str, float] = field(default_factory=dict)


def train_recipe(
    cfg: PipelineConfig,
    tokenizer: Tokenizer,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    catalog: pd.DataFrame,
    initial: dict[str, list[Any]] | None = None,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> Trained:
    """Train what `cfg` asks for; `catalog` is every known product (BM25 retrieves from it)."""
    if not cfg.distill.enabled:
        return Trained(train_ranker(cfg, tokenizer, train, valid, progress, on_epoch, initial=initial))
    from model.ranker.distill import teacher_targets, with_retrieved

    seconds: dict[str, float] = {}
    teacher = train_ranker(cfg, tokenizer, train, valid, progress, ranker=cfg.distill.teacher)
    seconds["teacher"] = teacher.seconds
    start = time.perf_counter()
    pairs = with_retrieved(train, catalog, cfg.distill.retrieved_per_query, cfg.data.seed)
    targets = teacher_targets(teacher.model, pairs, tokenizer)
    seconds["retrieve_and_score"] = time.perf_counter() - start
    student = train_ranker(cfg, tokenizer, train, valid, progress, on_epoch, initial=initial, targets=targets)
    seconds["student"] = student.seconds
    others = {"teacher": teacher}
    if cfg.distill.report_from_scratch:
        others["scratch"] = train_ranker(cfg, tokenizer, train, valid, progress)
        seconds["scratch"] = others["scratch"].seconds
    return Trained(student, others, seconds)
