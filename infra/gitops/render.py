"""Render a stack's Kubernetes objects into `manifests/<stack>/`, reviewed in PRs and synced by GitOps.

The objects come from the same settings (`Pulumi.<stack>.yaml`) and the same pure builders (`infra/specs/`)
that the Pulumi program applies, so the reviewed diff is what `pulumi up` does to the workloads. The file
format is described in `infra/gitops/manifests.py`.

    python -m infra.gitops.render --stack prod            # write manifests/prod/
    python -m infra.gitops.render --all --check           # exit 1 with a unified diff if any folder is stale

Exit codes: 0 written / up to date, 1 `--check` found drift, 2 bad settings or objects (nothing written).
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.gitops.manifests import ManifestError, read_files, render_files
from infra.settings.placeholders import check_render
from infra.settings.stack import SettingsError, load_stack_settings, stack_file, stack_names
from infra.specs import build_stack_objects


def render_stack(stack: str, root: Path) -> dict[str, str]:
    """File name -> text of `manifests/<stack>/`, computed in memory (raises SettingsError/ManifestError).

    Placeholder values are an error unless the stack is marked `example: true`; then a banner goes to stderr.
    """
    settings = load_stack_settings(stack, root)
    for line in check_render(settings, stack_file(stack, root).name):
        print(line, file=sys.stderr)
    return render_files(stack, build_stack_objects(settings))


def write_atomically(target: Path, files: Mapping[str, str]) -> bool:
    """Make `target` hold exactly `files`; returns False when it already did (nothing touched).

    The new folder is written beside the old one and swapped in with two renames, so readers (and a failed
    render) never see a half-written folder; the old one is deleted only after the swap.
    """
    if read_files(target) == dict(files) and _only_yaml(target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    retired = target.parent / f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}"
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        if target.exists():
            target.rename(retired)
        staging.rename(target)
    except BaseException:
        if retired.exists() and not target.exists():
            retired.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return True


def _only_yaml(directory: Path) -> bool:
    return all(p.is_file() and p.suffix == ".yaml" for p in directory.iterdir())


def drift(target: Path, files: Mapping[str, str]) -> str:
    """Unified diff from the committed folder to a fresh render; empty when they match."""
    committed = read_files(target)
    extra = sorted(p.name for p in target.iterdir() if p.name not in files) if target.is_dir() else []
    chunks: list[str] = []
    for name in sorted({*committed, *files, *extra}):
        old, new = committed.get(name, ""), files.get(name, "")
        if name in extra and name not in committed:
            chunks.append(f"--- {target / name}\n+++ (fresh render)\n@@ not produced by the render @@\n")
        elif old != new:
            chunks += difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=str(target / name) if name in committed else "/dev/null",
                tofile=f"{target / name} (fresh render)",
            )
    return "".join(chunks)


def _run(stack: str, root: Path, out: Path, check: bool) -> int:
    files = render_stack(stack, root)
    target = out / stack
    if check:
        diff = drift(target, files)
        if diff:
            sys.stdout.write(diff)
            print(
                f"render: {target} is stale; run `python -m infra.gitops.render --stack {stack}`",
                file=sys.stderr,
            )
            return 1
        print(f"render: {target} is up to date ({len(files)} files)", file=sys.stderr)
        return 0
    changed = write_atomically(target, files)
    print(f"render: {target} {'written' if changed else 'unchanged'} ({len(files)} files)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.gitops.render", description=__doc__.split("\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", action="append", help="stack to render (repeatable)")
    which.add_argument("--all", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    p.add_argument(
        "--check", action="store_true", help="compare with the committed folder instead of writing"
    )
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    p.add_argument("--out", type=Path, help="manifests folder (default ROOT/manifests)")
    args = p.parse_args(argv)
    known = stack_names(args.root)
    stacks = known if args.all else args.stack
    unknown = [s for s in stacks if s not in known]
    if unknown or not stacks:
        where = f"Pulumi.<stack>.yaml in {args.root.resolve()}"
        p.error(
            f"unknown stack {unknown[0]!r}: no Pulumi.{unknown[0]}.yaml; known stacks: {', '.join(known)}"
            if unknown and known
            else f"unknown stack {unknown[0]!r}: no {where} at all"
            if unknown
            else f"no stacks found: no {where}"
        )
    worst = 0
    for stack in stacks:
        try:
            worst = max(worst, _run(stack, args.root, args.out or args.root / "manifests", args.check))
        except (SettingsError, ManifestError) as e:
            print(f"render: stack {stack}: {e}", file=sys.stderr)
            worst = 2
    return worst


if __name__ == "__main__":
    sys.exit(main())
