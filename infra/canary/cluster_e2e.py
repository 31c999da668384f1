"""Helpers of `.github/workflows/cluster-e2e.yml` (a kind cluster on a GitHub runner), kept in tested Python.

    python -m infra.canary.cluster_e2e bundles --out DIR     # tiny stable + canary bundles; prints JSON paths
    python -m infra.canary.cluster_e2e stack --from dev --to e2e --stable-bundle DIR --canary-bundle DIR
                                             --image REPO@sha256:D --bucket NAME [--model NAME] [--root DIR]
    python -m infra.canary.cluster_e2e helm --stack e2e --out DIR     # writes DIR/install.sh + values files
    python -m infra.canary.cluster_e2e load --url BASE --rps 5 --seconds 180   # BASE/api/v1.0/predictions
    python -m infra.canary.cluster_e2e analysis --stack e2e --set max_p99_latency_ms=0.001 [--model NAME]

`stack` copies a stack's settings with the bundles and the image built in the run (their ids are content
hashes, so the committed dev stack's cannot exist in a fresh cluster), canary at its first step. `helm`
turns the stack's add-on charts (`infra.specs.addons`, what the Pulumi Platform component installs) into
`helm upgrade --install` commands. `analysis` changes one canary analysis setting (to force a verdict).
Every edit is round-trip (comments kept) and re-validated before it is written. Exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from infra.canary.local.bundles import build_bundles
from infra.canary.local.load import LoadGenerator
from infra.gitops.atomic import write_text_atomic
from infra.settings.deploy import RoundTrip, select_model
from infra.settings.serving import CanaryAnalysis
from infra.settings.stack import SETTINGS_KEY, SettingsError, load_stack_settings, parse_settings, stack_file
from infra.specs.addons import addon_charts
from infra.specs.gateway import gateway_objects
from model.release.bundle import BundleError, verify_bundle


def _save(doc: RoundTrip, path: Path, what: str) -> None:
    text = doc.text()
    parse_settings(yaml.safe_load(text)["config"][SETTINGS_KEY], f"{path} after {what}")
    write_text_atomic(path, text)


def derive_stack(root: Path, source: str, target: str, args: argparse.Namespace) -> Path:
    """Pulumi.<target>.yaml = Pulumi.<source>.yaml with the given bundles and image, canary at step 1."""
    settings = load_stack_settings(source, root)
    index, model = select_model(settings, args.model, str(stack_file(source, root)))
    bundles = {}
    for track, directory in (("stable", args.stable_bundle), ("canary", args.canary_bundle)):
        try:
            info = verify_bundle(directory)
        except (BundleError, OSError) as e:
            raise SettingsError(str(directory), [f"--{track}-bundle: {e}"]) from e
        bundles[track] = {"id": info.bundle_id, "uri": f"s3://{args.bucket}/bundles/{info.bundle_id}/"}
    doc = RoundTrip(stack_file(source, root))  # edited in memory, written to the target only when valid
    node = doc.data["config"][SETTINGS_KEY]["models"][index]
    first = (model.canary.analysis if model.canary else CanaryAnalysis()).steps[0]
    node["image"] = args.image
    node["stable"]["bundle"], node["stable"]["weight"] = bundles["stable"], 100 - first
    node["stable"].pop("image", None)
    canary = node.get("canary") or {}
    canary.update(bundle=bundles["canary"], weight=first)
    canary.pop("image", None)
    # Nobody clicks in the kind e2e: its load generator sends no feedback, so the online check is off here
    # (the local demo and tests/infra/canary cover it); drift and errors are judged as in production.
    canary.setdefault("analysis", {})["min_feedback_per_version"] = 0
    node["canary"] = canary
    path = stack_file(target, root)
    _save(doc, path, f"deriving {target} from {source}")
    return path


def set_analysis(root: Path, stack: str, model_name: str | None, assignments: Sequence[str]) -> Path:
    settings = load_stack_settings(stack, root)
    path = stack_file(stack, root)
    index, model = select_model(settings, model_name, str(path))
    if model.canary is None:
        raise SettingsError(str(path), [f"model {model.name!r} has no canary"])
    doc = RoundTrip(path)
    canary = doc.data["config"][SETTINGS_KEY]["models"][index]["canary"]
    analysis = canary.setdefault("analysis", {})
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or key not in CanaryAnalysis.model_fields:
            raise SettingsError(
                str(path), [f"--set {assignment!r}: want KEY=VALUE with KEY in CanaryAnalysis"]
            )
        analysis[key] = yaml.safe_load(value)
    _save(doc, path, "--set")
    return path


def helm_script(root: Path, stack: str, out: Path) -> Path:
    """install.sh: the stack's charts in dependency order with their values files, then the gateway's objects
    (Seldon's Gateway; TLS and authentication objects where the stack has them)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["#!/usr/bin/env bash", "set -euo pipefail"]
    settings = load_stack_settings(stack, root)
    for chart in addon_charts(settings):
        values = out / f"values-{chart.release}.json"
        values.write_text(json.dumps(chart.values, indent=2), encoding="utf-8")
        cmd = [
            "helm", "upgrade", "--install", chart.release, chart.chart, "--repo", chart.repo,
            "--version", chart.version, "--namespace", chart.namespace, "--create-namespace",
            "--values", str(values), "--wait", "--timeout", "15m",
        ]  # fmt: skip
        lines.append(shlex.join(cmd))
    gateway = out / "seldon-gateway.json"
    gateway.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": gateway_objects(settings)}, indent=2),
        encoding="utf-8",
    )
    lines.append(shlex.join(["kubectl", "apply", "-f", str(gateway)]))
    script = out / "install.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def send_load(url: str, rps: float, seconds: float) -> int:
    """Paced requests for `seconds`; exit 1 when fewer than 99 % were answered 200."""
    load = LoadGenerator(lambda: ("ingress", url.rstrip("/")), rps, int(rps * seconds) + 1, seconds).start()
    time.sleep(seconds)
    load.stop()
    answered = sum(n for (_, code), n in load.status.items() if code == 200)
    sent = sum(load.sent.values())
    print(json.dumps({"sent": sent, "status": {str(code): n for (_, code), n in load.status.items()}}))
    return 0 if sent and answered >= 0.99 * sent else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.canary.cluster_e2e", description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=Path.cwd())
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stack", help="derive a stack with the run's bundles and image")
    s.add_argument("--from", dest="source", required=True)
    s.add_argument("--to", dest="target", required=True)
    s.add_argument("--stable-bundle", type=Path, required=True)
    s.add_argument("--canary-bundle", type=Path, required=True)
    s.add_argument("--image", required=True)
    s.add_argument("--bucket", required=True)
    s.add_argument("--model")
    b = sub.add_parser("bundles", help="build a tiny stable and canary bundle (TensorFlow)")
    b.add_argument("--out", type=Path, required=True)
    h = sub.add_parser("helm", help="write install.sh for the stack's add-on charts")
    h.add_argument("--stack", required=True)
    h.add_argument("--out", type=Path, required=True)
    lo = sub.add_parser("load", help="bounded load through one URL (e.g. the model's ingress route)")
    lo.add_argument("--url", required=True, help="base URL; requests go to URL/api/v1.0/predictions")
    lo.add_argument("--rps", type=float, default=5.0)
    lo.add_argument("--seconds", type=float, required=True)
    a = sub.add_parser("analysis", help="set canary analysis settings")
    a.add_argument("--stack", required=True)
    a.add_argument("--model")
    a.add_argument("--set", dest="assignments", action="append", required=True, metavar="KEY=VALUE")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = _parser().parse_args(argv)
    try:
        if args.command == "bundles":
            # Same model, two bundles (distinct versions, same scores): a canary that deserves promotion.
            built = build_bundles(args.out, {"stable": 11, "canary": 11})
            print(json.dumps({label: str(info.path) for label, info in built.items()}))
        elif args.command == "stack":
            print(derive_stack(args.root, args.source, args.target, args))
        elif args.command == "load":
            return send_load(args.url, args.rps, args.seconds)
        elif args.command == "helm":
            print(helm_script(args.root, args.stack, args.out))
        else:
            print(set_analysis(args.root, args.stack, args.model, args.assignments))
    except SettingsError as e:
        print(f"cluster_e2e: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
