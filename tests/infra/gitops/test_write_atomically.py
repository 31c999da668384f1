"""`write_atomically`: where it stages, what mode the folder gets, and that stray files go."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest

from infra.gitops.manifests import read_files
from infra.gitops.render import write_atomically


def test_missing_parents_are_created(tmp_path: Path) -> None:
    target = tmp_path / "clone" / "manifests" / "dev"
    assert write_atomically(target, {"a.yaml": "a\n"}) is True
    assert read_files(target) == {"a.yaml": "a\n"}


def test_the_folder_is_world_readable_like_a_checkout(tmp_path: Path) -> None:
    # mkdtemp makes 0700 folders; GitOps agents and reviewers' tools read the folder as other users.
    target = tmp_path / "manifests" / "dev"
    write_atomically(target, {"a.yaml": "a\n"})
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


def test_staging_happens_beside_the_target_not_in_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rename is atomic only within one file system, so the new folder is made next to the old one.
    elsewhere = tmp_path / "system-tmp"
    elsewhere.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))
    target = tmp_path / "manifests" / "dev"
    write_atomically(target, {"a.yaml": "a\n"})
    write_atomically(target, {"a.yaml": "b\n"})
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["dev"]


@pytest.mark.parametrize("stray", ["notes.txt", "sub/"])
def test_a_stray_entry_in_an_up_to_date_folder_is_removed(tmp_path: Path, stray: str) -> None:
    # The yaml files already match; only the non-yaml file (or a folder) makes the folder stale.
    target = tmp_path / "manifests" / "dev"
    write_atomically(target, {"a.yaml": "a\n"})
    if stray.endswith("/"):
        (target / stray).mkdir()
    else:
        (target / stray).write_text("hand-written\n")
    assert write_atomically(target, {"a.yaml": "a\n"}) is True
    assert sorted(p.name for p in target.iterdir()) == ["a.yaml"]
    assert write_atomically(target, {"a.yaml": "a\n"}) is False  # now nothing to do
