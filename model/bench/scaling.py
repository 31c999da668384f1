"""Examples per second with 1 and N CPU workers of a MultiWorkerMirroredStrategy on 127.0.0.1.

    python -m model.bench.scaling [--workers 1 2] [--preset tiny] [--epochs 2]

Each worker is a process (`python -m model.bench.scaling worker ...`) with its own TF_CONFIG on a free
local port; every worker trains on the same data with the same seed. The same launcher runs the
multi-worker equivalence test (tests/model/ranker/test_distribute.py). Figures, not assertions: on a shared
2-core machine two workers compete for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

WORKER_TIMEOUT_S = 300


def free_ports(n: int) -> list[int]:
    """Ports the kernel hands out now; held open together so they differ."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def worker(config: Path, out: Path) -> None:
    """Train on the config's data split and write result-<index>.json and weights-<index>.npz to `out`."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from model.config import load_config
    from model.ranker.distribute import strategy_for

    cfg = load_config(config)
    strategy_for(cfg.train.distribute)  # before any TensorFlow op (see model/ranker/distribute.py)
    import numpy as np

    from model.data import load
    from model.data.splits import split_by_query
    from model.ranker.train import train_ranker
    from model.text.features import fit_texts
    from model.text.vocabulary import fit_tokenizer

    splits = split_by_query(load(cfg.data), cfg.data.split, cfg.data.seed)
    tokenizer = fit_tokenizer(cfg.tokenizer, fit_texts(splits.train, splits.valid, splits.test))
    result = train_ranker(cfg, tokenizer, splits.train, splits.valid, False)
    index = json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"]
    np.savez(out / f"weights-{index}.npz", *result.model.get_weights())
    summary = {
        "valid_ndcg": [r.valid_ndcg for r in result.history],
        "examples_per_second": result.examples_per_second,
        "train_seconds": sum(r.seconds for r in result.history),
        "examples": sum(r.examples_per_second * r.seconds for r in result.history),
    }
    (out / f"result-{index}.json").write_text(json.dumps(summary), encoding="utf-8")


def launch(
    workers: int, config: Path, out: Path, timeout_s: float = WORKER_TIMEOUT_S
) -> list[dict[str, Any]]:
    """Run `workers` worker processes (TF_CONFIG each; none for a single worker); their results by index.

    Raises RuntimeError naming the worker that failed or timed out; every process is stopped on return.
    """
    hosts = [f"127.0.0.1:{p}" for p in free_ports(workers)]
    procs = []
    try:
        for i in range(workers):
            env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
            env.pop("TF_CONFIG", None)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps(
                    {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
                )
            cmd = [
                sys.executable,
                "-m",
                "model.bench.scaling",
                "worker",
                "--config",
                str(config),
                "--out",
                str(out),
            ]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        for i, proc in enumerate(procs):
            try:
                output, _ = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired as e:
                raise RuntimeError(f"worker {i} of {workers} still running after {timeout_s} s") from e
            if proc.returncode != 0:
                tail = output.decode(errors="replace")[-3000:]
                raise RuntimeError(f"worker {i} of {workers} exited {proc.returncode}:\n{tail}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    return [json.loads((out / f"result-{i}.json").read_text()) for i in range(workers)]


def write_config(
    path: Path, preset: str, train: dict[str, Any], ranker: dict[str, Any] | None = None
) -> Path:
    path.write_text(
        yaml.safe_dump({"preset": preset, "train": train, "ranker": ranker or {}}), encoding="utf-8"
    )
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.bench.scaling", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd")
    w = sub.add_parser("worker", help="(internal) one worker process")
    w.add_argument("--config", type=Path, required=True)
    w.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args(argv)
    if args.cmd == "worker":
        worker(args.config, args.out)
        return 0
    print(f"{'workers':>7} {'examples/s':>11} {'train s':>8} {'valid NDCG@10':>14}")
    for n in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            mode = "multi_worker" if n > 1 else "one_device"
            train = {"epochs": args.epochs, "early_stopping_patience": args.epochs, "distribute": mode}
            results = launch(n, write_config(Path(tmp) / "c.yaml", args.preset, train), Path(tmp))
        chief = results[0]
        print(
            f"{n:>7} {chief['examples_per_second']:>11.0f} {chief['train_seconds']:>8.1f} "
            f"{chief['valid_ndcg'][-1]:>14.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
