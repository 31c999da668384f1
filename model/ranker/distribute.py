"""Which tf.distribute strategy a run trains under, and how a batch is split across its replicas.

`train.distribute` picks the strategy (see model/config.py for the batch and learning-rate scaling rule).
A MultiWorkerMirroredStrategy must exist before TensorFlow runs its first op and only once per process,
so strategies are created once and cached here.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import tensorflow as tf

Mode = str  # "auto" | "one_device" | "mirrored" | "multi_worker"
_STRATEGIES: dict[str, tf.distribute.Strategy] = {}


def resolve_mode(mode: Mode, environ: Mapping[str, str], gpus: int) -> Mode:
    """`auto` -> multi_worker when TF_CONFIG is set, mirrored with more than one GPU, else one_device."""
    if mode != "auto":
        return mode
    if environ.get("TF_CONFIG"):
        return "multi_worker"
    return "mirrored" if gpus > 1 else "one_device"


def strategy_for(mode: Mode) -> tf.distribute.Strategy:
    """The (cached) strategy for `mode`; one_device is TF's default strategy, so one CPU runs as before."""
    resolved = resolve_mode(mode, os.environ, len(tf.config.list_physical_devices("GPU")))
    if resolved == "one_device":
        return tf.distribute.get_strategy()
    if resolved not in _STRATEGIES:
        if resolved == "multi_worker":
            if not os.environ.get("TF_CONFIG"):
                raise ValueError("train.distribute: multi_worker needs TF_CONFIG (see model/train_job.py)")
            _STRATEGIES[resolved] = tf.distribute.MultiWorkerMirroredStrategy()
        elif resolved == "mirrored":
            _STRATEGIES[resolved] = tf.distribute.MirroredStrategy()
        else:
            raise ValueError(f"train.distribute: unknown strategy {mode!r}")
    return _STRATEGIES[resolved]


def tf_config(hosts: str, index: str) -> dict[str, Any]:
    """TF_CONFIG for worker `index` of the comma-separated `hosts` (RANKSHIP_WORKER_HOSTS order).

    Raises ValueError naming the bad value: an empty or duplicated host, a host without a port, or an
    index that is not one of the workers.
    """
    workers = [h.strip() for h in hosts.split(",")]
    for host in workers:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"RANKSHIP_WORKER_HOSTS: {host!r} is not host:port (got {hosts!r})")
    if len(set(workers)) != len(workers):
        raise ValueError(f"RANKSHIP_WORKER_HOSTS: a worker is listed twice in {hosts!r}")
    if not index.strip().isdigit() or int(index) >= len(workers):
        raise ValueError(
            f"JOB_COMPLETION_INDEX: {index!r} is not a worker index 0..{len(workers) - 1} of RANKSHIP_WORKER_HOSTS"
        )
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": int(index)}}


def tf_config_json(hosts: str, index: str) -> str:
    return json.dumps(tf_config(hosts, index), sort_keys=True)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Worker 0 of a multi-worker run (or the only process otherwise) writes the results."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or resolver.task_type is None or int(resolver.task_id or 0) == 0


def replica_batches(order: npt.NDArray[np.int64], batch: int, replicas: int) -> list[npt.NDArray[np.int64]]:
    """Global batches of `batch` x `replicas` queries; a last batch too small to give every replica a
    query joins the one before it (an empty replica slice would have no loss to average)."""
    size = batch * replicas
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    if len(batches) > 1 and len(batches[-1]) < replicas:
        batches[-2:] = [np.concatenate(batches[-2:])]
    if batches and len(batches[-1]) < replicas:
        raise ValueError(f"{len(order)} training queries cannot be split across {replicas} replicas")
    return batches
