"""Pruning, clustering and LiteRT exports of a tiny trained ranker (one optimize run shared by all)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from model.compress.litert import convert
from model.compress.optimize import compressible_weights, optimize_ranker, pruning_schedule
from model.evaluation.metrics import ranking_metrics
from model.evaluation.scoring import open_scorer
from model.ranker.train import train_ranker
from model.ranker.transformer import load_ranker
from model.text.tokenizer import Tokenizer
from tests.model.ranker_toy import toy_config, toy_frame

pytestmark = pytest.mark.slow  # trains and optimizes once for the module (~30 s)

TARGET, CLUSTERS = 0.5, 8
TFLITE = (
    "fp32_tflite_float32",
    "pruned_clustered_tflite_float32",
    "pruned_clustered_tflite_float16",
    "pruned_clustered_tflite_dynamic_int8",
    "pruned_clustered_tflite_int8",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cfg = toy_config(epochs=8, early_stopping_patience=8, learning_rate=5e-3)
    optimize = {"prune_epochs": 2, "prune_target_sparsity": TARGET, "cluster_count": CLUSTERS}
    cfg = cfg.model_copy(update={"optimize": cfg.optimize.model_copy(update=optimize)})
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    train, valid, test = (toy_frame(n, 9, seed=s) for n, s in ((48, 1), (12, 2), (16, 3)))
    trained = train_ranker(cfg, tokenizer, train, valid, progress=False)
    before = [w.copy() for w in trained.model.get_weights()]
    out = tmp_path_factory.mktemp("variants")
    result = optimize_ranker(cfg, tokenizer, trained.model, (train, valid), out, progress=False)
    by_name = {v.name: v for v in result.variants}
    scores = {}
    for name, v in by_name.items():
        scorer = open_scorer(v.path, v.kind)
        parts = [
            scorer.score(tokenizer.encode(str(g["query"].iloc[0]), list(g["title"])))
            for _, g in test.groupby("query_id", sort=False)
        ]
        scores[name] = np.concatenate(parts)
    ordered = test.assign(
        _q=test["query_id"].map({q: i for i, q in enumerate(dict.fromkeys(test["query_id"]))})
    )
    ordered = ordered.sort_values("_q", kind="stable")
    return {
        "result": result,
        "variants": by_name,
        "scores": scores,
        "test": ordered,
        "model": trained.model,
        "before": before,
        "out": out,
        "tokenizer": tokenizer,
    }


def test_every_variant_is_recorded_with_its_parent(run: dict[str, Any]) -> None:
    variants = run["variants"]
    assert list(variants) == ["fp32", "pruned", "pruned_clustered", *TFLITE]
    parents = {name: v.parent for name, v in variants.items()}
    assert parents["fp32"] is None and parents["pruned"] == "fp32" and parents["pruned_clustered"] == "pruned"
    assert parents["fp32_tflite_float32"] == "fp32"
    assert all(parents[n] == "pruned_clustered" for n in TFLITE[1:])
    for v in variants.values():
        assert v.path.exists() and v.kind == ("tflite" if v.name in TFLITE else "savedmodel")
    assert not [p for p in run["out"].iterdir() if p.name.startswith(".")]  # no temporaries left


def test_the_trained_model_is_not_modified(run: dict[str, Any]) -> None:
    for now, before in zip(run["model"].get_weights(), run["before"], strict=True):
        np.testing.assert_array_equal(now, before)


def test_pruning_reaches_the_target_on_every_kernel(run: dict[str, Any]) -> None:
    pruned = compressible_weights(load_ranker(run["variants"]["pruned"].path))
    original = compressible_weights(run["model"])
    assert {"token_embedding/embeddings", "block0_attention/query/kernel", "block0_ffn_in/kernel"} <= set(
        pruned
    )
    for name, weights in pruned.items():
        zeros = float(np.mean(weights == 0))
        # tfmot rounds the number of pruned weights; allow one weight of slack per kernel.
        assert zeros >= TARGET - 1 / weights.size, f"{name}: {zeros:.3f} zeros"
        assert np.mean(original[name] == 0) < 0.01, f"{name} had zeros before pruning"
    assert run["result"].sparsity == pytest.approx({k: float(np.mean(v == 0)) for k, v in pruned.items()})


def test_clustering_keeps_few_values_and_the_zeros(run: dict[str, Any]) -> None:
    clustered = compressible_weights(load_ranker(run["variants"]["pruned_clustered"].path))
    for name, weights in clustered.items():
        assert len(np.unique(weights)) <= CLUSTERS, name
        assert np.mean(weights == 0) >= TARGET - 1 / weights.size, name
    assert max(run["result"].clusters.values()) <= CLUSTERS


def test_float_tflite_matches_its_savedmodel(run: dict[str, Any]) -> None:
    scores = run["scores"]
    np.testing.assert_allclose(scores["fp32_tflite_float32"], scores["fp32"], atol=1e-4)
    np.testing.assert_allclose(
        scores["pruned_clustered_tflite_float32"], scores["pruned_clustered"], atol=1e-4
    )
    np.testing.assert_allclose(
        scores["pruned_clustered_tflite_float16"], scores["pruned_clustered"], atol=0.05
    )


def test_quantized_tflite_ranks_like_fp32(run: dict[str, Any]) -> None:
    scores, test = run["scores"], run["test"]
    fp32_ndcg = ranking_metrics(test, scores["fp32"])["ndcg@10"]
    for name in ("pruned_clustered_tflite_dynamic_int8", "pruned_clustered_tflite_int8"):
        assert np.corrcoef(scores[name], scores["pruned_clustered"])[0, 1] > 0.98, name
        assert ranking_metrics(test, scores[name])["ndcg@10"] > fp32_ndcg - 0.05, name


def test_tflite_contract_and_int8_weights(run: dict[str, Any]) -> None:
    tokenizer = run["tokenizer"]
    for name in TFLITE:
        interpreter = Interpreter(model_path=str(run["variants"][name].path))
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
        assert inp["dtype"] == np.int32 and list(inp["shape_signature"]) == [
            -1,
            tokenizer.seq_len,
            tokenizer.subtokens,
        ]
        assert out["dtype"] == np.float32 and list(out["shape_signature"]) == [-1]
    interpreter = Interpreter(model_path=str(run["variants"]["pruned_clustered_tflite_int8"].path))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "QUANTIZE" in ops and "DEQUANTIZE" in ops  # int8 islands inside a float graph
    table = [t for t in interpreter.get_tensor_details() if list(t["shape"]) == [tokenizer.buckets, 16]]
    assert [t["dtype"] for t in table] == [np.int8]  # the embedding table, the bulk of the weights


def test_qat_outcome_is_recorded(run: dict[str, Any]) -> None:
    qat = run["result"].qat
    assert "quantize_model(ranker): " in qat and "quantize_apply(MultiHeadAttention annotated): " in qat


def test_fine_tune_history_is_kept(run: dict[str, Any]) -> None:
    history = run["result"].history
    assert [len(history["prune"]), len(history["cluster"])] == [2, 1]


def test_pruning_schedule_hits_the_target_step() -> None:
    # 100 fine-tune steps: 70% of them in 10 updates -> every 7 steps, the target at step 70.
    schedule = pruning_schedule(100, 0.5)
    config = schedule.get_config()["config"]
    assert (config["frequency"], config["end_step"], config["final_sparsity"]) == (7, 70, 0.5)
    # Very short fine-tunes still end on a pruning step inside the run.
    config = pruning_schedule(3, 0.5).get_config()["config"]
    assert (config["frequency"], config["end_step"]) == (1, 2)


def test_int8_needs_samples_and_modes_are_checked(run: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="representative samples"):
        convert(run["model"], "int8", [])
    with pytest.raises(ValueError, match="unknown LiteRT mode 'int4'"):
        convert(run["model"], "int4")  # type: ignore[arg-type]
