"""What the `ci` workflow's gate requires for a change (`python -m infra.gitops.ci_plan`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.gitops.ci_plan import main, plan
from infra.settings.stack import SETTINGS_KEY
from tests.infra.infra_stacks import filled, raw_settings

ROOT = Path(__file__).resolve().parents[3]
STACKS = ["dev", "prod", "staging"]


def filled_root(root: Path) -> Path:
    for stack in STACKS:
        document = {"config": {SETTINGS_KEY: filled(raw_settings(stack))}}
        (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("paths", "stacks", "local", "model", "e2e"),
    [
        # A model-only change: no stack, but the report (and make test) still gate it.
        (["model/ranker/train.py"], [], [], True, False),
        # dev is a kind context: never previewed on a hosted runner, but its settings go through cluster-e2e.
        (["Pulumi.dev.yaml", "manifests/dev/a.yaml"], [], ["dev"], False, True),
        (["Pulumi.prod.yaml"], ["prod"], [], False, False),
        (["infra/components/eks.py"], ["prod", "staging"], ["dev"], False, False),
        (["infra/specs/seldon.py"], ["prod", "staging"], ["dev"], False, True),
        (["uv.lock"], ["prod", "staging"], ["dev"], True, False),
        (["model/serving/scorer.py"], [], [], True, True),
        (["docs/gitops.md", ".github/workflows/canary.yml"], [], [], False, False),
    ],
)
def test_plan(paths: list[str], stacks: list[str], local: list[str], model: bool, e2e: bool) -> None:
    # The committed aws-eks stacks are examples: listed, never previewed; a filled copy is previewed.
    expected = {"local_stacks": local, "model": model, "cluster_e2e": e2e}
    assert plan(paths, STACKS, ROOT) == {"stacks": [], "example_stacks": stacks, **expected}


def test_filled_stacks_are_previewed(tmp_path: Path) -> None:
    filled_root(tmp_path)
    assert plan(["infra/program.py"], STACKS, tmp_path)["stacks"] == ["prod", "staging"]


def outputs(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, object], str]:
    assert main(["--root", str(ROOT), *args]) == 0
    out = capsys.readouterr()
    lines = [line.split("=", 1) for line in out.out.splitlines()]
    return {k: json.loads(v) for k, v in lines}, out.err


def test_cli_writes_github_output_lines_and_says_why_a_stack_is_not_previewed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    found, err = outputs(capsys, "--only", "dev")
    assert found == {
        "stacks": [],
        "local_stacks": ["dev"],
        "example_stacks": [],
        "model": False,
        "cluster_e2e": True,
    }
    assert "stack dev runs on an existing cluster no hosted runner can reach" in err
    found, err = outputs(capsys, "--only", "prod")
    assert found["stacks"] == [] and found["example_stacks"] == ["prod"]
    assert "stack prod is marked `example: true`" in err


def test_cli_with_an_unknown_base_requires_everything(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the repository's git history")
    found, err = outputs(capsys, "--base", "0" * 40)
    assert found == {
        "stacks": [],
        "local_stacks": ["dev"],
        "example_stacks": ["prod", "staging"],
        "model": True,
        "cluster_e2e": True,
    }
    assert "not a known commit" in err


def test_cli_diffs_the_revisions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    filled_root(tmp_path)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "x.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "model"], check=True)
    assert main(["--root", str(tmp_path), "--base", "HEAD~1"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "stacks=[]",
        "local_stacks=[]",
        "example_stacks=[]",
        "model=true",
        "cluster_e2e=false",
    ]


def test_pulumi_cli_version_is_the_locked_sdk(capsys: pytest.CaptureFixture[str]) -> None:
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    locked = re.search(r'^name = "pulumi"\nversion = "([^"]+)"', lock, re.MULTILINE)
    assert locked is not None
    assert main(["--pulumi-version"]) == 0
    assert capsys.readouterr().out == f"version={locked.group(1)}\n"


def test_all_lists_every_stack(capsys: pytest.CaptureFixture[str]) -> None:
    found, _ = outputs(capsys, "--all")
    assert (found["stacks"], found["local_stacks"], found["example_stacks"]) == (
        [],
        ["dev"],
        ["prod", "staging"],
    )
