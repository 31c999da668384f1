"""Seldon metrics written in batches: the same values, one Manager write per flush, nothing for empty updates."""

from __future__ import annotations

import os
from typing import Any

from seldon_core.metrics import SeldonMetrics

from model.serving import metrics_batch, seldon_model  # noqa: F401 (importing the model installs the queue)


def _counter(key: str, value: float) -> dict[str, Any]:
    return {"type": "COUNTER", "key": key, "value": value, "tags": {"bundle_version": "v"}}


def test_updates_are_queued_and_written_together_per_method() -> None:
    writes: list[tuple[object, list[dict[str, Any]], str]] = []
    queue = metrics_batch._Queue(lambda m, batch, method: writes.append((m, batch, method)), interval=3600)
    owner = object()
    queue.put(owner, [_counter("a", 1)], "predict")  # type: ignore[arg-type]
    queue.put(owner, [], "predict")  # type: ignore[arg-type]
    queue.put(owner, [_counter("a", 2), _counter("b", 1)], "predict")  # type: ignore[arg-type]
    queue.put(owner, [_counter("f", 1)], "feedback")  # type: ignore[arg-type]
    assert writes == []  # nothing on the request path
    queue.flush()
    assert [(len(batch), method) for _, batch, method in writes] == [(3, "predict"), (1, "feedback")]
    queue.flush()
    assert len(writes) == 2  # nothing new: no write


def test_a_real_seldon_registry_gets_the_same_counts() -> None:
    registry = SeldonMetrics(worker_id_func=os.getpid)
    timer = {"type": "TIMER", "key": "rankship_inference_seconds", "value": 12.0, "tags": {}}
    for _ in range(5):
        registry.update([_counter("rankship_requests", 1), dict(timer, tags={})], "predict")
    metrics_batch.flush()
    data = registry.data.get(os.getpid(), {})
    counts = {key[1]: entry["value"] for key, entry in data.items()}
    assert counts["rankship_requests"] == 5
    buckets, total = counts["rankship_inference_seconds"]
    assert sum(buckets) == 5 and abs(total - 5 * 0.012) < 1e-9  # five observations of 12 ms
