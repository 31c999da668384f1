"""Tiny real bundles for the cluster e2e: untrained `tiny` rankers, converted to LiteRT, with golden scores.

Same recipe as the serving tests' fixture bundle (`tests/model/serving/fixture_bundle.py`), plus two knobs:
`seed` picks the random weights and `label` goes into config.json, so one model can ship as several
bundles (distinct ids and versions, identical scores: a healthy canary) and another seed gives a model whose
scores land elsewhere (fast, error-free and broken: the canary the score-drift check must catch).

Each carries its offline score histogram (`score_histogram.json`) from the kind of requests the cluster
e2e's load generator sends (`load.ranking_request`), so its live scores are judged against its own.
The canary demo itself runs *trained* models (`trained.py`).

Needs the main virtualenv (TensorFlow); imports it only when called.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.canary.local.load import ranking_request
from model.release.bundle import SCORES_FILE, BundleInfo, write_bundle
from model.release.score_histogram import histogram_bytes
from model.release.untrained import golden_scores, untrained_tflite

GOLDEN = [
    {
        "query": "red running shoes",
        "candidates": [
            {"id": "p1", "title": "Red running shoe, men's size 10", "description": "Lightweight mesh."},
            {"id": "p2", "title": "Blue denim jacket"},
            {"id": "p3", "title": "Trail running shoes", "description": "Grippy sole for mud and rock"},
        ],
    }
]


def build_bundles(root: Path, wanted: Mapping[str, int]) -> dict[str, BundleInfo]:
    """One bundle per `label -> seed` under `root`; each seed is converted once."""
    models: dict[int, tuple[bytes, Any]] = {
        seed: untrained_tflite(seed) for seed in sorted(set(wanted.values()))
    }
    built = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, seed in wanted.items():
            tflite, tokenizer = models[seed]
            model_path = Path(tmp) / f"{seed}.tflite"
            model_path.write_bytes(tflite)
            golden = {
                "tolerance": {"absolute": 1e-3},
                "requests": [
                    {"request": r, "scores": golden_scores(model_path, tokenizer, r)} for r in GOLDEN
                ],
            }
            rng = random.Random(seed)
            offline = [
                score
                for _ in range(20)
                for score in golden_scores(model_path, tokenizer, ranking_request(rng)["jsonData"]).values()
            ]
            config = {"preset": "tiny", "seed": seed, "label": label, "note": "untrained canary demo model"}
            contents: dict[str, bytes | Path] = {
                "model.tflite": model_path,
                "tokenizer.json": tokenizer.to_json().encode(),
                "config.json": json.dumps(config, indent=2).encode(),
                "metrics.json": json.dumps({"variants": [], "note": "demo: not evaluated"}).encode(),
                "golden.json": json.dumps(golden, indent=2).encode(),
                SCORES_FILE: histogram_bytes(offline, "load generator requests"),
                "MODEL_CARD.md": f"# demo bundle `{label}`\n\nUntrained ranker, seed {seed}.\n".encode(),
            }
            built[label] = write_bundle(contents, root)
    return built
