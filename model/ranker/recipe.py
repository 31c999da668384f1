"""The training recipe the `train` step runs: optional pre-trained start, optional teacher and
distillation, and the plain from-scratch student for comparison.

    distill off: ranker <- grades (from the pre-trained encoder when there is one)
    distill on:  teacher <- grades; ranker <- teacher's scores on labelled + BM25-retrieved pairs
                 (from the pre-trained encoder when there is one)

With both on, the comparison rows fill the 2x2 of start (random, pre-trained) x targets (grades,
teacher), each trained only when asked for, so each ingredient's effect is a paired difference on the
same evaluation queries (the report's delta vs fp32, with its interval):

                  grades                          teacher's scores
    random        scratch (report_from_scratch)   no_pretrain (pretrain.report_without)
    pre-trained   no_distill (report_from_scratch) ranker (what ships)

With distillation off, `no_pretrain` is the ranker from a random start; with pre-training off,
`scratch` is the student without its teacher.
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
    without_pretrain = initial is not None and cfg.pretrain.report_without
    seconds: dict[str, float] = {}
    if not cfg.distill.enabled:
        ranker = train_ranker(cfg, tokenizer, train, valid, progress, on_epoch, initial=initial)
        seconds["ranker"] = ranker.seconds
        if not without_pretrain:
            return Trained(ranker, {}, seconds)
        plain = train_ranker(cfg, tokenizer, train, valid, progress)
        seconds["no_pretrain"] = plain.seconds
        return Trained(ranker, {"no_pretrain": plain}, seconds)
    from model.ranker.distill import teacher_targets, with_retrieved

    teacher = train_ranker(cfg, tokenizer, train, valid, progress, ranker=cfg.distill.teacher)
    seconds["teacher"] = teacher.seconds
    start = time.perf_counter()
    pairs = with_retrieved(train, catalog, cfg.distill.retrieved_per_query, cfg.data.seed)
    targets = teacher_targets(teacher.model, pairs, tokenizer)
    seconds["retrieve_and_score"] = time.perf_counter() - start
    student = train_ranker(cfg, tokenizer, train, valid, progress, on_epoch, initial=initial, targets=targets)
    seconds["student"] = student.seconds
    others = {"teacher": teacher}
    rows: dict[str, Callable[[], TrainResult]] = {}
    if without_pretrain:
        rows["no_pretrain"] = lambda: train_ranker(cfg, tokenizer, train, valid, progress, targets=targets)
    if cfg.distill.report_from_scratch:
        rows["scratch"] = lambda: train_ranker(cfg, tokenizer, train, valid, progress)
        if initial is not None:
            rows["no_distill"] = lambda: train_ranker(cfg, tokenizer, train, valid, progress, initial=initial)
    for name, fit in rows.items():
        others[name] = fit()
        seconds[name] = others[name].seconds
    return Trained(student, others, seconds)
