"""Keras ranker -> LiteRT (.tflite) flatbuffers, with post-training quantization.

Every export keeps the serving contract of the SavedModel: input int32 tokens [N, L, K] with a dynamic
N, output float32 scores [N]. Quantization never touches the int32 ids or the float32 scores.

"int8" is calibrated full-integer quantization of the ops that hold the weights and the multiply-adds
(FULLY_CONNECTED, the embedding GATHER and its SUM); every other op is kept float through the
quantization debugger's deny-list. Measured on the default ranker, quantizing everything was ~3x
*slower* than float and lost 3 NDCG points: LiteRT's int8 LayerNorm (MEAN/RSQRT), SOFTMAX and
BATCH_MATMUL kernels are slow, they split the XNNPACK graph, and the attention mask's -1e9 add swamps
the int8 range of the attention logits.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import tensorflow as tf
import tf_keras

from model.ranker.transformer import serving_function

# Op types quantized in "int8"; all others stay float.
INT8_OPS = frozenset({"FULLY_CONNECTED", "GATHER", "SUM", "RESHAPE"})
Mode = Literal["float32", "float16", "dynamic_int8", "int8"]
MODES: tuple[Mode, ...] = ("float32", "float16", "dynamic_int8", "int8")
MODE_NOTES: dict[Mode, str] = {
    "float32": "no quantization",
    "float16": "float16 weights, float32 compute",
    "dynamic_int8": "int8 weights, activations quantized on the fly",
    "int8": "int8 weights and activations (calibrated) for matmuls and embeddings; attention and norms float",
}


def representative(
    samples: Sequence[npt.NDArray[np.int32]],
) -> Callable[[], Iterator[list[npt.NDArray[np.int32]]]]:
    """Calibration input for full-int8: one real query's candidate tokens [n, L, K] per sample."""

    def generate() -> Iterator[list[npt.NDArray[np.int32]]]:
        for tokens in samples:
            yield [np.ascontiguousarray(tokens, dtype=np.int32)]

    return generate


def _converter(model: tf_keras.Model) -> tf.lite.TFLiteConverter:
    serve = serving_function(model)
    return tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)


def op_types(flatbuffer: bytes) -> set[str]:
    """The builtin op types a .tflite model uses."""
    from ai_edge_litert.interpreter import Interpreter

    return {op["op_name"] for op in Interpreter(model_content=flatbuffer)._get_ops_details()}


def convert(model: tf_keras.Model, mode: Mode, samples: Sequence[npt.NDArray[np.int32]] = ()) -> bytes:
    """The .tflite bytes of `model` in `mode`; `samples` (real token batches) are required for "int8"."""
    if mode not in MODES:
        raise ValueError(f"unknown LiteRT mode {mode!r}; choose one of {MODES}")
    converter = _converter(model)
    if mode == "float32":
        flatbuffer: bytes = converter.convert()
        return flatbuffer
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode != "int8":
        flatbuffer = converter.convert()
        return flatbuffer
    if not samples:
        raise ValueError("int8 conversion needs representative samples")
    keep_float = sorted(op_types(_converter(model).convert()) - INT8_OPS)
    converter.representative_dataset = representative(samples)
    return _quantize_except(converter, keep_float)


def _quantize_except(converter: tf.lite.TFLiteConverter, keep_float: list[str]) -> bytes:
    """Calibrate, then quantize every op whose type is not in `keep_float`.

    The two calls tf.lite.experimental.QuantizationDebugger makes for `denylisted_ops`, without the rest
    of the debugger: it also builds an instrumented model and opens it with the deprecated
    tf.lite.Interpreter, which costs a conversion and prints a deprecation warning on every run.
    """
    from tensorflow.lite.python import convert as lite_convert

    converter.experimental_mlir_quantizer = True
    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    quantized: bytes = lite_convert.mlir_quantize(
        calibrated,
        disable_per_channel=converter._experimental_disable_per_channel,
        fully_quantize=False,  # float32 input and output: the serving contract
        enable_numeric_verify=False,
        denylisted_ops=keep_float,
    )
    return quantized


def write_atomic(path: Path, payload: bytes) -> Path:
    """Write next to `path` then rename: a reader never sees half a model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path
