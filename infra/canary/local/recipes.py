"""Genuinely different *trained* bundles for the canary scenarios, cached per recipe (data, settings, code).

Sized for CI (about a minute each, so the e2e tests can train them in the run): the interleaving demo's
`trained.py` runs the whole pipeline instead (~10 min a bundle on a loaded 2-core machine, with pruning,
clustering and the gate).

Every recipe trains on the same synthetic catalog (the pipeline's `data` and `train` steps, tiny preset
with a larger catalog so that a split holds tens of queries), then converts the fp32 ranker to LiteRT
float32 and writes a bundle with the package step's own `golden.json` and `score_histogram.json`
(`model/release/package.py`). Pruning and clustering are skipped: they would cost minutes and the demo
judges the rollout, not the compression.

| recipe | training | expected |
|--------|----------|----------|
| stable | 1 epoch at a learning rate of 3e-4 (the default 2e-3) | an undertrained production model |
| better | 4 epochs (early stopping keeps the best) | higher validation NDCG@10 than stable |
| worse  | 4 epochs on labels shuffled within each query | no signal: ranks about at random |

The cache key is the sha256 of the recipe, the merged settings and the source of `model/` (data, text,
ranker, evaluation, release), so a code or settings change retrains and a repeated run takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from model.release.bundle import SCORES_FILE, BundleInfo, verify_bundle, write_bundle

REPO = Path(__file__).resolve().parents[3]
# 300 queries x 12 candidates: 30 validation and 30 test queries (the tiny preset has 6 of each).
CATALOG: dict[str, Any] = {"synthetic": {"products": 1500, "queries": 300, "candidates_per_query": 12}}
CODE = ("model/data", "model/text", "model/ranker", "model/evaluation", "model/release", "model/config.py")


@dataclass(frozen=True)
class Recipe:
    name: str
    train: dict[str, Any] = field(default_factory=dict)
    shuffle_labels: bool = False

    def settings(self) -> dict[str, Any]:
        # Pre-training and distillation off, as in the default preset: the demo compares shipped-style models.
        off = {"enabled": False}
        return {"preset": "tiny", "data": CATALOG, "train": self.train, "pretrain": off, "distill": off}


RECIPES = {
    r.name: r
    for r in (
        Recipe("stable", {"epochs": 1, "learning_rate": 3e-4}),
        Recipe("better", {"epochs": 4}),
        Recipe("worse", {"epochs": 4}, shuffle_labels=True),
    )
}


@dataclass(frozen=True)
class TrainedBundle:
    info: BundleInfo
    valid_ndcg: float  # NDCG@10 of the bundle's LiteRT model on the validation split
    workspace: Path  # the run's data (test split: the demo's live queries)


def cache_key(recipe: Recipe) -> str:
    digest = hashlib.sha256(json.dumps([recipe.name, recipe.settings(), recipe.shuffle_labels]).encode())
    for root in CODE:
        path = REPO / root
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(REPO).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def trained_bundle(recipe: Recipe, cache: Path) -> TrainedBundle:
    """The recipe's bundle from `cache`, training it first when it is not there."""
    home = cache / f"{recipe.name}-{cache_key(recipe)}"
    done = home / "done.json"
    if not done.is_file():
        shutil.rmtree(home, ignore_errors=True)
        _train(recipe, home)
    meta = json.loads(done.read_text())
    return TrainedBundle(verify_bundle(Path(meta["bundle"])), meta["valid_ndcg"], home)


def _train(recipe: Recipe, home: Path) -> None:
    from model import pipeline as pl
    from model.config import load_config
    from model.steps import step_data, step_pretrain, step_train

    home.mkdir(parents=True)
    (home / "config.yaml").write_text(yaml.safe_dump(recipe.settings()))
    cfg = load_config(home / "config.yaml")
    ws = pl.Workspace(home)
    step_data(cfg, ws)
    if recipe.shuffle_labels:
        _shuffle_train_labels(ws.data / "train.parquet", cfg.data.seed)
    step_pretrain(cfg, ws, progress=False)  # records that there is none; train reads that record
    step_train(cfg, ws, progress=False)
    info, ndcg = _package(cfg, ws, recipe)
    (home / "done.json").write_text(json.dumps({"bundle": str(info.path), "valid_ndcg": ndcg}))


def _shuffle_train_labels(path: Path, seed: int) -> None:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(path)
    rng = np.random.default_rng(seed)
    frame["gain"] = frame.groupby("query_id")["gain"].transform(lambda g: rng.permutation(g.to_numpy()))
    frame.to_parquet(path, index=False)


def _package(cfg: Any, ws: Any, recipe: Recipe) -> tuple[BundleInfo, float]:
    from model import pipeline as pl
    from model.compress.litert import convert, write_atomic
    from model.evaluation.evaluate import encode_split, score_split
    from model.evaluation.metrics import ranking_metrics
    from model.evaluation.scoring import open_scorer
    from model.ranker.transformer import load_ranker
    from model.release.package import golden_file, score_histogram_file
    from model.text.tokenizer import Tokenizer

    tflite = write_atomic(ws.work / "model.tflite", convert(load_ranker(ws.fp32), "float32"))
    valid = encode_split(pl.load_splits(ws).valid, Tokenizer.load(ws.tokenizer))
    scores = score_split(valid, open_scorer(tflite, "tflite").score, progress=False)
    ndcg = float(ranking_metrics(valid.frame, scores, k=10)["ndcg@10"])
    metrics = {"recipe": recipe.name, "valid": {"ndcg@10": ndcg}, "note": "canary demo: fp32 -> LiteRT"}
    contents: dict[str, bytes | Path] = {
        "model.tflite": tflite,
        "tokenizer.json": ws.tokenizer,
        "config.json": pl.require(ws.config, "data"),
        "metrics.json": json.dumps(metrics, indent=2).encode(),
        "golden.json": golden_file(ws, tflite, cfg),
        SCORES_FILE: score_histogram_file(ws, tflite, cfg),
        "MODEL_CARD.md": f"# canary demo bundle `{recipe.name}`\n\nValid NDCG@10 {ndcg:.4f}.\n".encode(),
    }
    return write_bundle(contents, ws.out / "bundles"), ndcg


def live_queries(workspace: Path) -> list[dict[str, Any]]:
    """The test split as the demo's live traffic: each query with its candidates and their true gains."""
    import pandas as pd

    frame = pd.read_parquet(workspace / "work" / "data" / "test.parquet")
    out = []
    for _, part in frame.groupby("query_id", sort=True):
        candidates = [
            {"id": str(r.product_id), "title": str(r.title), "description": str(r.description)}
            for r in part.itertuples()
        ]
        gains = dict(zip(part["product_id"].astype(str), part["gain"].astype(float), strict=True))
        out.append({"query": str(part["query"].iloc[0]), "candidates": candidates, "gains": gains})
    return out
