"""Small edits of a stack's deploy settings that the workflows make, and the reads they need.

    python -m infra.settings.deploy set-canary --stack S --bundle-id ID --bundle-uri URI --image REPO@sha256:D
                                               [--model NAME] [--replace] [--root DIR]
    python -m infra.settings.deploy stable-uri --stack S [--model NAME]   # the stable bundle's URI
    python -m infra.settings.deploy bundle-uri --stack S --bundle-id ID   # where that stack keeps a bundle
    python -m infra.settings.deploy canaries [--only S]                   # JSON list of stacks with a canary

`set-canary` makes a bundle the canary of a model at the first traffic step of its canary analysis (stable
keeps the rest). It edits `Pulumi.<stack>.yaml` round-trip (comments, quoting and key order survive),
re-validates the result with `infra.settings.stack` before writing, and replaces the file atomically: a rejected edit
leaves the file untouched.

Exit codes: 0 done (or nothing to do), 1 refused (for instance a different canary is live and --replace is
absent), 2 bad input (unknown stack or model, invalid settings before or after the edit).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.util import load_yaml_guess_indent

from infra.gitops.atomic import write_text_atomic
from infra.settings.cluster import pinned_image
from infra.settings.serving import BUNDLE_ID_PATTERN, CanaryAnalysis, ModelSettings
from infra.settings.stack import (
    SETTINGS_KEY,
    SettingsError,
    StackSettings,
    load_stack_settings,
    parse_settings,
    stack_file,
    stack_names,
)


class Refused(Exception):
    """The edit is well-formed but would discard something live; the message says what and how to proceed."""


class RoundTrip:
    """A YAML file loaded for editing with its layout (indentation, comments, quotes) kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.original = path.read_text(encoding="utf-8")
        _, seq_indent, offset = load_yaml_guess_indent(self.original)
        self.yaml = YAML()
        self.yaml.preserve_quotes = True
        self.yaml.width = 4096  # never re-wrap long strings
        self.yaml.indent(mapping=2, sequence=seq_indent or 2, offset=offset or 0)
        self.data = self.yaml.load(self.original)
        # A hand-formatted file that ruamel cannot reproduce byte for byte gets reformatted; say so.
        self.faithful = self.text() == self.original

    def text(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()


def select_model(settings: StackSettings, name: str | None, source: str) -> tuple[int, ModelSettings]:
    names = [m.name for m in settings.models]
    if name is None and len(names) == 1:
        return 0, settings.models[0]
    if name is None:
        raise SettingsError(
            source, [f"the stack serves {len(names)} models ({', '.join(names)}); pass --model"]
        )
    if name not in names:
        raise SettingsError(source, [f"no model {name!r} (models: {', '.join(names)})"])
    return names.index(name), settings.models[names.index(name)]


def canary_edit(model: ModelSettings, bundle_id: str, image: str, replace: bool) -> dict[str, Any] | None:
    """The new `canary` mapping, or None when the bundle already serves as stable or as this same canary."""
    if model.stable.bundle.id == bundle_id:
        return None
    live = model.canary
    if live is not None and live.bundle.id == bundle_id and live.image == image:
        return None
    if live is not None and live.bundle.id != bundle_id and not replace:
        raise Refused(
            f"model {model.name!r} already has canary {live.bundle.version} at {live.weight} %; "
            "pass --replace to abandon it for the new bundle"
        )
    analysis = live.analysis if live is not None else CanaryAnalysis()
    return {"weight": analysis.steps[0], "image": image}


def set_canary(root: Path, stack: str, args: argparse.Namespace) -> str:
    """Apply set-canary to `Pulumi.<stack>.yaml`; returns a one-line account of what happened."""
    settings = load_stack_settings(stack, root)
    path = stack_file(stack, root)
    index, model = select_model(settings, args.model, str(path))
    change = canary_edit(model, args.bundle_id, args.image, args.replace)
    if change is None:
        return f"{path.name}: bundle {args.bundle_id[:12]} already serves model {model.name!r}; unchanged"
    doc = RoundTrip(path)
    if not doc.faithful:
        print(f"deploy_settings: note: {path.name} is re-indented by the round trip", file=sys.stderr)
    node = doc.data["config"][SETTINGS_KEY]["models"][index]
    canary = node.get("canary")
    if not isinstance(canary, CommentedMap):
        canary = CommentedMap()
        # Right after `stable`, where a reader of the settings looks for it.
        node.insert(list(node).index("stable") + 1 if "stable" in node else len(node), "canary", canary)
    canary["bundle"] = CommentedMap([("id", args.bundle_id), ("uri", args.bundle_uri)])
    canary["weight"] = change["weight"]
    canary["image"] = change["image"]
    node["stable"]["weight"] = 100 - change["weight"]
    text = doc.text()
    reparsed = yaml.safe_load(text)["config"][SETTINGS_KEY]
    parse_settings(reparsed, f"{path} after set-canary")  # raises SettingsError: nothing written
    write_text_atomic(path, text)
    return f"{path.name}: model {model.name!r} canary {args.bundle_id[:12]} at {change['weight']} %"


def stable_uri(root: Path, stack: str, model_name: str | None) -> str:
    settings = load_stack_settings(stack, root)
    return select_model(settings, model_name, str(stack_file(stack, root)))[1].stable.bundle.uri


def bundle_uri(root: Path, stack: str, bundle_id: str, model_name: str | None) -> str:
    """The URI a bundle gets in a stack's bundle store: the stable bundle's bucket, keyed by content hash."""
    source = str(stack_file(stack, root))
    model = select_model(load_stack_settings(stack, root), model_name, source)[1]
    return f"s3://{model.stable.bundle.bucket}/bundles/{bundle_id}/"


def stacks_with_canary(root: Path, only: str | None) -> list[str]:
    stacks = stack_names(root)
    if only is not None and only not in stacks:
        raise SettingsError(f"Pulumi.{only}.yaml", [f"unknown stack (stacks: {', '.join(stacks)})"])
    chosen = [only] if only is not None else stacks
    return [s for s in chosen if any(m.canary is not None for m in load_stack_settings(s, root).models)]


def bundle_id_arg(value: str) -> str:
    """--bundle-id, checked before any file is read: a malformed id must not surface as a settings error."""
    if not re.fullmatch(BUNDLE_ID_PATTERN, value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a bundle id: expected the 64 lowercase hex characters of the bundle's sha256 "
            "(`make demo` prints it; artifacts/latest.json has it as bundle_id)"
        )
    return value


def image_arg(value: str) -> str:
    try:
        return pinned_image(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.settings.deploy", description=__doc__.split("\n")[0])
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("set-canary", help="make a bundle the canary at the first traffic step")
    sc.add_argument("--stack", required=True)
    sc.add_argument(
        "--bundle-id", required=True, type=bundle_id_arg, help="sha256 of the bundle's MANIFEST (64 hex)"
    )
    sc.add_argument("--bundle-uri", required=True, help="s3://<bucket>/bundles/<bundle-id>/")
    sc.add_argument(
        "--image",
        required=True,
        type=image_arg,
        help="serving image pinned by digest: <repo>@sha256:<64 hex>",
    )
    sc.add_argument("--model", help="model name; needed only when the stack serves several")
    sc.add_argument("--replace", action="store_true", help="abandon a different live canary")
    su = sub.add_parser("stable-uri", help="print the URI of the stable bundle")
    su.add_argument("--stack", required=True)
    su.add_argument("--model")
    bu = sub.add_parser("bundle-uri", help="print the URI a bundle gets in the stack's bundle store")
    bu.add_argument("--stack", required=True)
    bu.add_argument("--bundle-id", required=True, type=bundle_id_arg)
    bu.add_argument("--model")
    ca = sub.add_parser("canaries", help="print the stacks that have a canary, as a JSON list")
    ca.add_argument("--only", help="consider only this stack")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "set-canary":
            print(set_canary(args.root, args.stack, args))
        elif args.command == "stable-uri":
            print(stable_uri(args.root, args.stack, args.model))
        elif args.command == "bundle-uri":
            print(bundle_uri(args.root, args.stack, args.bundle_id, args.model))
        else:
            print(json.dumps(stacks_with_canary(args.root, args.only)))
    except Refused as e:
        print(f"deploy_settings: refused: {e}", file=sys.stderr)
        return 1
    except SettingsError as e:
        print(f"deploy_settings: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
