"""One scoring interface over every runtime a variant can be served with.

`Scorer.score(tokens int32 [N, L, K]) -> float32 [N]` for one query and its N candidates:
- SavedModelScorer: TensorFlow runs the SavedModel's `serving_default` signature (the fp32 reference);
- LiteRTScorer: `ai_edge_litert` runs a .tflite file, resizing its input for N.

TensorFlow is imported only by SavedModelScorer, so LiteRT scoring works without it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Tokens = npt.NDArray[np.int32]
Scores = npt.NDArray[np.float32]


class Scorer(Protocol):
    name: str

    def score(self, tokens: Tokens) -> Scores: ...


def _check_tokens(tokens: Tokens, shape: tuple[int, int]) -> Tokens:
    tokens = np.asarray(tokens)
    if tokens.dtype != np.int32:
        raise ValueError(f"tokens must be int32, got {tokens.dtype}")
    if tokens.ndim != 3 or tuple(tokens.shape[1:]) != shape:
        raise ValueError(f"tokens must have shape [N, {shape[0]}, {shape[1]}], got {list(tokens.shape)}")
    return np.ascontiguousarray(tokens)


class SavedModelScorer:
    """Runs a SavedModel written by `model.ranker.transformer.save_ranker` with TensorFlow."""

    def __init__(self, path: Path, name: str = "savedmodel"):
        import os

        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        import tensorflow as tf

        self.name = name
        self._tf = tf
        try:
            self._fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a ranker SavedModel with a serving_default signature: {e}") from e
        spec = self._fn.structured_input_signature[1]["tokens"]
        self.input_shape: tuple[int, int] = (int(spec.shape[1]), int(spec.shape[2]))

    def score(self, tokens: Tokens) -> Scores:
        tokens = _check_tokens(tokens, self.input_shape)
        if not len(tokens):
            return np.zeros(0, dtype=np.float32)
        out: Scores = self._fn(tokens=self._tf.constant(tokens))["scores"].numpy()
        return out


class LiteRTScorer:
    """Runs a .tflite ranker with ai_edge_litert. Not thread-safe: one interpreter per thread."""

    def __init__(self, path: Path, num_threads: int = 1, name: str = "tflite"):
        from ai_edge_litert.interpreter import Interpreter

        self.name = name
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"{path}: not a loadable LiteRT model: {e}") from e
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1 or inputs[0]["dtype"] != np.int32:
            raise ValueError(f"{path}: expected one int32 input and one output")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self.input_shape = (int(inputs[0]["shape"][1]), int(inputs[0]["shape"][2]))
        self._allocated: tuple[int, ...] | None = None

    def score(self, tokens: Tokens) -> Scores:
        tokens = _check_tokens(tokens, self.input_shape)
        if not len(tokens):
            return np.zeros(0, dtype=np.float32)
        if tokens.shape != self._allocated:
            # Resizing re-plans every tensor: do it only when N changes, not on every call.
            self._interpreter.resize_tensor_input(self._input, list(tokens.shape), strict=True)
            self._interpreter.allocate_tensors()
            self._allocated = tokens.shape
        self._interpreter.set_tensor(self._input, tokens)
        self._interpreter.invoke()
        out: Scores = np.array(self._interpreter.get_tensor(self._output), dtype=np.float32, copy=True)
        return out.reshape(-1)


def open_scorer(path: Path, kind: str, num_threads: int = 1, name: str | None = None) -> Scorer:
    """A scorer for a variant: kind "savedmodel" (TensorFlow) or "tflite" (LiteRT)."""
    if kind == "savedmodel":
        return SavedModelScorer(path, name or Path(path).name)
    if kind == "tflite":
        return LiteRTScorer(path, num_threads, name or Path(path).stem)
    raise ValueError(f"unknown variant kind {kind!r}; expected 'savedmodel' or 'tflite'")


def measure_latency(scorer: Any, tokens: Tokens, runs: int, warmup: int) -> dict[str, float]:
    """p50/p99/mean milliseconds of `scorer.score(tokens)` (one query x N candidates), in-process, on
    two clocks: elapsed (wall) time, and the CPU time this process spent in the call (every thread of
    it). Other processes on a shared machine stretch the first, hardly the second (cpu_*)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for _ in range(warmup):
        scorer.score(tokens)
    times, cpu = np.empty(runs), np.empty(runs)
    for i in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        scorer.score(tokens)
        times[i] = (time.perf_counter() - start) * 1000.0
        cpu[i] = (time.process_time() - start_cpu) * 1000.0
    return {
        "p50_ms": float(np.percentile(times, 50)),
        "p99_ms": float(np.percentile(times, 99)),
        "mean_ms": float(times.mean()),
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "cpu_p99_ms": float(np.percentile(cpu, 99)),
    }
