"""`render --all --check` over several stacks: every stack is checked and any stale one fails the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.gitops.render import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "Pulumi.fixture.yaml"
STACKS = ("alpha", "beta", "gamma")  # sorted: alpha is checked first, gamma last


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for stack in STACKS:
        shutil.copy(FIXTURE, tmp_path / f"Pulumi.{stack}.yaml")
    assert main(["--root", str(tmp_path), "--all"]) == 0
    return tmp_path


def _stale(repo: Path, stack: str) -> Path:
    edited = repo / "manifests" / stack / "seldondeployment-rankship-serving-search-ranker.yaml"
    edited.write_text(edited.read_text().replace("traffic: 25", "traffic: 20"))
    return edited


def test_all_writes_every_stack(repo: Path) -> None:
    assert sorted(p.name for p in (repo / "manifests").iterdir()) == list(STACKS)
    assert main(["--root", str(repo), "--all", "--check"]) == 0


@pytest.mark.parametrize("stale", STACKS)
def test_one_stale_stack_fails_the_whole_check(
    repo: Path, stale: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _stale(repo, stale)
    capsys.readouterr()
    assert main(["--root", str(repo), "--all", "--check"]) == 1
    captured = capsys.readouterr()
    assert f"--- {edited}\n" in captured.out
    # The stale stack is named, and the fresh ones still report as checked.
    assert f"manifests/{stale} is stale" in captured.err
    for fresh in set(STACKS) - {stale}:
        assert f"manifests/{fresh} is up to date" in captured.err
