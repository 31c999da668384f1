"""The manifest diff summary posted on PRs: expected Markdown worked out by hand on tiny stacks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from infra.gitops.manifests import render_files
from infra.gitops.summary import changed_fields, main, predictors, summarize

A, B, C = "a" * 12, "b" * 12, "c" * 12


def predictor(name: str, version: str, traffic: int, shadow: bool = False) -> dict:
    p = {"name": name, "traffic": traffic, "labels": {"version": version}, "graph": {"name": "ranker"}}
    return {**p, "shadow": True} if shadow else p


def sdep(*preds: dict) -> dict:
    meta = {"name": "search-ranker", "namespace": "serving"}
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": meta,
        "spec": {"predictors": list(preds)},
    }


def cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "serving"}}


def test_canary_rollout_is_summarised_by_model_version_and_weight() -> None:
    before = {"prod": render_files("prod", [sdep(predictor("stable", A, 100)), cm("old")])}
    after = {
        "prod": render_files(
            "prod", [sdep(predictor("stable", A, 90), predictor("canary", B, 10)), cm("new")]
        )
    }
    assert summarize(before, after) == (
        "### Manifest changes\n\n"
        "#### Stack `prod`: 1 added, 1 changed, 1 removed\n\n"
        "| model | predictor | version | traffic |\n"
        "|---|---|---|---|\n"
        f"| search-ranker | canary | — → `{B}` | — → 10 % |\n"
        f"| search-ranker | stable | `{A}` | 100 % → 90 % |\n\n"
        "- added: ConfigMap serving/new (v1)\n"
        "- removed: ConfigMap serving/old (v1)\n"
        "- changed: SeldonDeployment serving/search-ranker (machinelearning.seldon.io/v1): "
        "`spec.predictors`\n"
    )


def test_promotion_shows_the_new_stable_version_and_shadow_mirroring() -> None:
    before = {
        "dev": render_files(
            "dev",
            [sdep(predictor("stable", A, 50), predictor("canary", B, 50), predictor("shadow", C, 20, True))],
        )
    }
    after = {
        "dev": render_files("dev", [sdep(predictor("stable", B, 100), predictor("shadow", C, 20, True))])
    }
    text = summarize(before, after)
    assert f"| search-ranker | stable | `{A}` → `{B}` | 50 % → 100 % |" in text
    assert f"| search-ranker | canary | `{B}` → — | 50 % → — |" in text
    assert "| search-ranker | shadow |" not in text  # unchanged: no row


def test_changed_fields_lists_leaf_paths() -> None:
    before = {"spec": {"replicas": 1, "ports": [{"port": 80}], "same": {"x": 1}}}
    after = {"spec": {"replicas": 2, "ports": [{"port": 81}], "same": {"x": 1}, "new": True}}
    assert changed_fields(before, after) == ["spec.new", "spec.ports[0].port", "spec.replicas"]


def test_many_changed_fields_are_capped() -> None:
    before = {"prod": render_files("prod", [{**cm("x"), "data": {k: "1" for k in "abcdefg"}}])}
    after = {"prod": render_files("prod", [{**cm("x"), "data": {k: "2" for k in "abcdefg"}}])}
    assert "`data.a`, `data.b`, `data.c`, `data.d`, `data.e` (+2 more)" in summarize(before, after)


def test_predictor_version_falls_back_to_the_model_uri() -> None:
    obj = sdep({"name": "stable", "traffic": 100, "graph": {"modelUri": f"s3://b/bundles/{A}/"}})
    assert predictors(obj)["stable"].version == A


def test_no_changes_and_new_stacks() -> None:
    files = render_files("dev", [cm("x")])
    assert (
        summarize({"dev": files}, {"dev": files}) == "### Manifest changes\n\nNo changes to `manifests/`.\n"
    )
    assert "#### Stack `new`: 1 added, 0 changed, 0 removed" in summarize({}, {"new": files})


def write_stack(manifests: Path, stack: str, objects: list[dict]) -> None:
    (manifests / stack).mkdir(parents=True, exist_ok=True)
    for name, text in render_files(stack, objects).items():
        (manifests / stack / name).write_text(text)


def test_cli_compares_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stack(tmp_path / "old", "prod", [cm("a")])
    write_stack(tmp_path / "new", "prod", [cm("a"), cm("b")])
    write_stack(tmp_path / "new", "dev", [cm("z")])
    assert main(["--before", str(tmp_path / "old"), "--after", str(tmp_path / "new"), "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "- added: ConfigMap serving/b (v1)" in out and "dev" not in out


def test_cli_rejects_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--before", str(tmp_path / "nope")])
    assert e.value.code == 2
    assert "nope is not a directory" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_compares_with_a_git_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    write_stack(tmp_path / "manifests", "prod", [sdep(predictor("stable", A, 100))])
    git("add", ".")
    git("commit", "-qm", "base")
    shutil.rmtree(tmp_path / "manifests" / "prod")
    write_stack(
        tmp_path / "manifests", "prod", [sdep(predictor("stable", A, 90), predictor("canary", B, 10))]
    )
    assert main(["--base-rev", "HEAD", "--root", str(tmp_path)]) == 0
    assert f"| search-ranker | canary | — → `{B}` | — → 10 % |" in capsys.readouterr().out
    assert main(["--base-rev", "no-such-rev", "--root", str(tmp_path)]) == 2
    assert "summary: git ls-tree" in capsys.readouterr().err
