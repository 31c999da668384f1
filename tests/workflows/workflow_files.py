"""The workflow files as data, and a way to run one `run:` script the way GitHub does, with fake commands."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
# Every workflow sets this under defaults.run.shell: GitHub's `bash -e` default has no pipefail and no -u.
SHELL = "bash --noprofile --norc -euo pipefail {0}"


def load(path: Path) -> dict[str, Any]:
    # PyYAML reads the `on:` key as True (YAML 1.1).
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    return data


def triggers(data: dict[str, Any]) -> dict[str, Any]:
    on = data.get("on", data.get(True))
    if isinstance(on, str):
        return {on: None}
    return dict(on or {})


def step(path: Path, job: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in load(path)["jobs"][job]["steps"] if s.get("name") == name]
    return found


def run_script(
    script: str, env: dict[str, str], tmp_path: Path, fakes: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a step's script under SHELL with `fakes` (name -> bash source) first on PATH."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (fakes or {}).items():
        tool = bin_dir / name
        tool.write_text(text, encoding="utf-8")
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    script_file = tmp_path / "step.sh"
    script_file.write_text(script, encoding="utf-8")
    argv = [bash if a == "bash" else a for a in shlex.split(SHELL.replace("{0}", str(script_file)))]
    full_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=30)
