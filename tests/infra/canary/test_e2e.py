"""Canary scenarios end to end on 127.0.0.1 with trained bundles: real Prometheus (Debian), real
`seldon-core-microservice` processes behind a local Istio stand-in, simulated shoppers clicking by a
position-based model and sending feedback through Seldon's API, the analyzer every 15 s (see
`infra/canary/local/scenario.py` for the settings). One Prometheus and one stable process serve every
scenario; each canary is a bundle of its own, so no scenario sees another's series.

CI runs `better`, `worse`, `crashing` and `quiet` (about 4.5 minutes with training: two minutes of it the
three bundles, trained once per run); `RANKSHIP_CANARY_E2E=all` (or `make canary-demo`) adds `skewed`,
`slow` and `erroring`.
"""

from __future__ import annotations

import os
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

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
THRESHOLD = ANALYSIS.failure_threshold
MAX_S = 150.0
FULL = os.environ.get("RANKSHIP_CANARY_E2E") == "all"
CI_SET = ["better", "worse", "crashing", "quiet"]
full_only = pytest.mark.skipif(not FULL, reason="full set: RANKSHIP_CANARY_E2E=all or `make canary-demo`")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian: apt-get install prometheus)")
    if not (SERVING_VENV / "bin" / "seldon-core-microservice").exists():
        pytest.skip(f"{SERVING_VENV} missing: run `make serving-venv` first")
    workdir = tmp_path_factory.mktemp("canary-e2e")
    cache = os.environ.get("RANKSHIP_CANARY_CACHE")  # reuse `make canary-demo`'s bundles when set
    names = list(SCENARIOS) if FULL else CI_SET
    with Harness(workdir, (cache and type(workdir)(cache)) or workdir / "cache", names) as h:
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


def _psi(result: Result) -> tuple[float | None, float | None]:
    checks = result.steps[-1].decision.judgements[0].checks
    drift = next(c for c in checks if c.name == "score PSI")
    return drift.canary, drift.stable


def test_a_better_retrained_model_climbs_every_step_to_complete(harness: Harness) -> None:
    # Genuinely different models: more training, higher offline NDCG, another score scale.
    assert harness.trained["better"].valid_ndcg > harness.trained["stable"].valid_ndcg
    result = run(harness, "better")
    moves = [(s.decision.verdict, s.decision.new_weight) for s in result.steps if s.decision.changes_settings]
    assert moves == [(Verdict.PROMOTE, 25), (Verdict.PROMOTE, 50), (Verdict.COMPLETE, 100)]
    assert not {Verdict.ROLLBACK, Verdict.STALLED} & {s.decision.verdict for s in result.steps}
    canary_psi, stable_psi = _psi(result)
    assert canary_psi is not None and canary_psi <= ANALYSIS.max_score_psi  # its own offline histogram
    assert stable_psi is not None and stable_psi <= ANALYSIS.max_score_psi
    root = harness.workdir / "better"
    model = load_stack_settings(STACK, root).models[0]
    canary_version = result.steps[0].decision.canary_version
    assert (model.canary, model.stable.bundle.version, model.stable.weight) == (None, canary_version, 100)
    sdep = yaml.safe_load(
        read_files(root / "manifests" / STACK)["seldondeployment-rankship-serving-search-ranker.yaml"]
    )
    assert [(p["name"], p["traffic"]) for p in sdep["spec"]["predictors"]] == [("stable", 100)]
    # Feedback crossed versions (Istio splits /feedback too) and was credited by the answer, not the pod.
    assert result.sent.get(canary_version, 0) > 0 and result.clicked.get(canary_version, 0) > 0


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("worse", "MRR"),
        ("crashing", "error rate"),
        pytest.param("skewed", "score PSI", marks=full_only),
        pytest.param("slow", "p99 latency", marks=full_only),
        pytest.param("erroring", "error rate", marks=full_only),
    ],
)
def test_a_faulty_canary_is_rolled_back(harness: Harness, name: str, check: str) -> None:
    result = run(harness, name)
    verdicts = [s.decision.verdict for s in result.steps]
    assert verdicts[-1] is Verdict.ROLLBACK, verdicts
    assert Verdict.PROMOTE not in verdicts and Verdict.COMPLETE not in verdicts
    assert check in result.steps[-1].decision.reason
    model = load_stack_settings(STACK, harness.workdir / name).models[0]
    assert (model.canary, model.stable.weight) == (None, 100)
    assert list(result.steps[-1].weights.values()) == [100]
    if name == "crashing":  # the model never saw a request: only the mesh did
        assert result.steps[-1].decision.judgements[0].requests.source == "istio"
        assert result.failed.get(503, 0) > 0


def test_a_quiet_canary_holds_then_stalls_at_the_progress_deadline(harness: Harness) -> None:
    result = run(harness, "quiet")
    verdicts = [s.decision.verdict for s in result.steps]
    assert verdicts[-1] is Verdict.STALLED and set(verdicts[:-1]) == {Verdict.HOLD}
    assert len(verdicts) >= ANALYSIS.max_holds
    assert "progress deadline" in result.steps[-1].decision.reason
    assert load_stack_settings(STACK, harness.workdir / "quiet").models[0].canary.weight == 10  # type: ignore[union-attr]
    assert not (harness.workdir / "quiet" / "manifests").exists()  # nothing was ever written
