"""Canary scenarios end to end on 127.0.0.1: real Prometheus (Debian), real `seldon-core-microservice`
processes, bounded load split by the settings' weights, the analyzer every 15 s (window 15 s, rollback after
3 failed evaluations in a row, at least 15 requests per version, error rate <= 5 %, p99 <= 150 ms,
PSI <= 0.2; see `infra/canary/local/scenario.py`). One Prometheus and one stable process serve every scenario;
each canary is a bundle of its own, so no scenario sees another's series.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml

from infra.canary.decide import Verdict
from infra.canary.local.processes import group_members
from infra.canary.local.scenario import ANALYSIS, SCENARIOS, STACK, Harness, Result
from infra.canary.local.serving import SERVING_VENV
from infra.gitops.manifests import read_files
from infra.settings.stack import load_stack_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
THRESHOLD = ANALYSIS.failure_threshold
MAX_S = 150.0


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian: apt-get install prometheus)")
    if not (SERVING_VENV / "bin" / "seldon-core-microservice").exists():
        pytest.skip(f"{SERVING_VENV} missing: run `make serving-venv` first")
    with Harness(tmp_path_factory.mktemp("canary-e2e")) as h:
        groups = [c.pid for c in (h.prometheus.child, h.stable.child) if c is not None]  # type: ignore[union-attr]
        yield h
    assert not [g for g in groups if group_members(g)], "Prometheus or the stable model outlived the harness"


def run(harness: Harness, name: str) -> Result:
    result = harness.run(SCENARIOS[name], MAX_S)
    assert result.canary_group and not group_members(result.canary_group), (
        "the canary process outlived its run"
    )
    for step in result.steps:  # shown when a test fails
        print(f"t+{step.elapsed_s:.1f}s {step.decision.verdict.value}: {step.decision.reason}")
    return result


def test_a_healthy_canary_climbs_every_step_to_complete(harness: Harness) -> None:
    result = run(harness, "healthy")
    moves = [(s.decision.verdict, s.decision.new_weight) for s in result.steps if s.decision.changes_settings]
    assert moves == [(Verdict.PROMOTE, 25), (Verdict.PROMOTE, 50), (Verdict.COMPLETE, 100)]
    # Holds are allowed (a CPU stall can starve a window) but never a failed evaluation in a row of three.
    assert Verdict.ROLLBACK not in {s.decision.verdict for s in result.steps}
    root = harness.workdir / "healthy"
    model = load_stack_settings(STACK, root).models[0]
    canary_version = result.steps[0].decision.canary_version
    assert (model.canary, model.stable.bundle.version, model.stable.weight) == (None, canary_version, 100)
    sdep = yaml.safe_load(
        read_files(root / "manifests" / STACK)["seldondeployment-rankship-serving-search-ranker.yaml"]
    )
    assert [(p["name"], p["traffic"]) for p in sdep["spec"]["predictors"]] == [("stable", 100)]
    assert result.steps[-1].weights == {canary_version: 100}  # the load now goes to the new stable only


@pytest.mark.parametrize(
    ("name", "check"), [("slow", "p99 latency"), ("erroring", "error rate"), ("broken", "score PSI")]
)
def test_a_bad_canary_is_rolled_back_within_threshold_intervals(
    harness: Harness, name: str, check: str
) -> None:
    result = run(harness, name)
    verdicts = [s.decision.verdict for s in result.steps]
    assert verdicts[-1] is Verdict.ROLLBACK, verdicts
    assert len(verdicts) <= THRESHOLD, f"rolled back after {len(verdicts)} analyses, not within {THRESHOLD}"
    assert set(verdicts[:-1]) <= {Verdict.HOLD}  # never promoted on the way
    assert all(check in s.decision.reason for s in result.steps), [s.decision.reason for s in result.steps]
    model = load_stack_settings(STACK, harness.workdir / name).models[0]
    assert (model.canary, model.stable.weight) == (None, 100)
    assert list(result.steps[-1].weights.values()) == [100]


def test_too_little_traffic_only_ever_holds(harness: Harness) -> None:
    result = run(harness, "quiet")
    assert len(result.steps) > THRESHOLD  # more analyses than a rollback would need
    assert {s.decision.verdict for s in result.steps} == {Verdict.HOLD}
    assert all("too little traffic" in s.decision.reason for s in result.steps)
    assert load_stack_settings(STACK, harness.workdir / "quiet").models[0].canary.weight == 10  # type: ignore[union-attr]
    assert not (harness.workdir / "quiet" / "manifests").exists()  # nothing was ever written
