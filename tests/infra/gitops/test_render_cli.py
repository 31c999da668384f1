"""`python -m infra.gitops.render`: what `--check` prints for added and removed files, the exact log lines,
usage errors, and where `write_atomically` stages and parks folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.gitops.manifests import read_files
from infra.gitops.render import main, write_atomically

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "Pulumi.fixture.yaml"
SDEP = "seldondeployment-rankship-serving-search-ranker.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy(FIXTURE, tmp_path / "Pulumi.fixture.yaml")
    return tmp_path


def test_written_and_unchanged_are_logged_with_the_file_count(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = repo / "manifests" / "fixture"
    assert main(["--root", str(repo), "--stack", "fixture"]) == 0
    count = len(list(target.iterdir()))
    assert capsys.readouterr().err == f"render: {target} written ({count} files)\n"
    assert main(["--root", str(repo), "--stack", "fixture"]) == 0
    assert capsys.readouterr().err == f"render: {target} unchanged ({count} files)\n"


def test_check_shows_a_missing_file_as_all_added_and_a_leftover_as_all_removed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(repo), "--stack", "fixture"]) == 0
    folder = repo / "manifests" / "fixture"
    sdep = folder / SDEP
    lines = len(sdep.read_text().splitlines())
    sdep.unlink()
    # A yaml the render no longer produces (its object was deleted from the settings).
    (folder / "configmap-rankship-serving-gone.yaml").write_text("kind: ConfigMap\nmetadata: {}\n")
    capsys.readouterr()
    assert main(["--root", str(repo), "--stack", "fixture", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"--- /dev/null\n+++ {sdep} (fresh render)\n@@ -0,0 +1,{lines} @@\n" in out
    gone = folder / "configmap-rankship-serving-gone.yaml"
    assert (
        f"--- {gone}\n+++ {gone} (fresh render)\n@@ -1,2 +0,0 @@\n-kind: ConfigMap\n-metadata: {{}}\n" in out
    )


def test_a_stack_is_required(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--root", str(repo)])
    assert e.value.code == 2
    assert "one of the arguments --stack --all is required" in capsys.readouterr().err


def test_a_root_without_stacks_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    where = f"Pulumi.<stack>.yaml in {tmp_path.resolve()}"
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path), "--stack", "prod"])
    assert f"unknown stack 'prod': no {where} at all" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path), "--all"])
    assert f"no stacks found: no {where}" in capsys.readouterr().err


def test_an_unknown_stack_lists_the_known_ones(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURE, repo / "Pulumi.alpha.yaml")
    with pytest.raises(SystemExit):
        main(["--root", str(repo), "--stack", "fixture", "--stack", "prodd"])
    assert (
        "unknown stack 'prodd': no Pulumi.prodd.yaml; known stacks: alpha, fixture" in capsys.readouterr().err
    )


def test_files_are_staged_beside_the_target_and_the_old_folder_parked_under_the_same_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rename is atomic only within one file system: the new folder is made in the target's parent, and
    # the old one parked there as .<name>.old-<the new folder's random suffix>, unique to this call.
    target = tmp_path / "manifests" / "prod-eu"
    write_atomically(target, {"a.yaml": "old\n"})
    written: list[Path] = []
    renames: list[tuple[str, str]] = []
    real_write, real_rename = Path.write_text, Path.rename

    def recording_write(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(self)
        return real_write(self, *args, **kwargs)

    def recording_rename(self: Path, to: Path) -> Path:
        renames.append((self.name, Path(to).name))
        return real_rename(self, to)

    monkeypatch.setattr(Path, "write_text", recording_write)
    monkeypatch.setattr(Path, "rename", recording_rename)
    write_atomically(target, {"a.yaml": "new\n"})
    (staged,) = written
    assert staged.parent.parent == target.parent and staged.parent.name.startswith(".prod-eu.new-")
    suffix = staged.parent.name.removeprefix(".prod-eu.new-")
    assert renames == [("prod-eu", f".prod-eu.old-{suffix}"), (staged.parent.name, "prod-eu")]
    assert read_files(target) == {"a.yaml": "new\n"}


def test_a_failed_first_write_raises_its_own_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match=r"^disk full$"):
        write_atomically(tmp_path / "manifests" / "dev", {"a.yaml": "a\n"})
    assert list((tmp_path / "manifests").iterdir()) == []
