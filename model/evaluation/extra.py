"""Extra rankers for the evaluate step to measure beside the variants (teacher, student, from scratch...).

A step that trains another model registers it in `work/extra_models.json`; the evaluate step then
scores it on the selection and test splits with its own tokenizer and runtime, measures its latency
with the variants (same threads, same input) and adds it to the record as a ModelResult with role
"model", with paired-bootstrap deltas against the fp32 model, BM25 and the strongest lexical baseline.
The report lists it in the "Other rankers" table. It is never shipped: only optimize's variants are.

    from model.evaluation.extra import ExtraModel, register
    register(ws.extra_models, ExtraModel("teacher", "savedmodel", str(path), str(tokenizer_json),
                                         notes="4 layers, d=256"))
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExtraModel:
    name: str  # unique; shown in the report
    kind: str  # "savedmodel" (TensorFlow) | "tflite" (LiteRT)
    path: str
    tokenizer: str  # tokenizer.json the model was trained with
    notes: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("savedmodel", "tflite"):
            raise ValueError(
                f"extra model {self.name!r}: kind must be 'savedmodel' or 'tflite', got {self.kind!r}"
            )


def registered(path: Path) -> list[ExtraModel]:
    """The registered models, in registration order; none when the file is absent."""
    if not path.exists():
        return []
    return [ExtraModel(**m) for m in json.loads(path.read_text(encoding="utf-8"))["models"]]


def register(path: Path, model: ExtraModel) -> None:
    """Add `model`, replacing one of the same name (a re-run step registers again). Atomic write."""
    models = [m for m in registered(path) if m.name != model.name] + [model]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"models": [asdict(m) for m in models]}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
