"""Latency of every runtime measured the way serving runs it, in one fresh process.

Like for like: the TensorFlow SavedModel and every LiteRT file run with the same thread count
(`evaluate.threads`: TensorFlow's intra- and inter-op pools and LiteRT's interpreter threads, as
serving's RANKSHIP_LITERT_THREADS), on the same input of `evaluate.latency_candidates` candidates. A
fresh process is the only way to give TensorFlow its thread pools: they are fixed when it first runs
an op, and training in the same process already did (with every core).

Robust: the targets are measured in `rounds` interleaved rounds (each target once per round, after a
warm-up), so a burst of load on a shared machine hits every target, not just the one measured at that
moment. Reported values are the median over rounds; `latency_p99_vs_reference` is the median over
rounds of p99(target) / p99(reference), which cancels machine load that a single absolute figure keeps.
Each figure comes on two clocks: wall time (`latency_*`) and the CPU time of the measuring process
(`latency_cpu_*`), which other processes on a shared runner hardly stretch (measured on this 2-core
machine at load 5: float LiteRT, 100 candidates, p99 22.1 ms wall vs 9.6 ms CPU, the quiet wall p99
being ~10 ms). The gate judges the clock `gate.latency_clock` names.

    python -m model.evaluation.latency SPEC.json   # writes SPEC.json's "output" file
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "savedmodel" | "tflite"
    path: str


@dataclass(frozen=True)
class Setup:
    threads: int
    runs: int
    warmup: int
    rounds: int


def summarize(
    per_round: dict[str, list[dict[str, float]]], reference: str | None
) -> dict[str, dict[str, float]]:
    """Median over rounds of p50/p99/mean, the worst round's p99, and the median per-round ratio of p99
    to `reference`'s p99 (when the reference was measured); the same on the CPU clock when the rounds
    carry it (`latency_cpu_*`)."""
    out: dict[str, dict[str, float]] = {}
    for name, rounds in per_round.items():
        p99 = np.array([r["p99_ms"] for r in rounds])
        figures = {
            "latency_p50_ms": float(np.median([r["p50_ms"] for r in rounds])),
            "latency_p99_ms": float(np.median(p99)),
            "latency_mean_ms": float(np.median([r["mean_ms"] for r in rounds])),
            "latency_p99_max_ms": float(p99.max()),
            "latency_rounds": float(len(rounds)),
        }
        cpu = all("cpu_p99_ms" in r for r in rounds)
        if cpu:
            cpu_p99 = np.array([r["cpu_p99_ms"] for r in rounds])
            figures["latency_cpu_p50_ms"] = float(np.median([r["cpu_p50_ms"] for r in rounds]))
            figures["latency_cpu_p99_ms"] = float(np.median(cpu_p99))
        if reference in per_round:
            ref_rounds = per_round[reference]
            ref = np.array([r["p99_ms"] for r in ref_rounds])
            figures["latency_p99_vs_reference"] = float(np.median(p99 / ref))
            if cpu and all("cpu_p99_ms" in r for r in ref_rounds):
                ref_cpu = np.array([r["cpu_p99_ms"] for r in ref_rounds])
                figures["latency_cpu_p99_vs_reference"] = float(np.median(cpu_p99 / ref_cpu))
        out[name] = figures
    return out


def measure(
    targets: list[Target],
    tokens: Mapping[str, npt.NDArray[np.int32]],
    setup: Setup,
    reference: str | None = None,
) -> dict[str, dict[str, float]]:
    """Latency figures per target name, measured in a child process (see the module docstring).
    `tokens[name]` is the target's input: one query with its candidates, encoded by its tokenizer."""
    with tempfile.TemporaryDirectory(prefix="rankship-latency-") as tmp:
        spec = Path(tmp) / "spec.json"
        inputs = {}
        for i, t in enumerate(targets):
            inputs[t.name] = str(Path(tmp) / f"tokens-{i}.npy")
            np.save(inputs[t.name], np.ascontiguousarray(tokens[t.name], dtype=np.int32))
        spec.write_text(
            json.dumps(
                {
                    "targets": [asdict(t) for t in targets],
                    "setup": asdict(setup),
                    "tokens": inputs,
                    "output": str(Path(tmp) / "out.json"),
                }
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        proc = subprocess.run(
            [sys.executable, "-m", "model.evaluation.latency", str(spec)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"latency measurement failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        per_round = json.loads((Path(tmp) / "out.json").read_text(encoding="utf-8"))
    return summarize(per_round, reference)


def _child(spec_path: Path) -> None:
    from model.evaluation.scoring import measure_latency, open_scorer

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    setup = Setup(**spec["setup"])
    targets = [Target(**t) for t in spec["targets"]]
    if any(t.kind == "savedmodel" for t in targets):
        import tensorflow as tf

        # Before any op runs: afterwards TensorFlow refuses to change its pools.
        tf.config.threading.set_intra_op_parallelism_threads(setup.threads)
        tf.config.threading.set_inter_op_parallelism_threads(setup.threads)
    tokens = {name: np.load(path) for name, path in spec["tokens"].items()}
    scorers = {t.name: open_scorer(Path(t.path), t.kind, setup.threads, t.name) for t in targets}
    per_round: dict[str, list[dict[str, float]]] = {t.name: [] for t in targets}
    for _ in range(setup.rounds):
        for name, scorer in scorers.items():
            per_round[name].append(measure_latency(scorer, tokens[name], setup.runs, setup.warmup))
    Path(spec["output"]).write_text(json.dumps(per_round), encoding="utf-8")


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
