"""`python -m infra.gitops.render`: golden output of the fixture stack, byte stability, atomic writes, `--check`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.gitops.manifests import KUSTOMIZATION, read_files
from infra.gitops.render import drift, main, render_stack, write_atomically
from infra.settings.stack import stack_names

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
UPDATE_GOLDEN = "RANKSHIP_UPDATE_GOLDEN"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch repository root holding a copy of the fixture stack's settings."""
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path / "Pulumi.fixture.yaml")
    return tmp_path


def render_cli(repo: Path, *args: str) -> int:
    return main(["--root", str(repo), *args])


def test_fixture_stack_matches_golden_files() -> None:
    files = render_stack("fixture", FIXTURES)
    if os.environ.get(UPDATE_GOLDEN) == "1":
        write_atomically(GOLDEN / "fixture", files)
    assert read_files(GOLDEN / "fixture") == files, f"re-pin with {UPDATE_GOLDEN}=1 if the change is intended"


def test_render_is_byte_stable_across_processes(repo: Path) -> None:
    # Two interpreters with different string-hash seeds (set and dict-of-set order differ between them) must
    # write the same bytes, and those bytes are the pinned golden files, not merely each other.
    for seed in ("1", "2"):
        out = repo / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [sys.executable, "-m", "infra.gitops.render", "--root", str(repo), "--out", str(out), "--all"]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    assert read_files(repo / "out-1" / "fixture") == read_files(repo / "out-2" / "fixture")
    assert read_files(repo / "out-1" / "fixture") == read_files(GOLDEN / "fixture")


def test_fixture_render_covers_every_track() -> None:
    files = render_stack("fixture", FIXTURES)
    sdep = yaml.safe_load(files["seldondeployment-rankship-serving-search-ranker.yaml"])
    tracks = [(p["name"], p["traffic"], p.get("shadow", False)) for p in sdep["spec"]["predictors"]]
    assert tracks == [("stable", 75, False), ("canary", 25, False), ("shadow", 50, True)]


def test_cli_writes_the_stack_folder(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render_cli(repo, "--stack", "fixture") == 0
    written = read_files(repo / "manifests" / "fixture")
    assert written == render_stack("fixture", FIXTURES)
    assert "written" in capsys.readouterr().err
    mtimes = {p.name: p.stat().st_mtime_ns for p in (repo / "manifests" / "fixture").iterdir()}
    assert render_cli(repo, "--all") == 0  # unchanged: nothing rewritten
    assert {p.name: p.stat().st_mtime_ns for p in (repo / "manifests" / "fixture").iterdir()} == mtimes
    assert "unchanged" in capsys.readouterr().err


def test_rewrite_removes_files_of_deleted_objects(repo: Path) -> None:
    stale = repo / "manifests" / "fixture" / "configmap-rankship-serving-gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("kind: ConfigMap\n")
    assert render_cli(repo, "--stack", "fixture") == 0
    assert not stale.exists()


def test_bad_settings_leave_the_old_folder(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render_cli(repo, "--stack", "fixture") == 0
    before = read_files(repo / "manifests" / "fixture")
    settings = repo / "Pulumi.fixture.yaml"
    settings.write_text(settings.read_text().replace("weight: 25", "weight: 30"))
    assert render_cli(repo, "--stack", "fixture") == 2
    err = capsys.readouterr().err
    assert "stack fixture" in err and "traffic weights must sum to 100" in err
    assert read_files(repo / "manifests" / "fixture") == before


def test_a_write_failure_leaves_the_old_folder_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifests" / "dev"
    write_atomically(target, {"a.yaml": "old\n", KUSTOMIZATION: "k\n"})
    real_write, calls = Path.write_text, []

    def failing_write(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, {"a.yaml": "new\n", "b.yaml": "new\n", KUSTOMIZATION: "k2\n"})
    assert read_files(target) == {"a.yaml": "old\n", KUSTOMIZATION: "k\n"}
    assert [p.name for p in target.parent.iterdir()] == ["dev"]


def test_a_failed_swap_restores_the_old_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "manifests" / "dev"
    write_atomically(target, {"a.yaml": "old\n"})
    real_rename = Path.rename

    def failing_rename(self: Path, to: Path) -> Path:
        if self.name.startswith(".dev.new-"):
            raise OSError("interrupted")
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OSError, match="interrupted"):
        write_atomically(target, {"a.yaml": "new\n"})
    assert read_files(target) == {"a.yaml": "old\n"}
    assert [p.name for p in target.parent.iterdir()] == ["dev"]


def test_check_passes_on_a_fresh_render(repo: Path) -> None:
    assert render_cli(repo, "--stack", "fixture") == 0
    assert render_cli(repo, "--stack", "fixture", "--check") == 0


def test_check_reports_an_edited_file_as_a_unified_diff(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render_cli(repo, "--stack", "fixture") == 0
    edited = repo / "manifests" / "fixture" / "seldondeployment-rankship-serving-search-ranker.yaml"
    edited.write_text(edited.read_text().replace("traffic: 25", "traffic: 20"))
    capsys.readouterr()
    assert render_cli(repo, "--stack", "fixture", "--check") == 1
    out = capsys.readouterr().out
    assert f"--- {edited}\n+++ {edited} (fresh render)\n" in out
    assert "\n-    traffic: 20\n+    traffic: 25\n" in out


def test_check_reports_missing_and_stray_files(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert render_cli(repo, "--stack", "fixture") == 0
    folder = repo / "manifests" / "fixture"
    (folder / "namespace-rankship-serving.yaml").unlink()
    (folder / "notes.txt").write_text("hand-written\n")
    capsys.readouterr()
    assert render_cli(repo, "--stack", "fixture", "--check") == 1
    out = capsys.readouterr().out
    assert "--- /dev/null\n" in out and "namespace-rankship-serving.yaml (fresh render)" in out
    assert f"--- {folder / 'notes.txt'}\n+++ (fresh render)\n@@ not produced by the render @@" in out


def test_check_of_a_never_rendered_stack_fails(repo: Path) -> None:
    assert drift(repo / "manifests" / "fixture", render_stack("fixture", repo)).count("--- /dev/null") > 5
    assert render_cli(repo, "--stack", "fixture", "--check") == 1


def test_unknown_stack_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        render_cli(repo, "--stack", "prodd")
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown stack 'prodd': no Pulumi.prodd.yaml; known stacks: " in err
    assert ", ".join(stack_names(repo)) in err
