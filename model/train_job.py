"""`python -m model train-job`: one worker of the Kubernetes training Job (infra/specs/training.py).

Every worker composes its TF_CONFIG from RANKSHIP_WORKER_HOSTS and JOB_COMPLETION_INDEX, then runs
data and train with the same settings and seed (MultiWorkerMirroredStrategy keeps the weights equal).
Workers other than the chief (index 0) exit 0 after training; the chief optimizes, evaluates, gates,
packages and uploads: the bundle to RANKSHIP_OUTPUT_URI<bundle_id>/, the report to RANKSHIP_RUN_URI report/
and, last (its presence means the run shipped), RANKSHIP_RUN_URI latest.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from model.config import ConfigError, PipelineConfig, load_config
from model.ranker.distribute import tf_config


@dataclass(frozen=True)
class JobEnv:
    """The Job's environment, checked: see infra/README.md, "Training on the cluster"."""

    hosts: str
    index: int
    workers: int
    output_uri: str
    run_uri: str
    baseline_uri: str | None  # None: the run has no production baseline
    pipeline_config: Path
    artifacts_dir: Path

    @property
    def chief(self) -> bool:
        return self.index == 0


def job_env(environ: Mapping[str, str]) -> JobEnv:
    """Raises ConfigError naming the missing or malformed variable."""

    def need(name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise ConfigError(f"{name} is not set (the training Job sets it; see infra/README.md)")
        return value

    hosts, index = need("RANKSHIP_WORKER_HOSTS"), need("JOB_COMPLETION_INDEX")
    try:
        composed = tf_config(hosts, index)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    for name in ("RANKSHIP_OUTPUT_URI", "RANKSHIP_RUN_URI"):
        if not need(name).endswith("/"):
            raise ConfigError(f"{name}: {environ[name]!r} must name a folder (end with '/')")
    return JobEnv(
        hosts=hosts,
        index=composed["task"]["index"],
        workers=len(composed["cluster"]["worker"]),
        output_uri=need("RANKSHIP_OUTPUT_URI"),
        run_uri=need("RANKSHIP_RUN_URI"),
        baseline_uri=environ.get("RANKSHIP_BASELINE_URI", "").strip() or None,
        pipeline_config=Path(need("RANKSHIP_PIPELINE_CONFIG")),
        artifacts_dir=Path(need("RANKSHIP_ARTIFACTS_DIR")),
    )


def job_config(env: JobEnv) -> PipelineConfig:
    """The pipeline settings; a multi-worker Job trains under multi_worker whatever the file says."""
    cfg = load_config(env.pipeline_config)
    if env.workers > 1 and cfg.train.distribute not in ("auto", "multi_worker"):
        raise ConfigError(
            f"{env.pipeline_config}: train.distribute: {cfg.train.distribute!r} cannot run on "
            f"{env.workers} workers; use auto or multi_worker"
        )
    return cfg


def run_job(environ: Mapping[str, str], progress: bool = False) -> int:
    """One worker's part of the Job; returns the exit code (0, or 1 when the chief's gate failed)."""
    from model import pipeline as pl
    from model import steps
    from model.release.package import step_package
    from model.release.upload import store_for

    env = job_env(environ)
    cfg = job_config(env)
    if env.workers > 1 or cfg.train.distribute == "multi_worker":
        # Before TensorFlow runs any op: the strategy reads it once, at creation.
        os.environ["TF_CONFIG"] = json.dumps(tf_config(env.hosts, str(env.index)))
    ws = pl.Workspace(env.artifacts_dir / "run")
    timer = pl.Timer()
    timer.run("data", steps.step_data, cfg, ws)
    # Every worker pre-trains (the same seeded steps under the same multi-worker strategy).
    timer.run("pretrain", steps.step_pretrain, cfg, ws, progress)
    timer.run("train", steps.step_train, cfg, ws, progress)
    if not env.chief:
        print(f"train-job: worker {env.index} of {env.workers} done; the chief packages")
        return 0
    baseline = None
    if env.baseline_uri is not None:
        baseline = env.artifacts_dir / "baseline"
        store_for(env.baseline_uri).get_dir(env.baseline_uri, baseline)
    timer.run("optimize", steps.step_optimize, cfg, ws, progress)
    timer.run("evaluate", steps.step_evaluate, cfg, ws, baseline, dict(timer.seconds), progress)
    result = step_package(cfg, ws, dict(timer.seconds))
    store_for(env.run_uri).put_dir(ws.report, env.run_uri + "report/")
    if result.bundle is None:
        print("train-job: gate FAILED — report uploaded, no bundle", flush=True)
        return 1
    bundle_uri = f"{env.output_uri}{result.bundle.bundle_id}/"
    store_for(bundle_uri).put_dir(result.bundle.path, bundle_uri)
    latest = env.artifacts_dir / "latest.json"
    pl.write_json(
        latest,
        {
            "bundle_id": result.bundle.bundle_id,
            "version": result.bundle.version,
            "bundle_uri": bundle_uri,
            "report_uri": env.run_uri + "report/",
            "gate_passed": True,
        },
    )
    store_for(env.run_uri).put_file(latest, env.run_uri + "latest.json")
    print(f"train-job: shipped bundle {result.bundle.bundle_id} to {bundle_uri}")
    return 0
