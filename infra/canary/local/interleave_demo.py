"""The interleaving scenarios of `make canary-demo`: simulated users judge trained rankers in interleaved lists.

For each scenario the interleaving predictor runs locally (`interleaved.py`: stable's and the canary's real
bundles, the real combiner) and a private Prometheus scrapes the combiner and both rankers. Simulated users
(`users.py`, position-biased clicks from the true grades) issue the held-out test queries of the bundles'
data set; every impression's clicks go back through the feedback API. Then the canary analysis itself
decides, as `analyze.analyze_model` does without a cluster: `measure` (with the stack's `canary.interleave`
settings) on that Prometheus, then `decide` — the interleaving check beside the requests, error rate, p99
and score drift of the two rankers (`trained.py` for the two trained bundles):

    better     stable = weak,   canary = strong    users must prefer the canary: promote
    worse      stable = strong, canary = weak      users must prefer stable: the check fails, rollback
    identical  stable = weak,   canary = weak      the same model under two versions: no preference, promote

Every user here sees the interleaved list (there is no A/B split), so the stack's CTR/MRR checks are off
(`min_feedback_per_version: 0`) and one evaluation decides (`failure_threshold: 1`). Each scenario runs its
own copies of the bundles (`rebundled`: same model files, new versions), so no scenario's series mix with
another's.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infra.canary.decide import Decision, Verdict, decide
from infra.canary.interleaving import InterleavingResult
from infra.canary.local.interleaved import LocalInterleaving
from infra.canary.local.outcomes import InterleavingOdds, click_through, interleaving_odds, mean_odds
from infra.canary.local.prometheus import LocalPrometheus
from infra.canary.local.scenario import MODEL, NAMESPACE, STACK, stack_yaml
from infra.canary.local.sensitivity import ab_power, interleaving_power, needed
from infra.canary.local.trained import held_out, offline_ndcg, rebundled, trained_bundle
from infra.canary.local.users import ClickModel
from infra.canary.measure import measure
from infra.canary.prometheus import Prometheus
from infra.canary.queries import Target
from infra.canary.report import markdown
from infra.settings.serving import CanaryAnalysis, Interleave, ModelSettings
from infra.settings.stack import load_stack_settings
from model.release.bundle import BundleInfo
from model.serving.interleaving import credit

SCORE_BUCKETS = ",".join(f"{x / 2:g}" for x in range(-16, 17))
MIN_DECIDED, ALPHA = 100, 0.05
SEED, USERS = 2026, 4
REPO_CACHE = Path(__file__).resolve().parents[3] / "artifacts" / "demo-bundles"


# The demo's analysis: every threshold of the platform's defaults that applies to two local rankers, a
# window as long as the scenario (set per run), one evaluation. p99 is the rankers' own (Python, loaded
# machine, 4 concurrent users on 2 cores): a wide limit, this demo is about preference.
ANALYSIS = CanaryAnalysis(
    interval="15s", window="15s", failure_threshold=1, min_requests_per_version=MIN_DECIDED,
    max_error_rate=0.01, max_p99_latency_ms=2000.0, max_score_psi=0.2, min_feedback_per_version=0,
)  # fmt: skip
INTERLEAVE = Interleave(weight=10, min_decided=MIN_DECIDED, alpha=ALPHA)


@dataclass(frozen=True)
class InterleaveScenario:
    name: str
    stable: str  # trained bundle label (`trained.RUNS`)
    canary: str
    expected: str  # what users must prefer: "canary", "stable" or "none"
    verdict: Verdict  # what the analysis must decide


SCENARIOS = (
    InterleaveScenario("better", "weak", "strong", "canary", Verdict.PROMOTE),
    InterleaveScenario("worse", "strong", "weak", "stable", Verdict.ROLLBACK),
    InterleaveScenario("identical", "weak", "weak", "none", Verdict.PROMOTE),
)


@dataclass(frozen=True)
class InterleaveOutcome:
    scenario: InterleaveScenario
    ndcg: tuple[float | None, float | None]  # offline test NDCG@10: stable, canary
    local: Counter[str]  # winners as the simulation credited them
    judged: InterleavingResult  # from Prometheus, as the analysis read it
    decision: Decision  # the analysis' decision on everything it measured
    elapsed_s: float
    needed: tuple[int | None, int | None]  # impressions an A/B CTR test / interleaving would need

    @property
    def preferred(self) -> str:
        r = self.judged
        if r.ok is None or r.p_value >= ALPHA:
            return "none"
        return "canary" if r.tally.canary > r.tally.stable else "stable"

    @property
    def as_expected(self) -> bool:
        s = self.scenario
        return (
            self.judged.ok is not None and self.preferred == s.expected and self.decision.verdict is s.verdict
        )


def bundles(cache: Path) -> dict[str, BundleInfo]:
    """The trained (cached) bundles by label."""
    return {label: trained_bundle(label, cache) for label in ("weak", "strong")}


def request_of(query: pd.DataFrame) -> dict[str, Any]:
    candidates = [
        {"id": r.product_id, "title": r.title, "description": r.description} for r in query.itertuples()
    ]
    return {"jsonData": {"query": str(query["query"].iloc[0]), "candidates": candidates, "top_k": 10}}


def feedback_message(answer: dict[str, Any], clicked: list[int]) -> dict[str, Any]:
    events = [{"position": p + 1, "action": "click"} for p in clicked]
    return {"response": answer, "reward": float(bool(clicked)), "truth": {"jsonData": {"events": events}}}


Query = tuple[dict[str, Any], dict[str, float]]  # the request, and the true grade of each candidate


def queries_of(users: pd.DataFrame) -> list[Query]:
    groups = users.groupby("query_id")
    return [(request_of(g), dict(zip(g["product_id"], g["gain"], strict=True))) for _, g in groups]


def impression(live: LocalInterleaving, queries: list[Query], name: str, i: int) -> str:
    """User i: a query, the interleaved answer, position-biased clicks, feedback; the winner it credits.
    Its randomness depends on i alone (the coin on the request id), so a run is reproducible."""
    rng = np.random.default_rng([SEED, i])
    request, gain = queries[int(rng.integers(len(queries)))]
    answer = live.predict(request, puid=f"{name}-{i}")
    results = answer["jsonData"]["results"]
    clicked = ClickModel().clicks([gain[r["id"]] for r in results], rng)
    live.feedback(feedback_message(answer, clicked))
    return credit({r["id"]: r["team"] for r in results}, [results[p]["id"] for p in clicked]).winner


def simulate(live: LocalInterleaving, users: pd.DataFrame, name: str, impressions: int) -> Counter[str]:
    """`impressions` interleaved searches by USERS concurrent users; the winners as credited locally."""
    queries = queries_of(users)
    with ThreadPoolExecutor(max_workers=USERS) as pool:
        return Counter(pool.map(lambda i: impression(live, queries, name, i), range(impressions)))


def predicted(live: LocalInterleaving, users: pd.DataFrame) -> tuple[int | None, int | None]:
    """Impressions an A/B click-rate test and interleaving would need to detect the better of these two
    served rankers on these queries (80 % power, as `sensitivity.py`), from the exact odds of each
    ranker's own answer per query. None: beyond the grid (e.g. identical rankers)."""
    odds, ctr_s, ctr_c, model = [], [], [], ClickModel()
    for request, gain in queries_of(users):
        stable, canary = ([r["id"] for r in live.single(request, c)["jsonData"]["results"]] for c in (0, 1))
        odds.append(interleaving_odds(stable, canary, gain, model))
        ctr_s.append(click_through(stable, gain, model))
        ctr_c.append(click_through(canary, gain, model))
    mean, low, high = (
        mean_odds(odds),
        min(np.mean(ctr_s), np.mean(ctr_c)),
        max(np.mean(ctr_s), np.mean(ctr_c)),
    )
    best_first = InterleavingOdds(max(mean.canary, mean.stable), min(mean.canary, mean.stable), mean.tie)
    rng = np.random.default_rng(SEED)
    ab = needed(lambda n: ab_power(float(low), float(high), n, rng))
    return ab, needed(lambda n: interleaving_power(best_first, n, rng))


def scenario_model(root: Path, stable: BundleInfo, canary: BundleInfo, window_s: int) -> ModelSettings:
    """The demo stack's model (written to `root`, read back like any stack): this pair, with the
    interleaving predictor, windows as long as the scenario."""
    window = f"{window_s}s"
    analysis = ANALYSIS.model_copy(update={"window": window, "feedback_window": window})
    interleave = INTERLEAVE.model_copy(update={"window": window})
    (root / f"Pulumi.{STACK}.yaml").write_text(stack_yaml(stable, canary, analysis, interleave))
    return load_stack_settings(STACK, root).models[0]


def analyse(url: str, model: ModelSettings) -> tuple[Decision, InterleavingResult]:
    """`analyze.analyze_model` without a cluster: measure with the model's settings, then decide."""
    assert model.canary is not None
    target = Target(NAMESPACE, MODEL, model.stable.bundle.version, model.canary.bundle.version)
    evaluations = measure(Prometheus(url, timeout_s=5), target, model.canary.analysis, time.time(),
                          model.canary.interleave)  # fmt: skip
    judged = evaluations[0].interleaving
    assert judged is not None, "the demo stack declares canary.interleave"
    return decide(model, evaluations), judged


def run(
    s: InterleaveScenario, found: dict[str, BundleInfo], users: pd.DataFrame, prom: LocalPrometheus, workdir: Path,
    impressions: int,
) -> InterleaveOutcome:  # fmt: skip
    root = workdir / s.name
    root.mkdir(parents=True, exist_ok=True)
    # This scenario's own versions of the two models (identical: one model under two versions).
    stable = rebundled(found[s.stable], f"{s.name}-stable", workdir / "bundles")
    canary = rebundled(found[s.canary], f"{s.name}-canary", workdir / "bundles")
    start = time.monotonic()
    with LocalInterleaving(root, stable, canary, SCORE_BUCKETS) as live:
        nodes = [(live.combiner.metrics_address, "interleave")]
        nodes += [
            (child.metrics_address, track)
            for child, track in zip(live.children, ("stable", "canary"), strict=True)
        ]
        prom.set_targets([(address, {"namespace": NAMESPACE, "rankship_model": MODEL, "rankship_track": track})
                          for address, track in nodes])  # fmt: skip
        time.sleep(2.0)  # a first scrape before any count: increase() then sees every count
        local = simulate(live, users, s.name, impressions)
        time.sleep(3.0)  # the last counts scraped
        window = int(time.monotonic() - start) + 30
        decision, judged = analyse(prom.url, scenario_model(root, stable, canary, window))
        (root / "decision.md").write_text(markdown(STACK, [decision]))  # what the PR body would say
        needed_ = predicted(live, users)
    ndcg = (offline_ndcg(stable), offline_ndcg(canary))
    return InterleaveOutcome(s, ndcg, local, judged, decision, time.monotonic() - start, needed_)


def run_all(workdir: Path, cache: Path, impressions: int = 5000) -> list[InterleaveOutcome]:
    found, users = bundles(cache), held_out(cache)
    with LocalPrometheus(workdir / "prometheus-interleave") as prom:
        return [run(s, found, users, prom, workdir, impressions) for s in SCENARIOS]


def line(o: InterleaveOutcome) -> str:
    s_ndcg, c_ndcg = (f"{v:.3f}" if v is not None else "n/a" for v in o.ndcg)
    local = ", ".join(f"{k} {o.local[k]}" for k in ("canary", "stable", "tie"))
    ab, il = (f"{v:,}" if v is not None else "> grid" for v in o.needed)
    d, expected = o.decision, o.scenario.verdict.value
    failed = [c.name for c in (d.judgements[0].checks if d.judgements else ()) if c.ok is False]
    return (
        f"interleave-{o.scenario.name:<9} offline NDCG@10 stable {s_ndcg} canary {c_ndcg}; "
        f"{o.judged.why}; users prefer: {o.preferred} (expected {o.scenario.expected}); "
        f"analysis: {d.verdict.value} (expected {expected}), failed checks: {', '.join(failed) or 'none'}; "
        f"simulation credited {local}; to detect the better one (80 % power) an A/B CTR test needs {ab}, "
        f"interleaving {il} impressions; {o.elapsed_s:.0f} s"
    )
