"""Untrained but real rankers as LiteRT bundles' contents, for the serving tests and the canary demo.

An untrained ranker is fast, error-free and deterministic for its seed, and two seeds give different
score distributions: exactly what a "broken model" canary and a serving fixture need, without a
training run. Needs TensorFlow (the main virtualenv).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model.text.lexical import LexicalIndex
from model.text.tokenizer import Tokenizer, product_text


def untrained_tflite(seed: int, preset: str = "tiny") -> tuple[bytes, Tokenizer]:
    """The float32 .tflite bytes of a freshly initialised ranker of `preset`, and its tokenizer."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras

    from model.compress.litert import convert
    from model.config import load_config
    from model.ranker.transformer import build_ranker

    cfg = load_config(preset=preset)
    tf_keras.utils.set_random_seed(seed)
    # Untrained: no catalog to fit a vocabulary to, so the hashed tokenizer (ids are all it needs).
    tokenizer = Tokenizer.from_config(cfg.tokenizer.model_copy(update={"kind": "hashed"}))
    return convert(build_ranker(cfg.ranker, tokenizer), "float32"), tokenizer


def golden_scores(
    model_path: Path, tokenizer: Tokenizer, request: Mapping[str, Any], lexical: LexicalIndex | None = None
) -> dict[str, float]:
    """Score one golden request the way serving does: one [N, L, K] batch, plus weight * BM25 with
    `lexical` (lexical.json), scores by candidate id."""
    from model.evaluation.scoring import LiteRTScorer

    texts = [product_text(c["title"], c.get("description")) for c in request["candidates"]]
    scores = LiteRTScorer(Path(model_path), num_threads=1).score(tokenizer.encode(request["query"], texts))
    if lexical is not None:
        scores = lexical.fuse(scores, request["query"], texts)
    return {c["id"]: float(s) for c, s in zip(request["candidates"], scores, strict=True)}
