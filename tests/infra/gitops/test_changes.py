"""Which stacks a change touches (`python -m infra.gitops.changes`), used by infra-preview and infra-deploy."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.gitops.changes import affected_stacks, main

STACKS = ["dev", "prod", "staging"]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["Pulumi.prod.yaml"], ["prod"]),
        (["manifests/staging/kustomization.yaml", "README.md"], ["staging"]),
        (["manifests/dev/a.yaml", "Pulumi.prod.yaml"], ["dev", "prod"]),
        (["infra/specs/seldon.py"], STACKS),
        (["uv.lock"], STACKS),
        (["Pulumi.yaml"], STACKS),
        (["model/ranker/train.py", "tests/infra/test_x.py", ".github/workflows/canary.yml"], []),
        (["Pulumi.gone.yaml", "manifests/gone/a.yaml"], []),  # a deleted stack is never deployed implicitly
        (["manifests/README.md"], []),
    ],
)
def test_affected_stacks(paths: list[str], expected: list[str]) -> None:
    assert affected_stacks(paths, STACKS) == expected


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for stack in STACKS:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    return tmp_path


def git(root: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def run(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str] | None, str]:
    code = main(["--root", str(root), *args])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out else None, out.err


def test_cli_diffs_two_revisions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = git(repo, "rev-parse", "HEAD")
    (repo / "Pulumi.staging.yaml").write_text("config: {a: 1}\n")
    git(repo, "commit", "-qam", "staging")
    assert run(repo, capsys, "--base", base) == (0, ["staging"], "")
    assert run(repo, capsys, "--base", "HEAD") == (0, [], "")


def test_unknown_base_means_every_stack(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stacks, err = run(repo, capsys, "--base", "0" * 40)
    assert (code, stacks) == (0, STACKS) and "every stack is affected" in err
    code, stacks, err = run(repo, capsys, "--base", "1234567" * 5 + "12345")
    assert (code, stacks) == (0, STACKS)


def test_only_checks_the_stack_exists(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, capsys, "--only", "prod") == (0, ["prod"], "")
    with pytest.raises(SystemExit):
        main(["--root", str(repo), "--only", "qa"])
    assert "unknown stack 'qa': no Pulumi.qa.yaml" in capsys.readouterr().err
