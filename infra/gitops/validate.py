"""Validate rendered Kubernetes objects before anything reaches a cluster.

Three layers, every object through each that applies:
1. custom resources (SeldonDeployment, PodMonitor, ServiceMonitor, PrometheusRule) against the JSON schemas
   of their CRDs (`<kind>-<group>-<version>.json`, vendored in `infra/gitops/crd_schemas/`, see its
   PROVENANCE.md); a custom resource without a schema file is an error, never a skip;
2. built-in kinds against `kubernetes-validate`'s schemas for the stack's Kubernetes version, in strict mode,
   so an unknown or misspelt field is an error, not something the API server silently drops;
3. object metadata syntax and the rules of `infra/policy/rules.py`: among them the Seldon admission webhook's
   (traffic of live predictors sums to 100, at most one shadow), which no schema encodes.

    python -m infra.gitops.validate --all | --stack NAME [--crd-schemas DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, VersionNotSupportedError

from infra.gitops.manifests import ManifestError, ObjectKey, load_objects, object_key, read_files
from infra.policy.rules import evaluate, resource_from_k8s
from infra.settings.stack import SettingsError, load_stack_settings, stack_names

CRD_SCHEMAS_ENV = "RANKSHIP_CRD_SCHEMAS"
VENDORED_CRD_SCHEMAS = Path(__file__).resolve().parent / "crd_schemas"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


@dataclass
class Report:
    """What validation found: errors fail a run; skipped says which checks could not run, and why."""

    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def default_crd_schema_dir() -> Path:
    """$RANKSHIP_CRD_SCHEMAS, else the schemas vendored in the repository (infra/gitops/crd_schemas/)."""
    return Path(os.environ.get(CRD_SCHEMAS_ENV) or VENDORED_CRD_SCHEMAS)


def crd_schema_file(schema_dir: Path, api_version: str, kind: str) -> Path | None:
    """The schema file for a custom resource's apiVersion/kind, or None for a built-in group."""
    if "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    if "." not in group or group.endswith(".k8s.io"):
        return None
    return schema_dir / f"{kind.lower()}-{group}-{version}.json"


@cache
def _crd_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    # CRD schemas are OpenAPI v3 subsets; the x-kubernetes-* keywords are unknown to JSON Schema and ignored.
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(root)"


def check_crd(key: ObjectKey, obj: Mapping[str, Any], schema: Path) -> list[str]:
    errors = sorted(_crd_validator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{key}: {_where(e.absolute_path)}: {e.message}" for e in errors]


def check_builtin(key: ObjectKey, obj: Mapping[str, Any], kubernetes_version: str) -> list[str]:
    """Strict schema check of a built-in kind; SchemaNotFoundError for kinds the library does not know."""
    try:
        kubernetes_validate.validate(dict(obj), kubernetes_version, strict=True)
    except ValidationError as e:
        return [f"{key}: {_where(e.path)}: {e.message} (Kubernetes {e.version} schema)"]
    except VersionNotSupportedError as e:
        raise ManifestError(f"kubernetes-validate has no schemas for Kubernetes {kubernetes_version}") from e
    return []


def check_metadata(key: ObjectKey, obj: Mapping[str, Any]) -> list[str]:
    """Name and label syntax the API server enforces but neither schema layer checks."""
    meta = obj.get("metadata") or {}
    errors = []
    if len(key.name) > 253 or not _DNS_SUBDOMAIN.match(key.name):
        errors.append(f"{key}: metadata.name {key.name!r} is not a DNS-1123 subdomain")
    if key.namespace and not _DNS_LABEL.match(key.namespace):
        errors.append(f"{key}: metadata.namespace {key.namespace!r} is not a DNS-1123 label")
    for label, value in (meta.get("labels") or {}).items():
        prefix, _, name = str(label).rpartition("/")
        if not name or not _LABEL_NAME.match(name) or (prefix and not _DNS_SUBDOMAIN.match(prefix)):
            errors.append(f"{key}: label key {label!r} is not a valid label name")
        if not isinstance(value, str) or not _LABEL_NAME.match(value):
            errors.append(f"{key}: label {label}={value!r} is not a valid label value (<= 63 chars)")
    return errors


def validate_object(obj: Mapping[str, Any], kubernetes_version: str, crd_schema_dir: Path | None) -> Report:
    """All three layers for one object. `crd_schema_dir=None` skips custom-resource schemas, with a reason
    (unit tests of the other layers only; the CLI always passes a folder, and a missing one is an error)."""
    report = Report(checked=1)
    try:
        key = object_key(obj)
    except ManifestError as e:
        report.errors.append(str(e))
        return report
    schema = crd_schema_file(crd_schema_dir or Path("."), key.api_version, key.kind)
    if schema is None:
        try:
            report.errors += check_builtin(key, obj, kubernetes_version)
        except SchemaNotFoundError:
            report.errors.append(f"{key}: no Kubernetes {kubernetes_version} schema for this apiVersion/kind")
    elif crd_schema_dir is None:
        report.skipped.append(f"{key}: CRD schema not checked (no schema folder given)")
    elif not schema.is_file():
        report.errors.append(f"{key}: no CRD schema {schema.name} in {crd_schema_dir}")
    else:
        report.errors += check_crd(key, obj, schema)
    report.errors += check_metadata(key, obj)
    report.errors += evaluate(resource_from_k8s(obj))
    return report


def validate_objects(
    objects: Iterable[Mapping[str, Any]], kubernetes_version: str, crd_schema_dir: Path | None
) -> Report:
    total = Report()
    for obj in objects:
        one = validate_object(obj, kubernetes_version, crd_schema_dir)
        total.errors += one.errors
        total.skipped += one.skipped
        total.checked += one.checked
    return total


def validate_stack_folder(stack: str, root: Path, manifests: Path, crd_schema_dir: Path | None) -> Report:
    """Validate the rendered files of one stack at the stack's Kubernetes version."""
    settings = load_stack_settings(stack, root)
    files = read_files(manifests / stack)
    if not files:
        raise ManifestError(
            f"{manifests / stack}: no rendered manifests; run `python -m infra.gitops.render --stack {stack}`"
        )
    return validate_objects(load_objects(files).values(), settings.cluster.kubernetes_version, crd_schema_dir)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.gitops.validate", description=__doc__.split("\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--stack", action="append", help="stack whose manifests/<stack>/ to validate (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="repository root (default: current directory)"
    )
    p.add_argument("--manifests", type=Path, help="manifests folder (default ROOT/manifests)")
    p.add_argument(
        "--crd-schemas",
        type=Path,
        help=f"CRD JSON schemas (default ${CRD_SCHEMAS_ENV}, else the vendored infra/gitops/crd_schemas)",
    )
    args = p.parse_args(argv)
    known = stack_names(args.root)
    unknown = [s for s in args.stack or [] if s not in known]
    if unknown:
        p.error(f"unknown stack {unknown[0]!r}: no Pulumi.{unknown[0]}.yaml")
    schemas = args.crd_schemas or default_crd_schema_dir()
    if not schemas.is_dir():
        p.error(f"CRD schema folder {schemas} does not exist (custom resources cannot be checked without it)")
    failed = False
    for stack in known if args.all else args.stack:
        try:
            report = validate_stack_folder(
                stack, args.root, args.manifests or args.root / "manifests", schemas
            )
        except (SettingsError, ManifestError) as e:
            print(f"validate: stack {stack}: {e}", file=sys.stderr)
            failed = True
            continue
        for line in [*report.errors, *(f"skipped: {s}" for s in report.skipped)]:
            print(f"validate: stack {stack}: {line}", file=sys.stderr)
        print(
            f"validate: stack {stack}: {report.checked} objects, {len(report.errors)} errors", file=sys.stderr
        )
        failed = failed or not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
