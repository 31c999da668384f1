"""`python -m infra.live.train_job`: the training facts and the per-run objects the release workflow applies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from infra.gitops.validate import validate_objects
from infra.live.train_job import main

FIXTURES = Path(__file__).resolve().parents[1] / "gitops" / "fixtures"
IMAGE = "ghcr.io/rankship/ranker-train@sha256:" + "0c" * 32


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "Pulumi.fixture.yaml", tmp_path / "Pulumi.fixture.yaml")
    return tmp_path


def run(repo: Path, *args: str) -> int:
    return main(["--root", str(repo), *args])


def test_settings_describe_the_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, "settings", "--stack", "fixture", "--run-id", "abc123-2") == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts == {
        "runner": "cluster",
        "provider": "existing",
        "cluster": "rankship-fixture",
        "region": None,
        "namespace": "rankship-training",
        "run_id": "abc123-2",
        "job": "rankship-train-abc123-2",
        "replicas": 3,
        "gpus_per_replica": 0,
        "image": "registry.example.com/rankship/ranker-train@sha256:" + "f6" * 32,
        "output_uri": "s3://rankship-fixture/bundles/",
        "run_uri": "s3://rankship-fixture/runs/abc123-2/",
        "active_deadline_seconds": 3600,
    }


def test_render_writes_the_run_objects_with_the_overrides(repo: Path) -> None:
    out = repo / "out" / "job.yaml"
    baseline = "s3://rankship-fixture/runs/abc123-2/baseline/"
    args = ["--run-id", "abc123-2", "--image", IMAGE, "--baseline-uri", baseline, "--ttl-seconds", "600"]
    assert run(repo, "render", "--stack", "fixture", *args, "--out", str(out)) == 0
    docs = list(yaml.safe_load_all(out.read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "rankship-train-abc123-2"),
        ("Service", "rankship-train-abc123-2"),
        ("Job", "rankship-train-abc123-2"),
    ]
    spec = docs[2]["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == IMAGE and env["RANKSHIP_BASELINE_URI"] == baseline
    assert env["RANKSHIP_WORKER_HOSTS"].count(",") == 2  # three workers
    assert spec["ttlSecondsAfterFinished"] == 600
    assert yaml.safe_load(docs[0]["data"]["pipeline.yaml"]) == {"preset": "tiny"}
    report = validate_objects(docs, "1.31", None)
    assert (report.errors, report.checked) == ([], 3)


def test_render_to_stdout_defaults_to_the_settings_run(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(repo, "render", "--stack", "fixture") == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert docs[2]["metadata"]["name"] == "rankship-train-fixture-7"
    assert "ttlSecondsAfterFinished" not in docs[2]["spec"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-id", "Bad_Id"], "training.run_id: run_id 'Bad_Id' must be 1-32"),
        (["--image", "ghcr.io/x/trainer:latest"], "training.image: image must be pinned by digest"),
        (["--baseline-uri", "https://example.com/b/"], "--baseline-uri: must be an s3://"),
        (["--ttl-seconds", "-1"], "--ttl-seconds: must be >= 0"),
    ],
)
def test_bad_flags_are_named_and_nothing_is_written(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = repo / "job.yaml"
    assert run(repo, "render", "--stack", "fixture", *args, "--out", str(out)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in repo.iterdir()) == ["Pulumi.fixture.yaml"]


def test_actions_runner_has_nothing_to_render(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "Pulumi.fixture.yaml"
    path.write_text(path.read_text().replace("runner: cluster", "runner: actions"))
    assert run(repo, "settings", "--stack", "fixture") == 0
    assert json.loads(capsys.readouterr().out)["runner"] == "actions"
    assert run(repo, "render", "--stack", "fixture") == 2
    assert "training.runner: is 'actions'" in capsys.readouterr().err


def test_unknown_stack_is_bad_input(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, "settings", "--stack", "nope") == 2
    assert "unknown stack (stacks: fixture)" in capsys.readouterr().err
