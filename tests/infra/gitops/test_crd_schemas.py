"""The CRD schemas vendored in infra/gitops/crd_schemas: what PROVENANCE.md says, for every kind we render."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from infra.gitops.validate import VENDORED_CRD_SCHEMAS, crd_schema_file
from infra.settings.stack import load_stack_settings, stack_names
from infra.specs import build_stack_objects

ROOT = Path(__file__).resolve().parents[3]
PROVENANCE = VENDORED_CRD_SCHEMAS / "PROVENANCE.md"
SHARED = ROOT.parent / "shared" / "schemas"
_ROW = re.compile(r"^\| (\S+\.json) \| ([0-9a-f]{64}) \|", re.MULTILINE)


def recorded() -> dict[str, str]:
    return dict(_ROW.findall(PROVENANCE.read_text(encoding="utf-8")))


def test_every_vendored_schema_has_a_provenance_row_with_its_sha256() -> None:
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in VENDORED_CRD_SCHEMAS.glob("*.json")}
    assert files, "no vendored schemas"
    assert files == recorded(), "a schema changed or was added without updating PROVENANCE.md"
    assert "Apache License" in (VENDORED_CRD_SCHEMAS / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_every_custom_resource_a_stack_renders_has_a_vendored_schema(stack: str) -> None:
    objects = build_stack_objects(load_stack_settings(stack, ROOT))
    wanted = {crd_schema_file(VENDORED_CRD_SCHEMAS, o["apiVersion"], o["kind"]) for o in objects} - {None}
    assert wanted, "expected custom resources"
    missing = sorted(str(p) for p in wanted if p is not None and not p.is_file())
    assert missing == []


@pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent (only the project's own machines have it)"
)
def test_vendored_schemas_equal_the_shared_originals() -> None:
    for name in recorded():
        assert (VENDORED_CRD_SCHEMAS / name).read_bytes() == (SHARED / name).read_bytes(), name
