"""Start the real `seldon-core-microservice` on a bundle (what `make serve` runs).

    .venv-serving/bin/python -m model.serving [--bundle DIR | --bundles-root DIR] [--http-port 9000]
        [--grpc-port 5000] [--metrics-port 6000] [--workers 1] [--threads 1] [--grpc-workers 1] ...

Without --bundle it serves the newest bundle under --bundles-root. The process is replaced by
seldon-core-microservice's main under the serving entry point (`entrypoint.py`, exec), which stops the REST
and gRPC servers together on SIGTERM, within RANKSHIP_DRAIN_SECONDS.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from model.release.bundle import BundleError, latest_bundle

MODEL_CLASS = "model.serving.seldon_model.RankshipRanker"
ENTRYPOINT = "model.serving.entrypoint"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model.serving", description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group()
    where.add_argument("--bundle", type=Path, help="the bundle directory to serve")
    where.add_argument(
        "--bundles-root", type=Path, default=Path("artifacts/bundles"), help="serve the newest bundle here"
    )
    for name, default in (("http-port", 9000), ("grpc-port", 5000), ("metrics-port", 6000)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (REST)")
    p.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    p.add_argument("--grpc-workers", type=int, default=1)
    p.add_argument("--grpc-threads", type=int, default=1)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def command(args: argparse.Namespace, bundle: Path) -> list[str]:
    """The seldon-core-microservice command line for `args`, under the serving entry point."""
    return [
        sys.executable, "-m", ENTRYPOINT, MODEL_CLASS, "--service-type", "MODEL",
        "--http-port", str(args.http_port), "--grpc-port", str(args.grpc_port),
        "--metrics-port", str(args.metrics_port),
        "--workers", str(args.workers), "--threads", str(args.threads),
        "--grpc-workers", str(args.grpc_workers), "--grpc-threads", str(args.grpc_threads),
        "--log-level", args.log_level,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        bundle = args.bundle or latest_bundle(args.bundles_root)
    except (BundleError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not bundle.is_dir():
        print(f"error: {bundle}: not a directory", file=sys.stderr)
        return 2
    env = dict(os.environ, RANKSHIP_BUNDLE=str(bundle.resolve()))
    # Seldon 1.17.1 echoes custom metrics into every answer unless told not to.
    env.setdefault("INCLUDE_METRICS_IN_CLIENT_RESPONSE", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    cmd = command(args, bundle)
    print(
        f"serving {bundle} (REST :{args.http_port}, gRPC :{args.grpc_port}, metrics :{args.metrics_port})",
        flush=True,
    )
    os.chdir(REPO_ROOT)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
