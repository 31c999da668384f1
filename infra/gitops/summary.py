"""Turn a change of `manifests/` into a short Markdown section for a pull request.

It compares objects, not text: for every stack it lists the models whose versions or traffic weights
change (read from SeldonDeployment predictors) and the objects added, removed or changed, with the fields
that changed.

    python -m infra.gitops.summary --base-rev origin/main            # working tree vs a git revision
    python -m infra.gitops.summary --before OLD/manifests --after manifests [--stack prod]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.gitops.manifests import ManifestError, ObjectKey, load_objects, read_files

SELDON_KIND = "SeldonDeployment"
MAX_FIELDS = 5
Files = Mapping[str, str]  # file name -> text, one rendered stack folder


@dataclass(frozen=True)
class Predictor:
    """What a reviewer cares about in one Seldon predictor."""

    version: str
    traffic: str  # "90 %" or "shadow (100 % mirrored)"


def predictors(sdep: Mapping[str, Any]) -> dict[str, Predictor]:
    """Predictor name -> version and traffic, from a SeldonDeployment object."""
    found: dict[str, Predictor] = {}
    for p in sdep.get("spec", {}).get("predictors", []) or []:
        labels = p.get("labels") or {}
        version = str(
            labels.get("version") or p.get("graph", {}).get("modelUri", "?").rstrip("/").split("/")[-1]
        )
        # For a shadow, Seldon reads `traffic` as the share of requests mirrored to it.
        traffic = (
            f"shadow ({p.get('traffic', 0)} % mirrored)" if p.get("shadow") else f"{p.get('traffic', 0)} %"
        )
        found[str(p.get("name", "?"))] = Predictor(version=version, traffic=traffic)
    return found


def changed_fields(before: Any, after: Any, path: str = "") -> list[str]:
    """Dotted paths of the leaves that differ (lists compared by position)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[str] = []
        for k in sorted(set(before) | set(after), key=str):
            out += changed_fields(before.get(k), after.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            f
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for f in changed_fields(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [path or "(whole object)"]


def _model_rows(before: dict[ObjectKey, dict[str, Any]], after: dict[ObjectKey, dict[str, Any]]) -> list[str]:
    rows: list[str] = []
    keys = sorted({k for k in (*before, *after) if k.kind == SELDON_KIND}, key=str)
    for key in keys:
        old = predictors(before.get(key, {}))
        new = predictors(after.get(key, {}))
        for name in sorted(set(old) | set(new)):
            o, n = old.get(name), new.get(name)
            if o == n:
                continue
            version = _arrow(o.version if o else None, n.version if n else None, code=True)
            traffic = _arrow(o.traffic if o else None, n.traffic if n else None)
            rows.append(f"| {key.name} | {name} | {version} | {traffic} |")
    return rows


def _arrow(old: str | None, new: str | None, code: bool = False) -> str:
    def fmt(v: str | None) -> str:
        return "—" if v is None else (f"`{v}`" if code else v)

    return fmt(new) if old == new else f"{fmt(old)} → {fmt(new)}"


def summarize_stack(stack: str, before: Files, after: Files) -> str:
    """Markdown for one stack; empty when nothing changed. Raises ManifestError on unreadable files."""
    old, new = load_objects(before), load_objects(after)
    added = sorted((k for k in new if k not in old), key=str)
    removed = sorted((k for k in old if k not in new), key=str)
    changed = sorted((k for k in new if k in old and new[k] != old[k]), key=str)
    if not (added or removed or changed):
        return ""
    lines = [f"#### Stack `{stack}`: {len(added)} added, {len(changed)} changed, {len(removed)} removed", ""]
    rows = _model_rows(old, new)
    if rows:
        lines += ["| model | predictor | version | traffic |", "|---|---|---|---|", *rows, ""]
    lines += [f"- added: {k}" for k in added]
    lines += [f"- removed: {k}" for k in removed]
    for k in changed:
        fields = changed_fields(old[k], new[k])
        more = f" (+{len(fields) - MAX_FIELDS} more)" if len(fields) > MAX_FIELDS else ""
        lines.append(f"- changed: {k}: " + ", ".join(f"`{f}`" for f in fields[:MAX_FIELDS]) + more)
    return "\n".join(lines) + "\n"


def summarize(before: Mapping[str, Files], after: Mapping[str, Files]) -> str:
    """Markdown for every stack present on either side (stack name -> rendered files)."""
    sections = [summarize_stack(s, before.get(s, {}), after.get(s, {})) for s in sorted({*before, *after})]
    body = "\n".join(s for s in sections if s)
    return "### Manifest changes\n\n" + (body or "No changes to `manifests/`.\n")


def files_at_rev(root: Path, rev: str, stacks: Sequence[str] | None) -> dict[str, dict[str, str]]:
    """Rendered files of every stack folder under `manifests/` at a git revision."""
    listing = _git(root, "ls-tree", "-r", "--name-only", rev, "--", "manifests/")
    out: dict[str, dict[str, str]] = {}
    for path in listing.splitlines():
        parts = path.split("/")
        if len(parts) != 3 or not parts[2].endswith(".yaml") or (stacks and parts[1] not in stacks):
            continue
        out.setdefault(parts[1], {})[parts[2]] = _git(root, "show", f"{rev}:{path}")
    return out


def files_in_dir(manifests: Path, stacks: Sequence[str] | None) -> dict[str, dict[str, str]]:
    if not manifests.is_dir():
        return {}
    dirs = sorted(d for d in manifests.iterdir() if d.is_dir() and not d.name.startswith("."))
    return {d.name: read_files(d) for d in dirs if not stacks or d.name in stacks}


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as e:
        raise ManifestError(f"git {' '.join(args)}: {e.stderr.strip()}") from e
    return done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.gitops.summary", description=__doc__.split("\n")[0])
    base = p.add_mutually_exclusive_group(required=True)
    base.add_argument("--base-rev", help="git revision whose manifests/ is the 'before' side")
    base.add_argument("--before", type=Path, help="a manifests/ folder as it was")
    p.add_argument("--after", type=Path, help="the manifests/ folder as it is now (default ROOT/manifests)")
    p.add_argument("--stack", action="append", help="only this stack (repeatable)")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    args = p.parse_args(argv)
    for given in (args.before, args.after):
        if given is not None and not given.is_dir():
            p.error(f"{given} is not a directory")
    try:
        before = files_at_rev(args.root, args.base_rev, args.stack) if args.base_rev else {}
        if args.before is not None:
            before = files_in_dir(args.before, args.stack)
        after = files_in_dir(args.after or args.root / "manifests", args.stack)
        sys.stdout.write(summarize(before, after))
    except ManifestError as e:
        print(f"summary: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
