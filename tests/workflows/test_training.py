"""model-release.yml trains where the stack says; its wait step is run for real against a fake kubectl."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / ".github" / "workflows" / "model-release.yml"
WAIT_STEP = "Wait for the Job (complete or failed)"

# Answers like kubectl for the calls the wait step makes. FAKE_OUTCOME picks which condition the Job reaches;
# the losing `wait` blocks like the real one until the step kills it (exec: the kill reaches the sleep).
FAKE_KUBECTL = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"wait --for=condition=Complete"*)
    [ "$FAKE_OUTCOME" = complete ] && { sleep 0.3; exit 0; }
    [ "$FAKE_OUTCOME" = timeout ] && { echo "error: timed out" >&2; exit 1; }
    exec sleep 30 ;;
  *"wait --for=condition=Failed"*)
    [ "$FAKE_OUTCOME" = failed ] && { sleep 0.3; exit 0; }
    [ "$FAKE_OUTCOME" = timeout ] && { sleep 0.2; exit 1; }
    exec sleep 30 ;;
  *"get pods"*"-o name"*) printf 'pod/rankship-train-r1-0-abcde\\npod/rankship-train-r1-1-fghij\\n' ;;
  *" logs "*) echo "worker log from $4: Traceback: NCCL error" ;;
  *) echo "fake kubectl: $*" ;;
esac
"""


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(RELEASE.read_text(encoding="utf-8"))
    return data


def step(job: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in workflow()["jobs"][job]["steps"] if s.get("name") == name]
    return found


def test_the_training_stack_setting_picks_exactly_one_training_job() -> None:
    jobs = workflow()["jobs"]
    run = step("plan", "Training runner of the training stack")["run"]
    assert "python -m infra.live.train_job settings --stack" in run and "jq -er .runner" in run
    assert jobs["train"]["if"] == "needs.plan.outputs.runner == 'actions'"
    assert jobs["train-cluster"]["if"] == "needs.plan.outputs.runner == 'cluster'"
    for downstream in ("publish", "deploy-pr"):
        assert {"train", "train-cluster"} <= set(jobs[downstream]["needs"])
        assert "!cancelled()" in jobs[downstream]["if"]  # a skipped training job must not skip the release
    assert "needs.train-cluster.result == 'success'" in jobs["publish"]["if"]


def test_cluster_training_builds_this_commit_and_applies_the_rendered_job() -> None:
    steps = workflow()["jobs"]["train-cluster"]["steps"]
    build = next(s for s in steps if "build-push-action" in str(s.get("uses")))
    assert build["with"]["file"] == "model/Dockerfile.train" and build["with"]["push"] is True
    start = step("train-cluster", "Start the training Job")["run"]
    assert "python -m infra.live.train_job render" in start and '--image "${REPO}@${DIGEST}"' in start
    assert "aws eks update-kubeconfig" in start and "kubectl apply" in start
    roles = [s["with"]["role-to-assume"] for s in steps if "configure-aws-credentials" in str(s.get("uses"))]
    assert roles == ["${{ vars.AWS_MODEL_CI_ROLE_ARN }}", "${{ vars.AWS_TRAINING_ROLE_ARN }}"]
    fetch = step("train-cluster", "Fetch the chief's bundle and report")["run"]
    assert '"${RUN_URI}latest.json"' in fetch and "sha256sum --check" in fetch


def wait_step(tmp_path: Path, outcome: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL, encoding="utf-8")
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_OUTCOME": outcome,
        "NAMESPACE": "rankship-training",
        "JOB": "rankship-train-r1",
        "DEADLINE": "60",
    }
    # As the workflow's defaults.run.shell runs it (`bash -euo pipefail`): a failing command must not end the step
    # before the logs.
    script = step("train-cluster", WAIT_STEP)["run"]
    cmd = [bash, "--noprofile", "--norc", "-euo", "pipefail", "-c", script]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    return done, log.read_text(encoding="utf-8").splitlines()


def test_wait_succeeds_when_the_job_completes(tmp_path: Path) -> None:
    done, calls = wait_step(tmp_path, "complete")
    assert done.returncode == 0, done.stderr
    assert "job/rankship-train-r1 completed" in done.stdout
    assert not any(" logs " in f" {c} " for c in calls)
    # Both conditions were awaited, with the deadline plus the 5 min margin.
    waits = sorted(c for c in calls if " wait " in f" {c} ")
    assert waits == [
        "-n rankship-training wait --for=condition=Complete job/rankship-train-r1 --timeout=360s",
        "-n rankship-training wait --for=condition=Failed job/rankship-train-r1 --timeout=360s",
    ]


def test_wait_fails_with_every_workers_log_when_the_job_fails(tmp_path: Path) -> None:
    done, calls = wait_step(tmp_path, "failed")
    assert done.returncode == 1
    assert "::error::training Job rankship-training/rankship-train-r1 failed" in done.stdout
    for pod in ("pod/rankship-train-r1-0-abcde", "pod/rankship-train-r1-1-fghij"):
        assert f"::group::logs of {pod}" in done.stdout
        assert f"worker log from {pod}: Traceback: NCCL error" in done.stdout
    assert "-n rankship-training describe job/rankship-train-r1" in calls


def test_wait_fails_with_the_logs_when_neither_condition_arrives(tmp_path: Path) -> None:
    done, calls = wait_step(tmp_path, "timeout")
    assert done.returncode == 1
    assert "did not finish within 360s" in done.stdout
    assert sum(1 for c in calls if " logs " in f" {c} ") == 2
