"""Keras ranker -> LiteRT (.tflite) flatbuffers, with post-training quantization.

Every export keeps the serving contract of the SavedModel: input int32 tokens [N, L, K] with a dynamic
N, output float32 scores [N]. Quantization never touches the int32 ids or the float32 scores.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Literal  # noqa: E402

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from model.ranker import serving_function  # noqa: E402

Mode = Literal["float32", "float16", "dynamic_int8", "int8"]
MODES: tuple[Mode, ...] = ("float32", "float16", "dynamic_int8", "int8")
MODE_NOTES: dict[Mode, str] = {
    "float32": "no quantization",
    "float16": "float16 weights, float32 compute",
    "dynamic_int8": "int8 weights, activations quantized on the fly",
    "int8": "int8 weights and activations calibrated on a representative set; float fallback",
}


def representative(samples: Sequence[npt.NDArray[np.int32]]) -> Callable[[], Iterator[list[npt.NDArray[np.int32]]]]:
    """Calibration input for full-int8: one real query's candidate tokens [n, L, K] per sample."""

    def generate() -> Iterator[list[npt.NDArray[np.int32]]]:
        for tokens in samples:
            yield [np.ascontiguousarray(tokens, dtype=np.int32)]

    return generate


def convert(
    model: tf_keras.Model, mode: Mode, samples: Sequence[npt.NDArray[np.int32]] = ()
) -> bytes:
    """The .tflite bytes of `model` in `mode`; `samples` are required for "int8"."""
    if mode not in MODES:
        raise ValueError(f"unknown LiteRT mode {mode!r}; choose one of {MODES}")
    serve = serving_function(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if not samples:
            raise ValueError("int8 conversion needs representative samples")
        converter.representative_dataset = representative(samples)
    flatbuffer: bytes = converter.convert()
    return flatbuffer


def write_atomic(path: Path, payload: bytes) -> Path:
    """Write next to `path` then rename: a reader never sees half a model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path
