"""`python -m infra.settings.deploy`: the settings edits the release and canary workflows make."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from infra.settings.deploy import RoundTrip, main
from infra.settings.stack import load_stack_settings, stack_names

FIXTURES = Path(__file__).resolve().parents[1] / "gitops" / "fixtures"
ROOT = Path(__file__).resolve().parents[3]
NEW = "f6" * 32
IMAGE = "registry.example.com/rankship/ranker-serving@sha256:" + "07" * 32


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path / "Pulumi.fixture.yaml")
    return tmp_path


def set_canary(repo: Path, *extra: str, bundle: str = NEW, image: str = IMAGE) -> int:
    uri = f"s3://rankship-fixture/bundles/{bundle}/"
    args = [
        "--root",
        str(repo),
        "set-canary",
        "--stack",
        "fixture",
        "--bundle-id",
        bundle,
        "--bundle-uri",
        uri,
    ]
    return main([*args, "--image", image, *extra])


def settings_file(repo: Path) -> str:
    return (repo / "Pulumi.fixture.yaml").read_text()


def test_new_canary_starts_at_the_default_first_step(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert set_canary(repo, "--model", "reco-ranker") == 0
    model = load_stack_settings("fixture", repo).models[1]
    assert model.canary is not None
    assert (model.canary.bundle.id, model.canary.weight, model.canary.image) == (NEW, 10, IMAGE)
    assert model.stable.weight == 90
    assert "model 'reco-ranker' canary f6f6f6f6f6f6 at 10 %" in capsys.readouterr().out


def test_the_edit_keeps_comments_quotes_and_every_other_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = settings_file(repo).splitlines()
    assert set_canary(repo, "--model", "reco-ranker") == 0
    assert "re-indented" not in capsys.readouterr().err
    after = settings_file(repo).splitlines()
    diff = list(difflib.unified_diff(before, after, lineterm="", n=0))[2:]
    assert [line[1:] for line in diff if line.startswith("+")] == [
        "        weight: 90",
        "      canary:",
        "        bundle:",
        f"          id: {NEW}",
        f"          uri: s3://rankship-fixture/bundles/{NEW}/",
        "        weight: 10",
        f"        image: {IMAGE}",
    ]
    # reco-ranker's stable weight was implicit (100), so the edit only adds lines: nothing is lost.
    assert [line for line in diff if line.startswith("-")] == []


def test_a_live_canary_is_not_replaced_silently(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = settings_file(repo)
    assert set_canary(repo, "--model", "search-ranker") == 1
    assert "already has canary b2b2b2b2b2b2 at 25 %; pass --replace" in capsys.readouterr().err
    assert settings_file(repo) == before


def test_replace_restarts_at_the_first_step_of_the_canary_analysis(repo: Path) -> None:
    assert set_canary(repo, "--model", "search-ranker", "--replace") == 0
    model = load_stack_settings("fixture", repo).models[0]
    assert model.canary is not None
    assert (model.canary.bundle.id, model.canary.weight, model.stable.weight) == (NEW, 5, 95)
    assert model.canary.analysis.steps == (5, 25, 100)  # the analysis settings survive


def test_several_models_need_model(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert set_canary(repo) == 2
    assert "serves 2 models (search-ranker, reco-ranker); pass --model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": "registry.example.com/ranker:latest"}, "argument --image: image must be pinned by digest"),
        ({"bundle": "F6" * 32}, f"argument --bundle-id: '{'F6' * 32}' is not a bundle id"),
    ],
)
@pytest.mark.parametrize("extra", [(), ("--replace",)])
def test_malformed_arguments_are_named_before_the_settings_are_read(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    kwargs: dict[str, str],
    message: str,
    extra: tuple[str, ...],
) -> None:
    """Not "already has canary" and not a pydantic pattern: the argument itself is what is wrong."""
    before = settings_file(repo)
    with pytest.raises(SystemExit) as e:
        set_canary(repo, "--model", "search-ranker", *extra, **kwargs)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "already has canary" not in err and "pattern" not in err
    assert settings_file(repo) == before
    assert [p.name for p in repo.iterdir()] == ["Pulumi.fixture.yaml"]  # no temp file left


def test_uri_must_name_the_same_bundle(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--root",
        str(repo),
        "set-canary",
        "--stack",
        "fixture",
        "--model",
        "reco-ranker",
        "--bundle-id",
        NEW,
    ]
    assert main([*args, "--bundle-uri", "s3://rankship-fixture/bundles/other/", "--image", IMAGE]) == 2
    assert f"bundle uri must be s3://<bucket>/bundles/{NEW}/" in capsys.readouterr().err


def test_the_stable_bundle_or_the_same_canary_is_a_no_op(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = settings_file(repo)
    assert set_canary(repo, "--model", "reco-ranker", bundle="d4" * 32) == 0
    assert "already serves model 'reco-ranker'; unchanged" in capsys.readouterr().out
    assert settings_file(repo) == before
    assert set_canary(repo, "--model", "reco-ranker") == 0
    once = settings_file(repo)
    assert set_canary(repo, "--model", "reco-ranker") == 0
    assert settings_file(repo) == once


def test_unknown_stack_is_bad_input(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "stable-uri", "--stack", "nope"]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.nope.yaml" in err and "stack file not found" in err


def test_reads_for_the_workflows(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "stable-uri", "--stack", "fixture", "--model", "reco-ranker"]) == 0
    assert capsys.readouterr().out == f"s3://rankship-fixture/bundles/{'d4' * 32}/\n"
    assert (
        main(
            [
                "--root",
                str(repo),
                "bundle-uri",
                "--stack",
                "fixture",
                "--model",
                "reco-ranker",
                "--bundle-id",
                NEW,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == f"s3://rankship-fixture/bundles/{NEW}/\n"
    with pytest.raises(SystemExit) as e:
        main(["--root", str(repo), "bundle-uri", "--stack", "fixture", "--model", "x", "--bundle-id", "abc"])
    assert e.value.code == 2
    assert "'abc' is not a bundle id" in capsys.readouterr().err
    assert main(["--root", str(repo), "canaries"]) == 0
    assert json.loads(capsys.readouterr().out) == ["fixture"]


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_repository_stack_files_survive_the_round_trip_unchanged(stack: str) -> None:
    assert RoundTrip(ROOT / f"Pulumi.{stack}.yaml").faithful
