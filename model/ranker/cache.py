"""The pre-training cache: `root/<key>/` holds one pre-trained encoder, keyed by a hash of everything
that decides it (the sequences' bytes, i.e. the data and the tokenizer; the encoder's shape; the
pre-training settings; the seed). A second run on the same data reuses it; an interrupted run resumes
from its last epoch's checkpoint in `root/<key>/checkpoints/`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from model.config import PretrainConfig, RankerConfig
from model.ranker.pretrain import PretrainResult, pretrain
from model.text.tokenizer import Tokenizer

WEIGHTS, SUMMARY = "weights.npz", "summary.json"


def cache_key(tokens: Any, tokenizer: Tokenizer, ranker: RankerConfig, cfg: PretrainConfig, seed: int) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(tokens).tobytes())
    # `enabled` does not change what is trained; everything else does.
    settings = {"ranker": ranker.model_dump(), "pretrain": cfg.model_dump(exclude={"enabled"}), "seed": seed}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    digest.update(tokenizer.to_json().encode())
    return digest.hexdigest()[:20]


def save_weights(path: Path, weights: dict[str, list[Any]]) -> None:
    arrays = {f"{name}/{i}": w for name, ws in weights.items() for i, w in enumerate(ws)}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_weights(path: Path) -> dict[str, list[Any]]:
    with np.load(path) as data:
        items = sorted((k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]), data[k]) for k in data.files)
    out: dict[str, list[Any]] = {}
    for name, _, array in items:
        out.setdefault(name, []).append(array)
    return out


def cached_pretrain(
    tokens: Any,
    tokenizer: Tokenizer,
    ranker: RankerConfig,
    cfg: PretrainConfig,
    seed: int,
    strategy: Any,
    root: Path,
    progress: bool = False,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """(encoder weights, summary with `key`, `cached`, losses); trains only on a cache miss."""
    key = cache_key(tokens, tokenizer, ranker, cfg, seed)
    where = Path(root) / key
    if (where / WEIGHTS).exists() and (where / SUMMARY).exists():
        summary = json.loads((where / SUMMARY).read_text())
        return load_weights(where / WEIGHTS), {**summary, "cached": True}
    where.mkdir(parents=True, exist_ok=True)
    result: PretrainResult = pretrain(
        tokens, ranker, tokenizer, cfg, seed, strategy, where / "checkpoints", progress
    )
    save_weights(where / WEIGHTS, result.weights)
    summary = {
        "key": key,
        "sequences": len(tokens),
        "losses": result.losses,
        "masked_accuracy": result.accuracy,
        "seconds": result.seconds,
    }
    (where / SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(
        where / "checkpoints", ignore_errors=True
    )  # the weights are final; checkpoints were for resuming
    return result.weights, {**summary, "cached": False}
