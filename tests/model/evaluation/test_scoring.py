"""Scorers over TensorFlow SavedModels and LiteRT files share one contract; latency measurement."""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path

import numpy as np
import pytest
import tf_keras

from model.compress.litert import convert, write_atomic
from model.evaluation.scoring import LiteRTScorer, SavedModelScorer, measure_latency, open_scorer
from model.ranker.transformer import build_ranker, save_ranker
from model.text.tokenizer import Tokenizer
from tests.model.ranker_toy import toy_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    cfg = toy_config()
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    tf_keras.utils.set_random_seed(5)
    model = build_ranker(cfg.ranker, tokenizer)
    root = tmp_path_factory.mktemp("scoring")
    tokens = tokenizer.encode("red shoe", ["red shoe deluxe", "blue lamp", "red hat", "shoe", "mug", "desk"])
    return {
        "model": model,
        "tokens": tokens,
        "savedmodel": save_ranker(model, root / "fp32"),
        "tflite": write_atomic(root / "fp32.tflite", convert(model, "float32")),
    }


def test_both_runtimes_agree_with_keras(saved: dict[str, object]) -> None:
    tokens = saved["tokens"]
    expected = saved["model"](tokens, training=False).numpy()  # type: ignore[operator]
    for kind in ("savedmodel", "tflite"):
        scorer = open_scorer(saved[kind], kind)  # type: ignore[arg-type]
        scores = scorer.score(tokens)  # type: ignore[arg-type]
        assert scores.dtype == np.float32 and scores.shape == (6,)
        np.testing.assert_allclose(scores, expected, atol=1e-4, err_msg=kind)


def test_litert_resizes_for_each_candidate_count(saved: dict[str, object]) -> None:
    tokens: np.ndarray = saved["tokens"]  # type: ignore[assignment]
    scorer = LiteRTScorer(saved["tflite"], num_threads=2)  # type: ignore[arg-type]
    full = scorer.score(tokens)
    for n in (1, 3, 6, 3):
        np.testing.assert_allclose(scorer.score(tokens[:n]), full[:n], atol=1e-5)
    assert scorer.score(tokens[:0]).shape == (0,)


def test_bad_tokens_are_rejected_with_the_expected_shape(saved: dict[str, object]) -> None:
    tokens: np.ndarray = saved["tokens"]  # type: ignore[assignment]
    for scorer in (LiteRTScorer(saved["tflite"]), SavedModelScorer(saved["savedmodel"])):  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="must be int32"):
            scorer.score(tokens.astype(np.int64))
        with pytest.raises(ValueError, match=r"shape \[N, 12, 8\], got \[6, 12\]"):
            scorer.score(tokens[:, :, 0])


def test_unusable_files_are_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match=r"junk\.tflite: not a loadable LiteRT model"):
        LiteRTScorer(junk)
    with pytest.raises(ValueError, match="not a ranker SavedModel"):
        SavedModelScorer(tmp_path)
    with pytest.raises(ValueError, match="unknown variant kind 'onnx'"):
        open_scorer(junk, "onnx")


class CountingScorer:
    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, tokens: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.zeros(len(tokens), dtype=np.float32)


class SleepingScorer:
    """Waits 20 ms without computing: what a call looks like to a process whose core is taken."""

    name = "sleeping"

    def score(self, tokens: np.ndarray) -> np.ndarray:
        time.sleep(0.02)
        return np.zeros(len(tokens), dtype=np.float32)


def test_cpu_clock_counts_work_not_waiting() -> None:
    stats = measure_latency(SleepingScorer(), np.zeros((3, 12, 8), dtype=np.int32), runs=3, warmup=0)
    assert stats["p50_ms"] >= 20.0
    assert stats["cpu_p99_ms"] < 10.0  # sleeping costs (almost) no CPU time


def test_measure_latency_runs_warmup_then_timed_calls() -> None:
    scorer = CountingScorer()
    stats = measure_latency(scorer, np.zeros((3, 12, 8), dtype=np.int32), runs=20, warmup=5)
    assert scorer.calls == 25
    assert set(stats) == {"p50_ms", "p99_ms", "mean_ms", "cpu_p50_ms", "cpu_p99_ms"}
    assert 0 <= stats["p50_ms"] <= stats["p99_ms"]
    assert 0 <= stats["cpu_p50_ms"] <= stats["cpu_p99_ms"]
    with pytest.raises(ValueError, match="runs must be at least 1"):
        measure_latency(scorer, np.zeros((1, 12, 8), dtype=np.int32), runs=0, warmup=0)
