"""Placeholder values are found by rule, refused for preview/up, and allowed by render only in example stacks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.gitops.render import main as render_main
from infra.settings.placeholders import check_render, find_placeholders, main, refuse_to_deploy
from infra.settings.stack import SETTINGS_KEY, SettingsError
from tests.infra.infra_stacks import ROOT, STACKS, filled, raw_settings, settings_of


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_are_marked_examples_and_a_filled_copy_has_no_placeholder(stack: str) -> None:
    raw = raw_settings(stack)
    assert raw["example"] is True and find_placeholders(settings_of(raw))
    assert find_placeholders(settings_of(filled(raw))) == []


@pytest.mark.parametrize(
    ("edit", "key", "fragment"),
    [
        (
            lambda r: r["cluster"].update(account_id="123456789012"),
            "cluster.account_id",
            "documentation account id",
        ),
        (
            lambda r: r["cluster"].update(account_id="777777777777"),
            "cluster.account_id",
            "documentation account id",
        ),
        (
            lambda r: r["cluster"].update(admin_principal_arns=["arn:aws:iam::111122223333:role/admin"]),
            "cluster.admin_principal_arns[0]",
            "111122223333 is a documentation account id",
        ),
        (
            lambda r: r["cluster"].update(public_access_cidrs=["198.51.100.7/32"]),
            "cluster.public_access_cidrs[0]",
            "documentation network 198.51.100.0/24",
        ),
        (
            lambda r: r["cluster"].update(public_access_cidrs=["192.0.2.0/24"]),
            "cluster.public_access_cidrs[0]",
            "documentation network 192.0.2.0/24",
        ),
        (
            lambda r: r["models"][0].update(image="ghcr.io/a/b@sha256:" + "f" * 64),
            "models[0].image",
            "one repeated hex digit",
        ),
        (
            lambda r: r["models"][0].update(image="ghcr.io/a/placeholder@sha256:" + "1a" * 32),
            "models[0].image",
            "is marked as a placeholder",
        ),
    ],
)
def test_each_kind_of_placeholder_is_named_by_its_key(edit: Any, key: str, fragment: str) -> None:
    raw = filled(raw_settings("prod"))
    edit(raw)
    (found,) = find_placeholders(settings_of(raw))
    assert found.startswith(f"{key}: ") and fragment in found


def test_real_values_are_not_placeholders() -> None:
    raw = filled(raw_settings("prod"))
    raw["cluster"]["public_access_cidrs"] = ["52.0.0.0/8", "10.0.0.0/8", "192.0.3.0/24"]
    assert find_placeholders(settings_of(raw)) == []


def test_a_digest_that_is_not_64_hex_is_refused_by_the_settings_schema() -> None:
    raw = filled(raw_settings("prod"))
    raw["models"][0]["image"] = "ghcr.io/rankship/ranker-serving@sha256:abc"
    with pytest.raises(SettingsError, match=r"models\[0\]\.image: .*is not <repo>@sha256:<64 lowercase hex>"):
        settings_of(raw)


def test_deploy_refuses_examples_and_placeholders_render_only_unmarked_placeholders() -> None:
    example = settings_of(raw_settings("staging"))
    with pytest.raises(SettingsError) as caught:
        refuse_to_deploy(example, "Pulumi.staging.yaml")
    assert caught.value.problems[0].startswith("example: true marks this stack")
    assert caught.value.problems[-1] == "how to fill each value: docs/gitops.md#fill-in-a-stack"
    banner = check_render(example, "Pulumi.staging.yaml")
    assert "EXAMPLE STACK (Pulumi.staging.yaml)" in banner[1] and "pulumi preview/up refuse it" in banner[1]
    unmarked = raw_settings("staging")
    del unmarked["example"]
    with pytest.raises(SettingsError, match="111111111111 is a documentation account id"):
        check_render(settings_of(unmarked), "Pulumi.staging.yaml")
    ready = settings_of(filled(raw_settings("staging")))
    refuse_to_deploy(ready, "Pulumi.staging.yaml")
    assert check_render(ready, "Pulumi.staging.yaml") == []


def _stack_copy(tmp_path: Path, raw: dict[str, Any]) -> Path:
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": {SETTINGS_KEY: raw}}))
    return tmp_path


def test_render_cli_refuses_placeholders_in_a_stack_not_marked_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = raw_settings("prod")
    del raw["example"]
    root = _stack_copy(tmp_path, raw)
    assert render_main(["--root", str(root), "--stack", "prod"]) == 2
    assert "cluster.account_id: 222222222222 is a documentation account id" in capsys.readouterr().err
    assert not (root / "manifests" / "prod").exists()


def test_render_cli_renders_an_example_behind_a_banner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "Pulumi.prod.yaml", tmp_path)
    assert render_main(["--root", str(tmp_path), "--stack", "prod"]) == 0
    assert "!! EXAMPLE STACK (Pulumi.prod.yaml): 7 placeholder value(s)" in capsys.readouterr().err


def test_placeholders_cli_is_the_preview_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(ROOT), "--stack", "prod"]) == 1
    assert "example: true marks this stack" in capsys.readouterr().err
    root = _stack_copy(tmp_path, filled(raw_settings("prod")))
    assert main(["--root", str(root), "--stack", "prod"]) == 0
