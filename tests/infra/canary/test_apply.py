"""Applying decisions to `Pulumi.<stack>.yaml` (round trip) and `manifests/<stack>/`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.canary.apply import StaleDecision, apply
from infra.canary.decide import Decision, Verdict, decide, hold
from infra.gitops.manifests import read_files
from infra.settings.stack import load_stack_settings
from tests.infra.canary.conftest import STACK
from tests.infra.canary.measurements import history, sample

HEALTHY = sample(requests=400)
SLOW = sample(requests=400, p99_ms=900)


def decision(root: Path, *evaluations: object) -> Decision:
    return decide(load_stack_settings(STACK, root).models[0], history(*evaluations))  # type: ignore[arg-type]


def sdep(root: Path) -> dict:
    files = read_files(root / "manifests" / STACK)
    return yaml.safe_load(files["seldondeployment-rankship-serving-search-ranker.yaml"])


def traffic(root: Path) -> dict[str, int]:
    return {p["name"]: p["traffic"] for p in sdep(root)["spec"]["predictors"]}


def test_promote_moves_both_weights_and_keeps_the_comments(stack_root: Path) -> None:
    path = stack_root / "Pulumi.canary.yaml"
    before = path.read_text()
    applied = apply(stack_root, STACK, [decision(stack_root, HEALTHY)], stack_root / "manifests")
    assert applied.settings_changed and applied.manifests_changed
    after = path.read_text()
    assert after == before.replace("weight: 90  # the canary", "weight: 75  # the canary").replace(
        "weight: 10\n", "weight: 25\n"
    )
    assert traffic(stack_root) == {"stable": 75, "canary": 25}


def test_complete_makes_the_canary_stable_with_its_image(stack_root: Path) -> None:
    for _ in range(3):  # 10 -> 25 -> 50 -> complete
        apply(stack_root, STACK, [decision(stack_root, HEALTHY)], stack_root / "manifests")
    model = load_stack_settings(STACK, stack_root).models[0]
    assert model.canary is None
    assert (model.stable.bundle.version, model.stable.weight) == ("b2b2b2b2b2b2", 100)
    assert model.stable.image is not None and model.stable.image.endswith("f6f6f6f6f6f6f6f6f6f6f6f6")
    assert traffic(stack_root) == {"stable": 100}
    assert "# Fixture stack for the canary tests" in (stack_root / "Pulumi.canary.yaml").read_text()


def test_rollback_removes_the_canary(stack_root: Path) -> None:
    d = decision(stack_root, SLOW, SLOW, SLOW)
    assert d.verdict is Verdict.ROLLBACK
    apply(stack_root, STACK, [d], stack_root / "manifests")
    model = load_stack_settings(STACK, stack_root).models[0]
    assert (model.canary, model.stable.bundle.version, model.stable.weight) == (None, "a1a1a1a1a1a1", 100)
    assert traffic(stack_root) == {"stable": 100}


def test_a_hold_writes_nothing(stack_root: Path) -> None:
    path = stack_root / "Pulumi.canary.yaml"
    before = path.read_bytes()
    d = hold(load_stack_settings(STACK, stack_root).models[0], "too little traffic", unreadable=False)
    applied = apply(stack_root, STACK, [d], stack_root / "manifests")
    assert not applied.settings_changed and not (stack_root / "manifests").exists()
    assert path.read_bytes() == before


def test_a_stale_decision_is_refused_and_nothing_is_written(stack_root: Path) -> None:
    d = decision(stack_root, HEALTHY)
    apply(stack_root, STACK, [d], stack_root / "manifests")
    path = stack_root / "Pulumi.canary.yaml"
    before, manifests = path.read_bytes(), read_files(stack_root / "manifests" / STACK)
    # The same decision again (e.g. a re-run on a checkout that already has it): 10 % is no longer true.
    with pytest.raises(StaleDecision, match=r"canary b2b2b2b2b2b2 at 25 %.*at 10 %"):
        apply(stack_root, STACK, [d], stack_root / "manifests")
    assert path.read_bytes() == before and read_files(stack_root / "manifests" / STACK) == manifests


def test_the_same_decision_on_the_same_settings_gives_the_same_files(
    tmp_path: Path, stack_root: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "Pulumi.canary.yaml").write_bytes((stack_root / "Pulumi.canary.yaml").read_bytes())
    for root in (stack_root, other):
        apply(root, STACK, [decision(root, HEALTHY)], root / "manifests")
    assert (stack_root / "Pulumi.canary.yaml").read_bytes() == (other / "Pulumi.canary.yaml").read_bytes()
    assert read_files(stack_root / "manifests" / STACK) == read_files(other / "manifests" / STACK)
