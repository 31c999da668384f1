"""Canary analysis CLI.

    python -m infra.canary cluster --stack S      # "aws-eks NAME REGION" or "existing NAME" (canary.yml)
    python -m infra.canary analyze --stack S --prometheus URL [--model NAME] [--write] [--report FILE]
                                   [--at TIME] [--no-live-check] [--root DIR] [--out DIR] [--timeout SECONDS]
                                   [--step-started TIME]

Reads the canary of every model in `Pulumi.<S>.yaml`, checks the live SeldonDeployment (kubeconfig or
in-cluster credentials), queries Prometheus and prints one decision per model. `--write` applies promote,
complete and rollback to the settings and re-renders `manifests/<S>/`; `--report` writes the Markdown for the
PR body. `--at` pins the analysis time (unix seconds or ISO 8601) so a re-run judges the same windows.
The progress deadline counts from the commit that put the canary at its step (`infra/canary/progress.py`),
or from `--step-started`.

Exit codes: 0 promote/complete, 10 hold, 11 hold because Prometheus or the cluster could not be read,
20 rollback, 30 stalled (a hold past the progress deadline), 2 bad input (settings, flags) or a stale
decision (the settings changed meanwhile).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from infra.canary.analyze import EXIT_HOLD, HeldFor, LiveSource, analyze_stack, exit_code, summary_line
from infra.canary.apply import StaleDecision, apply
from infra.canary.progress import deployed_for, held_for
from infra.canary.prometheus import DEFAULT_TIMEOUT_S, Prometheus
from infra.canary.report import markdown
from infra.gitops.atomic import write_text_atomic
from infra.live.kube import Kube
from infra.settings.cluster import EksCluster
from infra.settings.stack import SettingsError, StackSettings, load_stack_settings

EXIT_BAD_INPUT = 2


def parse_time(text: str) -> float:
    """Unix seconds or ISO 8601 (a time without a zone is UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--at {text!r}: not unix seconds or ISO 8601") from e
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.canary", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cluster", help="print the stack's cluster: provider, name (and region for EKS)")
    c.add_argument("--stack", required=True)
    c.add_argument("--root", type=Path, default=Path.cwd())
    a = sub.add_parser("analyze", help="judge the canaries of a stack and decide")
    a.add_argument("--stack", required=True)
    a.add_argument("--prometheus", required=True, help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    a.add_argument("--model", help="analyse only this model")
    a.add_argument("--write", action="store_true", help="apply the decision to the settings and manifests")
    a.add_argument("--report", type=Path, help="write the decision as Markdown to this file")
    a.add_argument("--at", type=parse_time, help="analysis time (default now)")
    a.add_argument(
        "--no-live-check", action="store_true", help="do not read the live SeldonDeployment (no cluster)"
    )
    a.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    a.add_argument("--out", type=Path, help="manifests folder (default ROOT/manifests)")
    a.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per Prometheus query")
    a.add_argument(
        "--step-started", type=parse_time, help="when the current step went live (default: from git history)"
    )
    return p


def _live(settings: StackSettings, skip: bool) -> LiveSource | None:
    if skip:
        return None
    holder: dict[str, Kube] = {}

    def read(namespace: str, name: str) -> dict[str, object] | None:
        # Connecting lazily keeps credential errors inside the per-model hold, with their reason.
        if "kube" not in holder:
            holder["kube"] = Kube.for_stack(settings)
        return holder["kube"].seldon_deployment(namespace, name)

    return read


def _held_for(args: argparse.Namespace, end: float) -> HeldFor:
    if args.step_started is not None:
        return lambda model: max(end - args.step_started, 0.0)
    from_git = held_for(args.root, args.stack, end)

    def age(model: str) -> float | None:
        got = from_git(model)
        if got is None:
            print(f"canary: {model}: step age unknown (no git history of Pulumi.{args.stack}.yaml): "
                  "progress deadline not applied")  # fmt: skip
        return got

    return age


def cluster(args: argparse.Namespace) -> int:
    c = load_stack_settings(args.stack, args.root).cluster
    print(" ".join([c.provider, c.name, *([c.region] if isinstance(c, EksCluster) else [])]))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "cluster":
        return cluster(args)
    settings = load_stack_settings(args.stack, args.root)
    if args.model is not None and args.model not in {m.name for m in settings.models}:
        raise SettingsError(f"Pulumi.{args.stack}.yaml", [f"--model {args.model!r}: no such model"])
    prom = Prometheus(args.prometheus, args.timeout)
    end = args.at if args.at is not None else time.time()
    held, deployed = _held_for(args, end), deployed_for(args.root, args.stack, end)
    live = _live(settings, args.no_live_check)
    decisions = analyze_stack(settings, prom, end, live, args.model, held, deployed)
    if not decisions:
        print(f"canary: stack {args.stack} has no canary to analyse")
    for d in decisions:
        print(f"canary: {summary_line(d)}")
    if args.report is not None:
        write_text_atomic(args.report, markdown(args.stack, decisions))
    if args.write:
        applied = apply(args.root, args.stack, decisions, args.out or args.root / "manifests")
        if applied.settings_changed:
            print(f"canary: wrote {applied.settings_path.name} and manifests/{args.stack}/")
    return exit_code(decisions) if decisions else EXIT_HOLD


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (SettingsError, StaleDecision) as e:
        print(f"canary: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
