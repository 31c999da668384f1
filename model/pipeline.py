"""The steps of one run, each reading the previous step's outputs from a work directory.

    data      -> work/data/{train,valid,test}.parquet, work/data/summary.json
    pretrain  -> work/pretrain.json (+ cache/pretrain/<key>/: tokenizer.json, weights.npz), when enabled
    train     -> work/fp32/ (SavedModel), work/tokenizer.json, work/history.json,
                 work/others/{teacher,scratch}/ with distillation
    optimize  -> work/variants/*, work/variants.json
    evaluate  -> work/record.json (every ranker on valid and test, baselines, production, intervals),
                 work/per_query.parquet, work/lexical.json (the catalog's BM25 statistics)
    package   -> bundles/<bundle_id>/ (what is served, hashed), bundles/<bundle_id>.run/ (what was
                 measured: metrics.json, MODEL_CARD.md), report/, latest.json
                 (gate on the selection split; exits non-zero when nothing passes)

Every step can run alone (`python -m model <step>`), so a failed optimize can be retried without
retraining; `pipeline` runs them in order.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pandas as pd

from model.config import PipelineConfig
from model.data.schema import Splits

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Workspace:
    """Where a run keeps its files. `out` holds the results; `out/work` the intermediate steps."""

    out: Path

    @property
    def work(self) -> Path:
        return self.out / "work"

    @property
    def data(self) -> Path:
        return self.work / "data"

    @property
    def fp32(self) -> Path:
        return self.work / "fp32"

    @property
    def tokenizer(self) -> Path:
        return self.work / "tokenizer.json"

    @property
    def pretrain(self) -> Path:
        """Which cached pre-trained encoder this run uses (model/ranker/cache.py)."""
        return self.work / "pretrain.json"

    @property
    def pretrain_cache(self) -> Path:
        """Kept across runs in the same --out: a second run on the same data skips pre-training."""
        return self.out / "cache" / "pretrain"

    @property
    def others(self) -> Path:
        """Models trained for comparison only (the distillation teacher, the from-scratch student)."""
        return self.work / "others"

    @property
    def history(self) -> Path:
        return self.work / "history.json"

    @property
    def variants_dir(self) -> Path:
        return self.work / "variants"

    @property
    def variants(self) -> Path:
        return self.work / "variants.json"

    @property
    def record(self) -> Path:
        return self.work / "record.json"

    @property
    def extra_models(self) -> Path:
        """Rankers other steps register for evaluation (model/evaluation/extra.py)."""
        return self.work / "extra_models.json"

    @property
    def lexical(self) -> Path:
        """The catalog's BM25 statistics (model/text/lexical.py), weight 0; the bundle gets the shipped w."""
        return self.work / "lexical.json"

    @property
    def per_query(self) -> Path:
        return self.work / "per_query.parquet"

    @property
    def lineage(self) -> Path:
        """Data fingerprint and split membership (model/data/lineage.py); copied into the bundle."""
        return self.data / "lineage.json"

    @property
    def bundles(self) -> Path:
        return self.out / "bundles"

    @property
    def report(self) -> Path:
        return self.out / "report"

    @property
    def latest(self) -> Path:
        return self.out / "latest.json"

    @property
    def config(self) -> Path:
        return self.work / "config.json"


class StepOrderError(RuntimeError):
    """A step was run before the step whose outputs it reads."""


def require(path: Path, step: str) -> Path:
    if not path.exists():
        raise StepOrderError(f"{path} is missing: run `python -m model {step}` (or `pipeline`) first")
    return path


def write_json(path: Path, payload: object) -> None:
    """Atomic: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def save_splits(ws: Workspace, splits: Splits, source: str) -> dict[str, dict[str, int]]:
    ws.data.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name in SPLITS:
        frame: pd.DataFrame = getattr(splits, name)
        tmp = ws.data / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(ws.data / f"{name}.parquet")
        summary[name] = {"queries": int(frame["query_id"].nunique()), "pairs": len(frame)}
    write_json(ws.data / "summary.json", {"source": source, "splits": summary})
    return summary


def load_splits(ws: Workspace) -> Splits:
    frames = {name: pd.read_parquet(require(ws.data / f"{name}.parquet", "data")) for name in SPLITS}
    return Splits(**frames)


def data_summary(ws: Workspace) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(require(ws.data / "summary.json", "data").read_text())
    return loaded


class Timer:
    """Collects wall time per step for the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[name] = time.perf_counter() - start


def save_config(ws: Workspace, cfg: PipelineConfig) -> None:
    write_json(ws.config, json.loads(cfg.model_dump_json()))
