"""The age of a canary's step, from the settings file's git history (the progress deadline's clock)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra.canary.progress import canary_started, deployed_for, held_for, step_started

T0 = 1_800_000_000


def _settings(weight: int | None, note: str = "") -> str:
    canary = f"        canary: {{bundle: {{id: {'b' * 64}}}, weight: {weight}}}\n" if weight else ""
    return (
        "config:\n  rankship:settings:\n    models:\n      - name: search-ranker\n"
        f"        stable: {{bundle: {{id: {'a' * 64}}}, weight: {100 - (weight or 0)}}}\n{canary}"
        f"    note: '{note}'\n"
    )


def _commit(root: Path, text: str, at: int) -> None:
    (root / "Pulumi.prod.yaml").write_text(text)
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{at} +0000", "GIT_COMMITTER_DATE": f"{at} +0000"}
    for args in (["add", "."], ["commit", "-qm", f"at {at}"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env)


def _repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for key, value in (("user.email", "t@example.com"), ("user.name", "t")):
        subprocess.run(["git", "-C", str(tmp_path), "config", key, value], check=True)
    return tmp_path


def test_the_step_starts_with_the_commit_that_set_it_not_a_later_unrelated_one(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, _settings(None), T0)
    _commit(root, _settings(10), T0 + 100)
    _commit(root, _settings(10, note="unrelated"), T0 + 200)
    assert step_started(root, "prod", "search-ranker") == T0 + 100
    _commit(root, _settings(25, note="unrelated"), T0 + 300)
    _commit(root, _settings(25, note="again"), T0 + 400)
    assert step_started(root, "prod", "search-ranker") == T0 + 300
    assert held_for(root, "prod", T0 + 900)("search-ranker") == 600


def test_unknown_without_history_or_canary(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.prod.yaml").write_text(_settings(10))
    assert step_started(tmp_path, "prod", "search-ranker") is None  # not a git repository
    root = _repo(tmp_path / "repo")
    _commit(root, _settings(None), T0)
    assert step_started(root, "prod", "search-ranker") is None  # no canary
    (root / "Pulumi.prod.yaml").write_text(_settings(10))  # set in the working copy, not committed yet
    assert step_started(root, "prod", "search-ranker") is None


def test_the_canary_is_as_old_as_the_commit_that_made_its_bundle_the_canary(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    _commit(root, _settings(None), T0)
    _commit(root, _settings(10), T0 + 100)
    _commit(root, _settings(25), T0 + 200)  # promoted: a new step, the same canary
    assert step_started(root, "prod", "search-ranker") == T0 + 200
    assert canary_started(root, "prod", "search-ranker") == T0 + 100
    assert deployed_for(root, "prod", T0 + 1000)("search-ranker") == 900
