"""After `pulumi up`: is every model rolled out and answering, and do the live objects match `manifests/`?

    python -m infra.live.verify --stack S [--ingress URL] [--drift] [--timeout 600] [--requests 20]
                           [--root DIR] [--manifests DIR]

1. Waits (up to --timeout seconds) until every model's SeldonDeployment is `Available` with the predictors,
   versions and weights of `Pulumi.<S>.yaml`.
2. With --ingress (e.g. http://<ingress address>): sends --requests golden requests to each model's Seldon
   route; every answer must be 200, rank exactly the candidates sent, and carry a model_version that is one
   of the model's live versions (stable or canary).
3. With --drift: lists every difference between `manifests/<S>/` and the live objects, including rankship
   objects in the cluster that no manifest declares.

Exit codes: 0 verified, 1 a check failed (each failure printed), 2 bad input or no usable cluster credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import requests

from infra.canary.live import rollout_problems
from infra.gitops.manifests import ManifestError, ObjectKey, load_objects, object_key, read_files
from infra.live.drift import object_drift
from infra.live.kube import Kube, KubeError
from infra.settings.stack import SettingsError, StackSettings, load_stack_settings
from infra.specs import naming as n

PART_OF_SELECTOR = "app.kubernetes.io/part-of=rankship"
CANDIDATES = [
    {"id": "p1", "title": "Red running shoe, men's size 10", "description": "Lightweight mesh upper"},
    {"id": "p2", "title": "Blue denim jacket"},
    {"id": "p3", "title": "Trail running shoes", "description": "Grippy sole for mud and rock"},
]
GOLDEN_REQUEST = {"jsonData": {"query": "red running shoes", "candidates": CANDIDATES}}


class Cluster(Protocol):
    """What verify reads from the API server (`infra.live.kube.Kube`; tests pass dict-backed fakes)."""

    def seldon_deployment(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...
    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str
    ) -> list[dict[str, Any]]: ...


def rollout_status(cluster: Cluster, settings: StackSettings) -> list[str]:
    ns = settings.serving.namespace
    problems = []
    for model in settings.models:
        try:
            problems += rollout_problems(model, cluster.seldon_deployment(ns, model.name), ns)
        except KubeError as e:  # transient while the control plane restarts: retried until the deadline
            problems.append(str(e))
    return problems


def wait_rolled_out(
    cluster: Cluster, settings: StackSettings, timeout_s: float, poll_s: float = 5.0
) -> list[str]:
    """Poll until every model is rolled out; the problems still open at the deadline (empty: done)."""
    deadline = time.monotonic() + timeout_s
    while (problems := rollout_status(cluster, settings)) and time.monotonic() < deadline:
        time.sleep(poll_s)
    return problems


def check_answer(status: int, body: Any, versions: set[str]) -> tuple[str | None, str | None]:
    """(the answering version, None) for a good answer to GOLDEN_REQUEST, else (version or None, problem)."""
    if status != 200:
        return None, f"HTTP {status}: {str(body)[:200]}"
    meta = body.get("meta", {}) if isinstance(body, dict) else {}
    version = (meta.get("tags") or {}).get("model_version") if isinstance(meta, dict) else None
    answer = body.get("jsonData") if isinstance(body, dict) else None
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        return version, f"no jsonData.results ranking in the answer: {str(body)[:200]}"
    ids = sorted(str(r.get("id")) for r in results)
    if ids != sorted(c["id"] for c in CANDIDATES):
        return version, f"ranked {ids}, sent {[c['id'] for c in CANDIDATES]}"
    if version not in versions:
        return version, f"answered by version {version!r}, expected one of {sorted(versions)}"
    return version, None


def golden_requests(
    ingress: str, settings: StackSettings, count: int
) -> tuple[dict[str, Counter[str]], list[str]]:
    """Versions that answered, per model, and the problems found."""
    seen: dict[str, Counter[str]] = {}
    problems = []
    session = requests.Session()
    for model in settings.models:
        url = ingress.rstrip("/") + n.endpoint_path(settings.serving.namespace, model.name)
        versions, seen[model.name] = set(model.versions().values()) - {_shadow(model)}, Counter()
        if model.canary is not None and model.canary.interleave is not None:
            versions.add(n.INTERLEAVED_VERSION)  # the interleaving predictor's combined answers
        for _ in range(count):
            try:
                response = session.post(url, json=GOLDEN_REQUEST, timeout=15)
            except requests.RequestException as e:
                problems.append(f"{model.name}: {url}: {e}")
                break
            version, problem = check_answer(response.status_code, _json(response.text), versions)
            seen[model.name][version or "?"] += 1
            if problem:
                problems.append(f"{model.name}: {problem}")
    return seen, problems


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # check_answer names what came back


def _shadow(model: Any) -> str | None:
    # A shadow receives mirrored copies; its answers never reach the client.
    return model.shadow.bundle.version if model.shadow is not None else None


def drift(cluster: Cluster, manifests_dir: Path) -> list[str]:
    objects = list(load_objects(read_files(manifests_dir)).values())
    if not objects:
        raise SettingsError(
            str(manifests_dir), ["no rendered manifests here: run `python -m infra.gitops.render`"]
        )
    keys = [object_key(o) for o in objects]
    live = {k: cluster.get(k.api_version, k.kind, k.namespace or None, k.name) for k in keys}
    live_only: list[ObjectKey] = []
    for api_version, kind, namespace in sorted({(k.api_version, k.kind, k.namespace) for k in keys}):
        for obj in cluster.list(api_version, kind, namespace or None, PART_OF_SELECTOR):
            live_only.append(object_key({**obj, "apiVersion": api_version, "kind": kind}))
    return object_drift(objects, live, live_only)


def run(args: argparse.Namespace, cluster: Cluster | None = None) -> int:
    settings = load_stack_settings(args.stack, args.root)
    cluster = cluster or Kube.for_stack(settings)
    failures = [f"not rolled out: {p}" for p in wait_rolled_out(cluster, settings, args.timeout, args.poll)]
    if not failures:
        print(f"verify: every SeldonDeployment of {args.stack} is Available, with the settings' versions")
    if args.ingress and not failures:
        seen, problems = golden_requests(args.ingress, settings, args.requests)
        failures += problems
        for model, versions in seen.items():
            print(f"verify: {model}: golden requests answered by {dict(versions)}")
    if args.drift:
        found = drift(cluster, (args.manifests or args.root / "manifests") / args.stack)
        failures += [f"drift: {d}" for d in found]
        if not found:
            print(f"verify: the live objects match manifests/{args.stack}/")
    for failure in failures:
        print(f"verify: FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.live.verify", description=__doc__.split("\n")[0])
    p.add_argument("--stack", required=True)
    p.add_argument(
        "--ingress", help="base URL of the Istio ingress gateway; omit to skip the golden requests"
    )
    p.add_argument("--drift", action="store_true", help="compare the live objects with manifests/<stack>/")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for Available (default 600)")
    p.add_argument("--poll", type=float, default=5.0, help=argparse.SUPPRESS)
    p.add_argument("--requests", type=int, default=20, help="golden requests per model (default 20)")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    p.add_argument("--manifests", type=Path, help="manifests folder (default ROOT/manifests)")
    args = p.parse_args(argv)
    try:
        return run(args)
    except (SettingsError, ManifestError, KubeError) as e:
        print(f"verify: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
