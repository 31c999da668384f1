"""Run history: every `package`/`pipeline` run recorded with MLflow tracking, and a table to compare them.

Recorded per run: the settings (flattened into parameters), every variant's metrics, BM25's, the step
timings, the gate outcome and the bundle id (tags), and the report folder plus latest.json (artifacts).

Where: `MLFLOW_TRACKING_URI` when a team has a tracking server; otherwise a local SQLite store beside the
run's outputs, `<out>/mlruns/mlflow.db`, with artifacts in `<out>/mlruns/artifacts/`. (MLflow 3 refuses new
plain-file stores; SQLite works with mlflow-skinny because optuna already brings SQLAlchemy.)

    python -m model.release.runs --out artifacts      # `make runs`: the last runs as a table
    mlflow ui --backend-store-uri sqlite:///artifacts/mlruns/mlflow.db   # with the full `mlflow` package

A tracking server that cannot be reached does not fail the run: the bundle and the report are already
written; the run says what it could not record.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.config import PipelineConfig
from model.evaluation.record import RunRecord

EXPERIMENT = "rankship"
PARAMS_PER_BATCH = 100  # MLflow's limit per log_batch call
# Columns of `make runs`: (where, key, header); where is "tag", "metric" or "start".
COLUMNS = (
    ("start", "", "started (UTC)"),
    ("tag", "preset", "preset"),
    ("tag", "data_source", "data"),
    ("tag", "shipped", "shipped variant"),
    ("metric", "shipped.ndcg_at_10", "NDCG@10"),
    ("metric", "shipped.size_gzip_kib", "gzip KiB"),
    ("metric", "shipped.latency_p99_ms", "p99 ms"),
    ("metric", "bm25.ndcg_at_10", "BM25 NDCG@10"),
    ("tag", "gate", "gate"),
    ("tag", "bundle_version", "bundle"),
)


def store_dir(out: Path) -> Path:
    return Path(out).absolute() / "mlruns"


def tracking_uri(out: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_dir(out) / 'mlflow.db'}"


def _client(out: Path) -> Any:
    """An MlflowClient on the run history of `out` (no global state: mlflow.set_tracking_uri would
    export MLFLOW_TRACKING_URI to the whole process), with its start-up chatter held back."""
    # MLflow's own SQLAlchemy mappings use the deprecated `noload`; nothing in our code to change.
    warnings.filterwarnings("ignore", message=r".*noload.*")
    from mlflow import MlflowClient

    # After the import, which sets its loggers to MLFLOW_LOGGING_LEVEL or INFO ("Creating initial MLflow
    # database tables..." on every new store).
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if "MLFLOW_TRACKING_URI" not in os.environ:
        store_dir(out).mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri(out))


def _experiment_id(client: Any, out: Path) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    local = "MLFLOW_TRACKING_URI" not in os.environ
    artifacts = (store_dir(out) / "artifacts").as_uri() if local else None
    return str(client.create_experiment(EXPERIMENT, artifact_location=artifacts))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow parameters: {"train": {"epochs": 8}} -> {"train.epochs": "8"}; keys
    spelled as MLflow allows (gate.absolute.ndcg@10 -> gate.absolute.ndcg_at_10)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = metric_name(f"{prefix}{key}")
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)
    return out


def metric_name(name: str) -> str:
    """MLflow names allow no "@": ndcg@10 -> ndcg_at_10."""
    return name.replace("@", "_at_")


def run_metrics(record: RunRecord) -> dict[str, float]:
    metrics = {f"{v.name}.{metric_name(k)}": value for v in record.variants for k, value in v.metrics.items()}
    metrics |= {f"bm25.{metric_name(k)}": value for k, value in record.bm25.items()}
    # Variant metrics above are the selection split's (what the gate judged); test ones are reported apart.
    metrics |= {
        f"{v.name}.test_{metric_name(k)}": x for v in record.variants for k, x in v.test_metrics.items()
    }
    metrics |= {
        f"{m.name}.{split}_{metric_name(k)}": x
        for m in record.models
        for split, values in m.metrics.items()
        for k, x in values.items()
    }
    metrics |= {f"seconds.{step}": value for step, value in record.timings_s.items()}
    if record.shipped is not None:
        shipped = record.variant(record.shipped).metrics
        metrics |= {f"shipped.{metric_name(k)}": value for k, value in shipped.items()}
        metrics["shipped.size_gzip_kib"] = shipped.get("size_gzip_bytes", float("nan")) / 1024
    return metrics


def _tags(record: RunRecord) -> dict[str, str]:
    return {
        "preset": record.preset,
        "data_source": record.data_source,
        "shipped": record.shipped or "-",
        "gate": "passed" if record.shipped else "failed",
        "bundle_id": record.bundle_id or "-",
        "bundle_version": (record.bundle_id or "-")[:12],
    }


def record_run(cfg: PipelineConfig, record: RunRecord, report_dir: Path, out: Path) -> str | None:
    """Log one run; returns its MLflow run id, or None (with a message) when the store cannot be written."""
    try:
        from mlflow.entities import Metric, Param

        client = _client(out)
        run = client.create_run(_experiment_id(client, out), run_name=cfg.preset, tags=_tags(record))
        run_id = str(run.info.run_id)
        now = int(time.time() * 1000)
        params = [Param(k, v) for k, v in flatten(cfg.model_dump(mode="json")).items()]
        for i in range(0, len(params), PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[i : i + PARAMS_PER_BATCH])
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in run_metrics(record).items()])
        client.log_artifacts(run_id, str(report_dir), "report")
        latest = Path(out) / "latest.json"
        if latest.exists():
            client.log_artifact(run_id, str(latest))
        client.set_terminated(run_id)
        return run_id
    except Exception as e:  # history is a convenience: the run's results are already written
        print(f"run history: not recorded in {tracking_uri(out)} ({type(e).__name__}: {e})", file=sys.stderr)
        return None


def _cell(run: Any, where: str, key: str) -> str:
    if where == "start":
        return datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    if where == "tag":
        return str(run.data.tags.get(key, "–"))
    value = run.data.metrics.get(key)
    if value is None or value != value:  # absent or NaN
        return "–"
    return f"{value:.1f}" if key.endswith(("kib", "_ms")) else f"{value:.4f}"


def runs_table(out: Path, limit: int = 20) -> str:
    """The last `limit` runs, newest first, as an aligned text table."""
    client = _client(out)
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is None:
        return f"no runs recorded yet in {tracking_uri(out)}; `make demo` records one"
    runs = client.search_runs(
        [found.experiment_id], order_by=["attributes.start_time DESC"], max_results=limit
    )
    rows = [[header for _, _, header in COLUMNS]]
    rows += [[_cell(run, where, key) for where, key, _ in COLUMNS] for run in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join([*lines, "", f"{len(runs)} run(s) in {tracking_uri(out)}"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.release.runs", description="List the recorded runs.")
    p.add_argument("--out", type=Path, default=Path("artifacts"), help="the runs' output folder")
    p.add_argument("--limit", type=int, default=20, help="how many runs, newest first (default 20)")
    args = p.parse_args(argv)
    print(runs_table(args.out, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
