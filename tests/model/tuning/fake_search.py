"""A search with a cheap, deterministic objective instead of training, for the interrupt test.

    python -m tests.model.tuning.fake_search DIR [--hang-at N]

With --hang-at N, trial N writes DIR/hanging and sleeps (the test kills the process there).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import optuna

from model.config import PipelineConfig, load_config
from model.tuning.search import search

TRIALS = 6


def config() -> PipelineConfig:
    cfg = load_config(preset="tiny")
    return cfg.model_copy(update={"tune": cfg.tune.model_copy(update={"trials": TRIALS})})


def value_of(cfg: PipelineConfig) -> float:
    """A smooth function of the searched settings: the same settings always score the same."""
    return -((math.log10(cfg.train.learning_rate) + 2.5) ** 2) - cfg.ranker.dropout - cfg.ranker.layers / 10


def run(directory: Path, hang_at: int | None = None) -> optuna.Study:
    def evaluate(trial: optuna.Trial, trial_cfg: PipelineConfig) -> float:
        if trial.number == hang_at:
            (directory / "hanging").write_text(str(trial.number), encoding="utf-8")
            time.sleep(600)
        return value_of(trial_cfg)

    return search(config(), directory, evaluate, data_fingerprint="fake-data")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--hang-at", type=int, default=None)
    args = parser.parse_args()
    run(args.directory, args.hang_at)
