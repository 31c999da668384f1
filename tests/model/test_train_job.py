"""`python -m model train-job`: the Job's environment, the storage copies, the trainer image, and a
two-worker Job on 127.0.0.1 whose chief ships a bundle to file:// storage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.specs.training import COMMAND
from model.__main__ import EXIT_BAD_INPUT, EXIT_STORAGE_FAILED, main
from model.bench.scaling import free_ports
from model.config import ConfigError
from model.release.bundle import verify_bundle
from model.release.upload import FileStore, S3Store, UploadError, store_for
from model.train_job import job_env

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **over: str) -> dict[str, str]:
    config = tmp_path / "pipeline.yaml"
    config.write_text("preset: tiny\n")
    env = {
        "RANKSHIP_WORKER_HOSTS": "w-0.svc:2222,w-1.svc:2222",
        "JOB_COMPLETION_INDEX": "1",
        "RANKSHIP_OUTPUT_URI": f"{(tmp_path / 'bundles').as_uri()}/",
        "RANKSHIP_RUN_URI": f"{(tmp_path / 'run').as_uri()}/",
        "RANKSHIP_PIPELINE_CONFIG": str(config),
        "RANKSHIP_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    return {**env, **over}


def test_job_env_reads_the_contract(tmp_path: Path) -> None:
    env = job_env(_env(tmp_path))
    assert (env.index, env.workers, env.chief, env.baseline_uri) == (1, 2, False, None)
    assert env.artifacts_dir == tmp_path / "artifacts"
    assert job_env(_env(tmp_path, JOB_COMPLETION_INDEX="0", RANKSHIP_BASELINE_URI="s3://b/x/")).chief


@pytest.mark.parametrize(
    ("over", "named"),
    [
        ({"RANKSHIP_RUN_URI": ""}, "RANKSHIP_RUN_URI is not set"),
        (
            {"RANKSHIP_OUTPUT_URI": "s3://bucket/bundles"},
            "RANKSHIP_OUTPUT_URI: 's3://bucket/bundles' must name a folder",
        ),
        ({"JOB_COMPLETION_INDEX": "2"}, "JOB_COMPLETION_INDEX: '2'"),
        ({"RANKSHIP_WORKER_HOSTS": "w-0.svc"}, "'w-0.svc' is not host:port"),
    ],
)
def test_job_env_names_the_bad_variable(tmp_path: Path, over: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        job_env(_env(tmp_path, **over))


def test_cli_answers_a_bad_job_env_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _env(tmp_path, JOB_COMPLETION_INDEX="x").items():
        monkeypatch.setenv(name, value)
    assert main(["train-job", "--no-progress"]) == EXIT_BAD_INPUT
    assert "JOB_COMPLETION_INDEX: 'x'" in capsys.readouterr().err
    assert not (tmp_path / "artifacts").exists()  # nothing written before the environment is checked


def test_file_store_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    store = store_for(f"{tmp_path.as_uri()}/")
    assert isinstance(store, FileStore)
    store.put_dir(src, f"{(tmp_path / 'dst').as_uri()}/")
    store.put_file(src / "sub" / "a.txt", (tmp_path / "deep" / "b.txt").as_uri())
    store.get_dir(f"{(tmp_path / 'dst').as_uri()}/", tmp_path / "back")
    assert (
        (tmp_path / "back" / "sub" / "a.txt").read_text() == "a" == (tmp_path / "deep" / "b.txt").read_text()
    )
    with pytest.raises(UploadError, match="no such folder"):
        store.get_dir(f"{(tmp_path / 'nope').as_uri()}/", tmp_path / "x")


def test_store_errors_name_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UploadError, match="unsupported storage scheme 'gs'"):
        store_for("gs://bucket/x/")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(UploadError, match="need the `aws` CLI"):
        S3Store()


@pytest.mark.parametrize("error", [UploadError("s3 cp failed"), RuntimeError("collective op timed out")])
def test_storage_failure_or_crash_exits_3(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """A failed copy or a crash is retried by the Job (exit 3); a bare crash would exit 1, "gate failed"."""

    def fail(environ, progress):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr("model.train_job.run_job", fail)
    assert main(["train-job"]) == EXIT_STORAGE_FAILED


def _stages(text: str) -> list[list[str]]:
    text = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    stages: list[list[str]] = [[]]
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_trainer_image_installs_the_lock_and_runs_the_job_command() -> None:
    text = (ROOT / "model" / "Dockerfile.train").read_text()
    _preamble, *stages = _stages(text)
    build, runtime = stages[-2], stages[-1]
    assert "COPY pyproject.toml uv.lock ./" in build
    assert any(ln.startswith("RUN uv sync --frozen --no-dev") for ln in build)
    # The runtime stage installs nothing: it copies what the build stage made.
    assert not any(re.search(r"\b(pip|uv) (install|sync)", ln) for ln in runtime)
    assert "USER 8888:8888" in runtime and any("HOME=/tmp" in ln for ln in runtime)
    entry = next(json.loads(ln.split(" ", 1)[1]) for ln in runtime if ln.startswith("ENTRYPOINT"))
    cmd = next(json.loads(ln.split(" ", 1)[1]) for ln in runtime if ln.startswith("CMD"))
    assert entry + cmd == COMMAND
    # The same digest-pinned base as the serving image.
    pin = re.compile(r"ARG PYTHON_IMAGE=(\S+@sha256:[0-9a-f]{64})")
    serving = (ROOT / "model" / "serving" / "Dockerfile").read_text()
    assert pin.search(text) and pin.search(text).group(1) == pin.search(serving).group(1)  # type: ignore[union-attr]
    ignore = (ROOT / "model" / "Dockerfile.train.dockerignore").read_text().split()
    assert {"*", "!pyproject.toml", "!uv.lock", "!model/"} <= set(ignore)


@pytest.mark.slow
def test_two_worker_job_ships_from_the_chief(tmp_path: Path) -> None:
    hosts = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    config = tmp_path / "one-epoch.yaml"
    config.write_text(yaml.safe_dump({"preset": "tiny", "train": {"epochs": 1}}))
    procs = []
    try:
        for i in range(2):
            env = dict(os.environ, **_env(tmp_path, JOB_COMPLETION_INDEX=str(i), RANKSHIP_WORKER_HOSTS=hosts))
            env["RANKSHIP_ARTIFACTS_DIR"] = str(tmp_path / f"artifacts-{i}")
            env["RANKSHIP_PIPELINE_CONFIG"] = str(config)
            (tmp_path / "pipeline.yaml").write_text(
                yaml.safe_dump({"preset": "tiny", "train": {"epochs": 1}})
            )
            cmd = [sys.executable, "-m", "model", "train-job", "--no-progress"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        outputs = [p.communicate(timeout=400)[0].decode(errors="replace") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "worker 1 of 2 done" in outputs[1]
    latest = json.loads((tmp_path / "run" / "latest.json").read_text())
    info = verify_bundle(tmp_path / "bundles" / latest["bundle_id"])
    assert latest["bundle_uri"] == f"{(tmp_path / 'bundles').as_uri()}/{info.bundle_id}/"
    assert (tmp_path / "run" / "report" / "report.md").is_file()
    # Only the chief packages: the other worker trained but wrote no bundle or report.
    assert not (tmp_path / "artifacts-1" / "run" / "bundles").exists()
    assert (tmp_path / "artifacts-1" / "run" / "work" / "fp32").is_dir()
