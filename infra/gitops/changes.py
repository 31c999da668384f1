"""Which stacks a change touches, so CI previews and deploys only those.

    python -m infra.gitops.changes --base <rev> [--head <rev>]   # JSON list, e.g. ["prod"]
    python -m infra.gitops.changes --only <stack>                # ["<stack>"], after checking the stack exists

A change to a stack's settings (`Pulumi.<stack>.yaml`) or to its rendered folder (`manifests/<stack>/`)
touches that stack; a change to the program, the builders or the locked environment touches every stack.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from infra.settings.stack import stack_names

EVERY_STACK_PREFIXES = ("infra/",)
EVERY_STACK_FILES = ("Pulumi.yaml", "pyproject.toml", "uv.lock")
_STACK_FILE = re.compile(r"^Pulumi\.([^/]+)\.yaml$")
_NULL_SHA = re.compile(r"^0{40}$")


def affected_stacks(changed_paths: Iterable[str], stacks: Sequence[str]) -> list[str]:
    """The stacks (among `stacks`) that a set of changed repository paths touches, sorted."""
    hit: set[str] = set()
    for path in changed_paths:
        if path.startswith(EVERY_STACK_PREFIXES) or path in EVERY_STACK_FILES:
            return sorted(stacks)
        if m := _STACK_FILE.match(path):
            hit.add(m.group(1))
        elif path.startswith("manifests/") and path.count("/") >= 2:
            hit.add(path.split("/")[1])
    # A deleted stack is not deployed here: tearing one down is a deliberate `pulumi destroy`.
    return sorted(hit & set(stacks))


def changed_paths(root: Path, base: str, head: str) -> list[str] | None:
    """Paths changed between two revisions; None when `base` is unknown (a new branch, a force push)."""
    if _NULL_SHA.match(base):
        return None
    known = subprocess.run(["git", "cat-file", "-e", f"{base}^{{commit}}"], cwd=root, capture_output=True)
    if known.returncode != 0:
        return None
    done = subprocess.run(
        ["git", "diff", "--name-only", base, head], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m infra.gitops.changes", description="Stacks touched by a change (JSON)."
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--base", help="revision the change starts from")
    which.add_argument("--only", help="a single stack, checked to exist")
    p.add_argument("--head", default="HEAD", help="revision the change ends at (default HEAD)")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    args = p.parse_args(argv)
    stacks = stack_names(args.root)
    if args.only is not None:
        if args.only not in stacks:
            p.error(f"unknown stack {args.only!r}: no Pulumi.{args.only}.yaml (stacks: {', '.join(stacks)})")
        print(json.dumps([args.only]))
        return 0
    try:
        paths = changed_paths(args.root, args.base, args.head)
    except subprocess.CalledProcessError as e:
        print(f"changes: git diff {args.base} {args.head} failed: {e.stderr.strip()}", file=sys.stderr)
        return 2
    if paths is None:
        print(f"changes: base {args.base!r} is not a known commit; every stack is affected", file=sys.stderr)
        paths = list(EVERY_STACK_FILES)
    print(json.dumps(affected_stacks(paths, stacks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
