"""Reading and writing stack files, the Pulumi-config reader, and validated canary edits."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest
import yaml

from infra.settings.edit import abort_canary, promote_canary, set_canary_weight, start_canary
from infra.settings.serving import Bundle
from infra.settings.stack import (
    SETTINGS_KEY,
    SettingsError,
    dump_stack_settings,
    load_stack_settings,
    settings_from_pulumi_config,
    settings_to_config,
    stack_names,
)
from tests.infra.infra_mocks import PlausibleMocks
from tests.infra.infra_stacks import ROOT, STACKS, raw_settings, settings_of


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    return tmp_path


@pytest.fixture
def pulumi_config() -> Iterator[None]:
    pulumi.runtime.set_mocks(PlausibleMocks(), project="rankship", stack="dev", preview=False)
    yield
    pulumi.runtime.set_all_config({})


def test_stack_names_come_from_the_stack_files() -> None:
    assert stack_names(ROOT) == sorted(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stack_files_are_in_canonical_form(stack: str, tmp_path: Path) -> None:
    """dump(load(file)) reproduces the file byte for byte, so tool edits show up as minimal diffs."""
    shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    original = (tmp_path / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    dump_stack_settings(load_stack_settings(stack, tmp_path), stack, tmp_path)
    assert (tmp_path / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8") == original


def test_dump_keeps_the_other_keys_of_the_stack_file(stacks_dir: Path) -> None:
    path = stacks_dir / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["encryptionsalt"] = "v1:abc"
    document["config"]["kubernetes:context"] = "kind-rankship"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    dump_stack_settings(
        set_canary_weight(load_stack_settings("dev", stacks_dir), "search-ranker", 25), "dev", stacks_dir
    )
    after = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert after["encryptionsalt"] == "v1:abc" and after["config"]["kubernetes:context"] == "kind-rankship"
    assert after["config"][SETTINGS_KEY]["models"][0]["canary"]["weight"] == 25
    assert [p.name for p in stacks_dir.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_missing_stack_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"Pulumi\.qa\.yaml: invalid settings\n  - stack file not found"):
        load_stack_settings("qa", tmp_path)


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.qa.yaml").write_text("config: [unclosed\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_stack_settings("qa", tmp_path)


def test_missing_settings_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.qa.yaml").write_text("config:\n  aws:region: us-east-1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"config\.rankship:settings: missing"):
        load_stack_settings("qa", tmp_path)


def test_load_error_names_file_key_and_rule(stacks_dir: Path) -> None:
    path = stacks_dir / "Pulumi.dev.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("weight: 10", "weight: 15"), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("dev", stacks_dir)
    message = str(caught.value)
    assert f"{path} {SETTINGS_KEY}: invalid settings" in message and "must sum to 100" in message


def test_pulumi_config_reader_parses_the_same_settings(pulumi_config: None) -> None:
    pulumi.runtime.set_all_config({SETTINGS_KEY: json.dumps(raw_settings("dev"))})
    assert settings_from_pulumi_config() == load_stack_settings("dev", ROOT)


def test_pulumi_config_reader_names_the_stack_file_in_errors(pulumi_config: None) -> None:
    raw = raw_settings("dev")
    raw["models"][0]["image"] = "ghcr.io/rankship/ranker-serving:latest"
    pulumi.runtime.set_all_config({SETTINGS_KEY: json.dumps(raw)})
    with pytest.raises(SettingsError, match=r"Pulumi\.dev\.yaml rankship:settings: invalid settings"):
        settings_from_pulumi_config()


def test_pulumi_config_reader_requires_the_key(pulumi_config: None) -> None:
    pulumi.runtime.set_all_config({})
    with pytest.raises(SettingsError, match="missing"):
        settings_from_pulumi_config()


def test_settings_to_config_keeps_only_what_was_set() -> None:
    raw = raw_settings("dev")
    assert settings_to_config(settings_of(raw)) == raw


def test_score_buckets_set_in_a_stack_file_survive_load_and_dump(stacks_dir: Path) -> None:
    path = stacks_dir / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["config"][SETTINGS_KEY]["models"][0]["runtime"] = {"score_buckets": [-2, -0.5, 0, 0.1, 3]}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    dump_stack_settings(load_stack_settings("dev", stacks_dir), "dev", stacks_dir)
    canonical = path.read_text(encoding="utf-8")
    assert "score_buckets:\n        - -2.0\n        - -0.5\n        - 0.0\n        - 0.1\n" in canonical
    reloaded = load_stack_settings("dev", stacks_dir)
    assert reloaded.models[0].runtime.score_buckets == (-2.0, -0.5, 0.0, 0.1, 3.0)
    dump_stack_settings(reloaded, "dev", stacks_dir)
    assert path.read_text(encoding="utf-8") == canonical  # the canonical form is a fixed point


def test_set_canary_weight_moves_the_rest_to_stable() -> None:
    settings = set_canary_weight(settings_of(raw_settings("staging")), "search-ranker", 25)
    ranker = settings.models[0]
    assert (ranker.stable.weight, ranker.canary.weight) == (75, 25)  # type: ignore[union-attr]


def test_set_canary_weight_refuses_100_percent() -> None:
    with pytest.raises(SettingsError, match=r"canary\.weight"):
        set_canary_weight(settings_of(raw_settings("dev")), "search-ranker", 100)


def test_promote_canary_makes_its_bundle_stable() -> None:
    before = settings_of(raw_settings("prod"))
    after = promote_canary(before, "search-ranker").models[0]
    assert after.canary is None and after.stable.weight == 100
    assert after.stable.bundle == before.models[0].canary.bundle  # type: ignore[union-attr]


def test_abort_canary_keeps_the_stable_bundle() -> None:
    before = settings_of(raw_settings("staging"))
    after = abort_canary(before, "search-ranker").models[0]
    assert after.canary is None and after.stable == before.models[0].stable.model_copy(update={"weight": 100})


def test_start_canary_begins_at_the_first_step() -> None:
    settings = abort_canary(settings_of(raw_settings("dev")), "search-ranker")
    bundle_id = "f" * 64
    bundle = Bundle(id=bundle_id, uri=f"s3://rankship-bundles-dev/bundles/{bundle_id}/")
    ranker = start_canary(settings, "search-ranker", bundle).models[0]
    assert ranker.canary is not None and ranker.canary.bundle == bundle
    assert (ranker.stable.weight, ranker.canary.weight) == (90, 10)


def test_edits_name_unknown_models() -> None:
    with pytest.raises(KeyError, match="no model named 'ranker'"):
        promote_canary(settings_of(raw_settings("dev")), "ranker")
