"""What the release workflow needs to train on the cluster: the training settings, one run's objects.

    python -m infra.live.train_job settings --stack S [--run-id R]       # JSON: runner, cluster, job, URIs ...
    python -m infra.live.train_job render --stack S [--run-id R] [--image REF] [--baseline-uri URI]
                                     [--ttl-seconds N] [--out FILE]  # ConfigMap, Service, Job as YAML

`render` writes the run's objects (from the same builder as `manifests/<stack>/`) for `kubectl apply -f`. The
overrides are validated like the stack file: `--run-id` and `--image` go through the settings schema, so a bad
value is reported as `training.run_id: ...` and nothing is written. The shared objects (namespace, service
account, network policy) are not part of a run: `pulumi up` or the GitOps sync of the stack creates them.

Exit codes: 0 done, 2 bad input (unknown stack, invalid settings or flags, runner is not `cluster`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.gitops.atomic import write_text_atomic
from infra.gitops.manifests import dump_yaml
from infra.settings.cluster import EksCluster
from infra.settings.stack import (
    SettingsError,
    StackSettings,
    load_stack_settings,
    parse_settings,
    settings_to_config,
    stack_file,
    stack_names,
)
from infra.specs import naming as n
from infra.specs.training import training_run_objects

_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(\S+/)?$")


def run_settings(root: Path, stack: str, run_id: str | None, image: str | None) -> StackSettings:
    """The stack's settings with this run's id and image, validated by the settings schema."""
    if stack not in stack_names(root):
        raise SettingsError(
            f"Pulumi.{stack}.yaml", [f"unknown stack (stacks: {', '.join(stack_names(root))})"]
        )
    settings = load_stack_settings(stack, root)
    overrides = {k: v for k, v in (("run_id", run_id), ("image", image)) if v is not None}
    if not overrides:
        return settings
    raw = settings_to_config(settings)
    raw["training"] = {**raw.get("training", {}), **overrides}
    flags = " ".join(f"--{k.replace('_', '-')}" for k in overrides)
    return parse_settings(raw, f"{stack_file(stack, root)} with {flags}")


def describe(settings: StackSettings) -> dict[str, Any]:
    """Plain facts about the stack's training for the workflow (JSON types only)."""
    t, cluster = settings.training, settings.cluster
    run = t.run_id
    return {
        "runner": t.runner,
        "provider": cluster.provider,
        "cluster": cluster.name,
        "region": cluster.region if isinstance(cluster, EksCluster) else None,
        "namespace": t.namespace,
        "run_id": run,
        "job": n.train_job_name(run) if run else None,
        "replicas": t.replicas,
        "gpus_per_replica": t.gpus_per_replica,
        "image": t.image,
        "output_uri": t.output_uri,
        "run_uri": t.run_uri(run) if run and t.output_uri else None,
        "active_deadline_seconds": t.active_deadline_seconds,
    }


def render_run(settings: StackSettings, source: str, baseline_uri: str | None, ttl: int | None) -> str:
    """The run's objects as one multi-document YAML text (raises SettingsError on unusable input)."""
    problems = []
    if not settings.training.on_cluster:
        problems.append("training.runner: is 'actions'; set it to 'cluster' to train as a Kubernetes Job")
    if baseline_uri is not None and not _S3_PREFIX.fullmatch(baseline_uri):
        problems.append(f"--baseline-uri: must be an s3://<bucket>/<prefix>/ folder, got {baseline_uri!r}")
    if ttl is not None and ttl < 0:
        problems.append(f"--ttl-seconds: must be >= 0, got {ttl}")
    if problems:
        raise SettingsError(source, problems)
    objects = training_run_objects(settings, baseline_uri=baseline_uri, ttl_seconds=ttl)
    return "".join(f"---\n{dump_yaml(obj)}" for obj in objects)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.live.train_job", description=__doc__.split("\n")[0])
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for name, what in (
        ("settings", "print the training settings as JSON"),
        ("render", "write one run's objects"),
    ):
        sp = sub.add_parser(name, help=what)
        sp.add_argument("--stack", required=True)
        sp.add_argument("--run-id", help="name of this run (default: training.run_id of the stack)")
        if name == "render":
            sp.add_argument("--image", help="trainer image by digest (default: training.image)")
            sp.add_argument("--baseline-uri", help="s3:// folder of the production bundle for the gate")
            sp.add_argument("--ttl-seconds", type=int, help="delete the finished Job after this long")
            sp.add_argument("--out", type=Path, help="output file (default: stdout)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = run_settings(args.root, args.stack, args.run_id, getattr(args, "image", None))
        if args.command == "settings":
            print(json.dumps(describe(settings), indent=2))
            return 0
        text = render_run(
            settings, str(stack_file(args.stack, args.root)), args.baseline_uri, args.ttl_seconds
        )
    except SettingsError as e:
        print(f"train_job: {e}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
