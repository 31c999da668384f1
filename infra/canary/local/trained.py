"""Genuinely different trained bundles for the interleaving demo, trained once with the pipeline and cached.

Two runs of `python -m model pipeline` (a subprocess: TensorFlow stays out of the harness) on the same
synthetic data set (`DATA`, a few times the tiny preset's, so the test split has queries enough to tell
rankers apart), differing only in how they train (pre-training and distillation off, as in the default
preset):

    strong  the tiny preset's ranker trained up to 6 epochs at the default learning rate (early stopping
            keeps the best epoch): as good as this ranker gets on this data
    weak    the same ranker trained 1 epoch at a learning rate of 3e-4: genuinely trained, but clearly
            short of strong (the canary scenarios' "undertrained production model", `recipes.py`)

An earlier pairing, 2 epochs vs 1 epoch at the default rate, differed by +0.005 offline NDCG@10: within the
test split's noise, and users could not tell them apart either. One epoch at 2e-3 already converges here.

Each run's bundle is cached under `<cache>/<label>-<digest of its config>/`; a run whose config changed is
trained again. `rebundled` copies a bundle under another version (its config.json names the label), for
the A/A check: same scores, so interleaving must find no preference.

The demo's users query the *test* split of the same data (`held_out`), which no run trained or selected on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from model.release.bundle import BundleInfo, latest_bundle, verify_bundle, write_bundle

DATA: dict[str, Any] = {"synthetic": {"products": 1500, "queries": 240, "candidates_per_query": 16}}
_OFF = {"enabled": False}
RUNS: dict[str, dict[str, Any]] = {
    "strong": {"train": {"epochs": 6}, "pretrain": _OFF, "distill": _OFF},
    "weak": {"train": {"epochs": 1, "learning_rate": 3e-4}, "pretrain": _OFF, "distill": _OFF},
}
REPO = Path(__file__).resolve().parents[3]


def run_config(label: str) -> dict[str, Any]:
    return {"preset": "tiny", "data": DATA, **RUNS[label]}


def _digest(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def trained_bundle(label: str, cache: Path) -> BundleInfo:
    """The cached bundle of run `label`, training it first when the cache has none for its config."""
    config = run_config(label)
    out = cache / f"{label}-{_digest(config)}"
    if (out / "bundles").is_dir():
        return verify_bundle(latest_bundle(out / "bundles"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "model",
        "pipeline",
        "--config",
        str(out / "config.yaml"),
        "--out",
        str(out / "run"),
    ]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    with open(out / "pipeline.log", "wb") as log:
        code = subprocess.run(
            [*cmd, "--no-progress"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    if code != 0:
        raise RuntimeError(f"training {label!r} failed (exit {code}); see {out / 'pipeline.log'}")
    (out / "run" / "bundles").rename(out / "bundles")
    return verify_bundle(latest_bundle(out / "bundles"))


def rebundled(bundle: BundleInfo, label: str, root: Path) -> BundleInfo:
    """The same model files under a new bundle id: only config.json's `label` differs."""
    contents: dict[str, bytes | Path] = {
        f.name: f
        for f in sorted(bundle.path.iterdir())
        if f.is_file() and f.name not in ("MANIFEST", "config.json")
    }
    config = json.loads((bundle.path / "config.json").read_text(encoding="utf-8"))
    contents["config.json"] = json.dumps({**config, "label": label}, indent=2).encode()
    copy = write_bundle(contents, root)
    measured = bundle.path.with_name(bundle.path.name + ".run")  # what the pipeline measured: same model
    if measured.is_dir():
        shutil.copytree(measured, copy.path.with_name(copy.path.name + ".run"), dirs_exist_ok=True)
    return copy


def held_out(cache: Path) -> pd.DataFrame:
    """The test split of the runs' shared data set (schema.COLUMNS): the simulated users' queries."""
    from model.config import load_config
    from model.data.loaders import load
    from model.data.splits import split_by_query

    path = cache / "data.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"preset": "tiny", "data": DATA}), encoding="utf-8")
    cfg = load_config(path)
    return split_by_query(load(cfg.data), cfg.data.split, cfg.data.seed).test


def offline_ndcg(bundle: BundleInfo) -> float | None:
    """The shipped variant's test NDCG@10 as the pipeline measured it, when recorded: metrics.json lives
    beside the bundle in `<bundle_id>.run/` (outside the hash; model/release/package.py), or inside
    bundles packaged before that."""
    beside = bundle.path.with_name(bundle.path.name + ".run") / "metrics.json"
    path = beside if beside.exists() else bundle.path / "metrics.json"
    if not path.exists():
        return None
    metrics = json.loads(path.read_text(encoding="utf-8"))
    shipped = metrics.get("shipped")
    for variant in metrics.get("variants", []):
        if variant.get("name") == shipped:
            value = variant.get("test_metrics", variant.get("metrics", {})).get("ndcg@10")
            return float(value) if value is not None else None
    return None
