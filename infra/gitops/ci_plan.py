"""What a change must pass on GitHub, decided inside the `ci` workflow (no `paths:` filters, which would leave the
required check waiting forever on a PR they skip).

    python -m infra.gitops.ci_plan --base <rev> [--head <rev>]   # key=value lines for $GITHUB_OUTPUT
    python -m infra.gitops.ci_plan --only <stack>                # the same for one stack (a dispatched deploy)
    python -m infra.gitops.ci_plan --all                         # every stack (the scheduled drift check)
    python -m infra.gitops.ci_plan --pulumi-version              # version=<the Pulumi SDK's, from uv.lock>

Output (every key always present, JSON values):
    stacks=["prod"]              stacks CI previews and deploys: aws-eks, reached with the OIDC roles
    local_stacks=["dev"]         stacks on an `existing` cluster (kind, on-prem): no hosted runner has their
                                 kubeconfig; cluster-e2e deploys dev's settings to kind, anything else is by hand
    example_stacks=["staging"]   aws-eks stacks still marked `example: true` (placeholders): rendered and validated
                                 by `make test`, never previewed or deployed (docs/gitops.md#fill-in-a-stack)
    model=true                   the model changed: the tiny pipeline and its report run
    cluster_e2e=true             the kind + Seldon + Prometheus end-to-end run is needed
`make test` runs for every change; docs/gitops.md (Required check) draws the whole decision.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path

from infra.gitops.changes import EVERY_STACK_FILES, affected_stacks, changed_paths
from infra.settings.stack import SettingsError, load_stack_settings, stack_names

MODEL_PREFIXES = ("model/", "tests/model/")
MODEL_FILES = ("pyproject.toml", "uv.lock")
# What the cluster end-to-end run exercises: the canary analysis, the specs it applies, the live checks, the
# serving image, and dev's settings (copied as stack `e2e`).
E2E_PREFIXES = (
    "infra/canary/",
    "infra/specs/",
    "infra/live/verify.py",
    "infra/live/kube.py",
    "infra/live/drift.py",
    "model/serving/",
    "manifests/dev/",
)
E2E_FILES = ("Pulumi.dev.yaml", ".github/workflows/cluster-e2e.yml")


def split_reachable(stacks: Iterable[str], root: Path) -> dict[str, list[str]]:
    """The stacks by what CI can do with them (keys as in the output); raises SettingsError on bad settings."""
    split: dict[str, list[str]] = {"stacks": [], "local_stacks": [], "example_stacks": []}
    for stack in stacks:
        settings = load_stack_settings(stack, root)
        key = "local_stacks" if not settings.is_eks else "example_stacks" if settings.example else "stacks"
        split[key].append(stack)
    return split


def plan(paths: Sequence[str], stacks: Sequence[str], root: Path) -> dict[str, object]:
    return {
        **split_reachable(affected_stacks(paths, stacks), root),
        "model": any(p.startswith(MODEL_PREFIXES) or p in MODEL_FILES for p in paths),
        "cluster_e2e": any(p.startswith(E2E_PREFIXES) or p in E2E_FILES for p in paths),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.gitops.ci_plan", description=__doc__.split("\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", help="revision the change starts from")
    which.add_argument("--only", help="a single stack, checked to exist")
    which.add_argument("--all", action="store_true", help="every stack")
    which.add_argument("--pulumi-version", action="store_true", help="the Pulumi CLI version CI installs")
    p.add_argument("--head", default="HEAD", help="revision the change ends at (default HEAD)")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    args = p.parse_args(argv)
    if args.pulumi_version:
        # The CLI and the SDK are released together; one version for preview, up and refresh, the locked one.
        print(f"version={version('pulumi')}")
        return 0
    stacks = stack_names(args.root)
    if args.only is not None and args.only not in stacks:
        p.error(f"unknown stack {args.only!r}: no Pulumi.{args.only}.yaml (stacks: {', '.join(stacks)})")
    try:
        if args.base is not None:
            paths = changed_paths(args.root, args.base, args.head)
        else:
            paths = [f"Pulumi.{s}.yaml" for s in ([args.only] if args.only else stacks)]
    except subprocess.CalledProcessError as e:
        print(f"ci_plan: git diff {args.base} {args.head} failed: {e.stderr.strip()}", file=sys.stderr)
        return 2
    if paths is None:
        print(f"ci_plan: base {args.base!r} is not a known commit; everything is affected", file=sys.stderr)
        paths = [*EVERY_STACK_FILES, *E2E_FILES]
    try:
        decided = plan(paths, stacks, args.root)
    except SettingsError as e:
        print(f"ci_plan: {e}", file=sys.stderr)
        return 2
    for key, value in decided.items():
        print(f"{key}={json.dumps(value, separators=(',', ':'))}")
    for line in not_previewed(split_reachable(affected_stacks(paths, stacks), args.root)):
        print(f"ci_plan: {line}", file=sys.stderr)
    return 0


def not_previewed(split: dict[str, list[str]]) -> list[str]:
    """Why each affected stack that CI does not preview is left out (for the log and the PR summary)."""
    local = [
        f"stack {s} runs on an existing cluster no hosted runner can reach: not previewed or deployed by CI "
        f"(cluster-e2e deploys dev's settings to kind; otherwise `pulumi preview --stack {s}` locally)"
        for s in split["local_stacks"]
    ]
    examples = [
        f"stack {s} is marked `example: true` (placeholder values): rendered and validated, not previewed; "
        "fill it as docs/gitops.md#fill-in-a-stack says"
        for s in split["example_stacks"]
    ]
    return local + examples


if __name__ == "__main__":
    sys.exit(main())
