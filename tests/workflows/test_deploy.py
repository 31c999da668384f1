"""infra-deploy.yml verifies each rollout after `pulumi up`; the verify step runs for real against fake
`pulumi` and `uv` commands that record how they were called."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.workflows.workflow_files import run_script, step

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / ".github" / "workflows" / "infra-deploy.yml"
VERIFY_STEP = "Verify the rollout"

# Answers `pulumi stack output` from FAKE_* variables; `uv` records its arguments, its KUBECONFIG and that
# file's mode and content, then exits with FAKE_VERIFY_RC like `python -m infra.live.verify` would.
FAKE_PULUMI = """#!/usr/bin/env bash
echo "pulumi $*" >> "$FAKE_LOG"
case "$*" in
  "stack output kubeconfig --show-secrets --stack $STACK") printf '%s\\n' "$FAKE_KUBECONFIG" ;;
  "stack output ingress_address --stack $STACK") printf '%s\\n' "$FAKE_ADDRESS" ;;
  *) echo "fake pulumi: unexpected $*" >&2; exit 9 ;;
esac
"""
FAKE_UV = """#!/usr/bin/env bash
echo "uv $*" >> "$FAKE_LOG"
echo "KUBECONFIG=$KUBECONFIG mode=$(stat -c %a "$KUBECONFIG") content=$(cat "$KUBECONFIG")" >> "$FAKE_LOG"
exit "$FAKE_VERIFY_RC"
"""


def deploy_steps() -> list[dict[str, Any]]:
    data = yaml.safe_load(DEPLOY.read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = data["jobs"]["deploy"]["steps"]
    return steps


def test_verify_runs_after_pulumi_up_with_values_from_env() -> None:
    steps = deploy_steps()
    (up,) = [i for i, s in enumerate(steps) if "pulumi/actions" in str(s.get("uses"))]
    assert steps[up]["with"]["command"] == "up"
    (verify,) = [i for i, s in enumerate(steps) if s.get("name") == VERIFY_STEP]
    assert verify > up, "the rollout is verified before `pulumi up` ran"
    step = steps[verify]
    assert "python -m infra.live.verify" in step["run"] and "--timeout 900" in step["run"]
    # The CLI reads the same backend as the `up` step; the stack comes from the matrix, never interpolated.
    assert step["env"]["STACK"] == "${{ matrix.stack }}"
    assert step["env"]["PULUMI_BACKEND_URL"] == steps[up]["with"]["cloud-url"]


def verify_step(
    tmp_path: Path, address: str, verify_rc: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("pulumi", FAKE_PULUMI), ("uv", FAKE_UV)):
        tool = bin_dir / name
        tool.write_text(text, encoding="utf-8")
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    log, runner_temp = tmp_path / "calls.log", tmp_path / "runner-temp"
    runner_temp.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "STACK": "staging",
        "FAKE_LOG": str(log),
        "FAKE_KUBECONFIG": "apiVersion: v1",
        "FAKE_ADDRESS": address,
        "FAKE_VERIFY_RC": str(verify_rc),
    }
    (step,) = [s for s in deploy_steps() if s.get("name") == VERIFY_STEP]
    # As the workflow's defaults.run.shell runs it: `bash --noprofile --norc -euo pipefail`.
    cmd = [bash, "--noprofile", "--norc", "-euo", "pipefail", "-c", step["run"]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    return done, log.read_text(encoding="utf-8").splitlines()


def test_verify_sends_golden_requests_to_the_exported_ingress_address(tmp_path: Path) -> None:
    done, calls = verify_step(tmp_path, "a1b2.elb.eu-west-1.amazonaws.com")
    assert done.returncode == 0, done.stderr
    kubeconfig = tmp_path / "runner-temp" / "kubeconfig"
    verify = "uv run python -m infra.live.verify --stack staging --timeout 900"
    assert calls[-2] == f"{verify} --ingress http://a1b2.elb.eu-west-1.amazonaws.com"
    # The kubeconfig is a secret: readable by the runner's user only.
    assert calls[-1] == f"KUBECONFIG={kubeconfig} mode=600 content=apiVersion: v1"


def test_a_stack_without_an_ingress_address_is_verified_without_golden_requests(tmp_path: Path) -> None:
    # NodePort ingress (dev): the stack exports "" and `--ingress http://` would be a broken URL.
    done, calls = verify_step(tmp_path, "")
    assert done.returncode == 0, done.stderr
    assert "uv run python -m infra.live.verify --stack staging --timeout 900" in calls
    assert not [c for c in calls if "--ingress" in c]


def test_a_failed_verification_fails_the_deploy(tmp_path: Path) -> None:
    done, calls = verify_step(tmp_path, "10.0.0.7", verify_rc=1)
    assert done.returncode == 1
    assert calls[-2].endswith("--ingress http://10.0.0.7")


# Answers like gh after its --jq filter: the merged PR's head, its ci run, that run's artifacts one per line.
FAKE_GH = """#!/usr/bin/env bash
echo "gh $*" >> "$FAKE_LOG"
case "$1 $2" in
  "api repos/o/r/commits/$SHA/pulls") printf '%s\\n' "$FAKE_HEAD" ;;
  "run list") printf '%s\\n' "$FAKE_RUN" ;;
  "api repos/o/r/actions/runs/$FAKE_RUN/artifacts") printf '%s\\n' "$FAKE_ARTIFACTS" ;;
  *) echo "fake gh: unexpected $*" >&2; exit 9 ;;
esac
"""


def plan_step(tmp_path: Path, head: str, run: str, artifacts: list[dict[str, Any]]) -> tuple[int, str, str]:
    output = tmp_path / "github_output"
    env = {
        "FAKE_LOG": str(tmp_path / "gh.log"),
        "FAKE_HEAD": head,
        "FAKE_RUN": run,
        "FAKE_ARTIFACTS": "\n".join(json.dumps(a) for a in artifacts),
        "REPO": "o/r",
        "SHA": "c0ffee",
        "STACKS": '["prod","staging"]',
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
    }
    script = step(DEPLOY, "plan", "The merged PR's preview run")["run"]
    done = run_script(script, env, tmp_path, {"gh": FAKE_GH})
    return done.returncode, done.stdout + done.stderr, output.read_text() if output.exists() else ""


def test_deploy_finds_the_reviewed_plans_in_the_merged_prs_ci_run(tmp_path: Path) -> None:
    plans = [{"name": f"pulumi-plan-{s}", "expired": False} for s in ("prod", "staging")]
    rc, log, output = plan_step(
        tmp_path, "abc123", "4242", [{"name": "manifest-summary", "expired": False}, *plans]
    )
    assert rc == 0, log
    assert output == "run_id=4242\n"
    calls = (tmp_path / "gh.log").read_text()
    assert "run list --repo o/r --workflow ci.yml --commit abc123 --status success" in calls


def test_deploy_refuses_an_expired_or_missing_plan_before_any_stack_starts(tmp_path: Path) -> None:
    expired = [
        {"name": "pulumi-plan-prod", "expired": False},
        {"name": "pulumi-plan-staging", "expired": True},
    ]
    rc, log, output = plan_step(tmp_path / "a", "abc123", "4242", expired)
    assert rc == 1 and output == ""
    assert "ci run 4242 has no unexpired plan for stack staging" in log and "use-plan off" in log
    rc, log, _ = plan_step(tmp_path / "b", "", "4242", [])
    assert rc == 1 and "is not the merge of a reviewed PR" in log
    rc, log, _ = plan_step(tmp_path / "c", "abc123", "", [])
    assert rc == 1 and "no successful ci run for PR head abc123" in log
