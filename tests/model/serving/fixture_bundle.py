"""A tiny, untrained but real rankship bundle for the serving tests and the benchmark.

Runs in the MAIN virtualenv (TensorFlow): builds the ranker with `model.ranker.transformer.build_ranker` from the
`tiny` preset (or `--preset default` for benchmark-sized figures), converts it to LiteRT with a dynamic
batch dimension, replays a few golden requests through `ai_edge_litert` + `model.text.tokenizer` exactly as
serving does (tokenize `product_text(title, description)`, one batch per request), and writes the bundle
with `model.release.bundle.write_bundle`.

    python tests/model/serving/fixture_bundle.py OUT_DIR [--preset tiny|default]   # prints the bundle path
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


from model.release.bundle import LEXICAL_FILE, BundleInfo, write_bundle
from model.release.untrained import golden_scores, untrained_tflite
from model.text.lexical import LexicalIndex
from model.text.tokenizer import product_text

GOLDEN_TOLERANCE = 1e-3
SEED = 11
# Shipped bundles carry lexical.json (served score = model + weight * BM25): so does the fixture, with its
# golden candidates as the catalog and a weight large enough to reorder an untrained model's scores.
LEXICAL_WEIGHT = 0.5

# Hand-written so that a reader can see what the golden replay covers: a description, no description,
# an empty title, unicode, and a candidate list longer than one.
GOLDEN_REQUESTS: list[dict[str, Any]] = [
    {
        "query": "red running shoes",
        "candidates": [
            {"id": "p1", "title": "Red running shoe, men's size 10", "description": "Lightweight mesh."},
            {"id": "p2", "title": "Blue denim jacket"},
            {"id": "p3", "title": "Trail running shoes", "description": "Grippy sole for mud and rock"},
            {"id": "p4", "title": ""},
        ],
    },
    {
        "query": "café au lait mug",
        "candidates": [
            {"id": "m1", "title": "Ceramic coffee mug 350 ml"},
            {"id": "m2", "title": "Café au lait bowl", "description": "Stoneware, dishwasher safe"},
            {"id": "m3", "title": "Stainless steel water bottle"},
        ],
    },
]


def build_fixture_bundle(root: Path, preset: str = "tiny") -> BundleInfo:
    """Write the fixture bundle under `root` and return it (idempotent: same content, same id)."""
    tflite, tokenizer = untrained_tflite(SEED, preset)
    catalog = [
        product_text(c["title"], c.get("description")) for r in GOLDEN_REQUESTS for c in r["candidates"]
    ]
    lexical = LexicalIndex.fit(catalog, weight=LEXICAL_WEIGHT)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.tflite"
        model_path.write_bytes(tflite)
        golden = {
            "tolerance": {"absolute": GOLDEN_TOLERANCE},
            "requests": [
                {"request": r, "scores": golden_scores(model_path, tokenizer, r, lexical)}
                for r in GOLDEN_REQUESTS
            ],
        }
        config = {"preset": preset, "seed": SEED, "note": "untrained test fixture"}
        contents: dict[str, bytes | Path] = {
            "model.tflite": model_path,
            "tokenizer.json": tokenizer.to_json().encode(),
            LEXICAL_FILE: lexical.to_json().encode(),
            "config.json": json.dumps(config, indent=2).encode(),
            "metrics.json": json.dumps({"variants": [], "note": "fixture: not evaluated"}).encode(),
            "golden.json": json.dumps(golden, indent=2, ensure_ascii=False).encode(),
            "MODEL_CARD.md": f"# rankship fixture bundle\n\nUntrained `{preset}` ranker.\n".encode(),
        }
        return write_bundle(contents, root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path, help="bundles root; the bundle lands in OUT_DIR/<bundle id>/")
    parser.add_argument("--preset", default="tiny", choices=["tiny", "default"])
    args = parser.parse_args(argv)
    print(build_fixture_bundle(args.out_dir, args.preset).path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
