"""`make doctor` on a PATH of fake tools: an old Node is named with the way to get a new one."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("doctor", Path(__file__).parents[2] / "scripts" / "doctor.py")
assert SPEC and SPEC.loader
doctor = importlib.util.module_from_spec(SPEC)
sys.modules["doctor"] = doctor  # dataclasses look their module up while the file runs
SPEC.loader.exec_module(doctor)


def fake(bin_dir: Path, name: str, output: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(("version", "ok"), [("v16.20.2", False), ("v18.19.1", True), ("v22.1.0", True)])
def test_node_version_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, ok: bool
) -> None:
    fake(tmp_path, "node", version)
    fake(tmp_path, "npm", "10.0.0")
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = doctor.check_node()
    assert finding.ok is ok and finding.found == version
    assert ("apt-get install nodejs npm" in finding.fix) is not ok


def test_missing_node_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = doctor.check_node()
    assert not finding.ok and finding.found == "not installed" and "nodejs" in finding.fix


def test_optional_tools_never_fail_the_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = doctor.check_tool("kubectl", "optional", "https://kubernetes.io", required=False)()
    assert not finding.ok and not finding.required
