"""The interleaving scenarios of `make canary-demo`: simulated users judge trained rankers in interleaved lists.

For each scenario the interleaving predictor runs locally (`interleaved.py`: stable's and the canary's real
bundles, the real combiner) and a private Prometheus scrapes the combiner. Simulated users (`users.py`,
position-biased clicks from the true grades) issue the held-out test queries of the bundles' data set; every
impression's clicks go back through the feedback API. The analysis' own query (`interleaving.tally_query`)
and sign test (`judge_interleaving`) then read the outcome from Prometheus:

    better     canary = a better-trained model      users must prefer the canary
    worse      canary = a barely trained model      users must prefer stable (the check fails)
    identical  canary = stable's model re-bundled    no preference (an A/A test)
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

from infra.canary.interleaving import InterleavingResult, judge_interleaving, tally_from, tally_query
from infra.canary.local.interleaved import LocalInterleaving
from infra.canary.local.outcomes import InterleavingOdds, click_through, interleaving_odds, mean_odds
from infra.canary.local.prometheus import LocalPrometheus
from infra.canary.local.sensitivity import ab_power, interleaving_power, needed
from infra.canary.local.trained import held_out, offline_ndcg, rebundled, trained_bundle
from infra.canary.local.users import ClickModel
from infra.canary.prometheus import Prometheus
from infra.canary.queries import Target
from model.release.bundle import BundleInfo
from model.serving.interleaving import credit

NAMESPACE, MODEL = "rankship-serving", "search-ranker"
SCORE_BUCKETS = ",".join(f"{x / 2:g}" for x in range(-16, 17))
MIN_DECIDED, ALPHA = 100, 0.05
SEED, USERS = 2026, 4
REPO_CACHE = Path(__file__).resolve().parents[3] / "artifacts" / "demo-bundles"


@dataclass(frozen=True)
class InterleaveScenario:
    name: str
    canary: str  # bundle label
    expected: str  # what users must prefer: "canary", "stable" or "none"


SCENARIOS = (
    InterleaveScenario("better", "better", "canary"),
    InterleaveScenario("worse", "worse", "stable"),
    InterleaveScenario("identical", "identical", "none"),
)


@dataclass(frozen=True)
class InterleaveOutcome:
    scenario: InterleaveScenario
    ndcg: tuple[float | None, float | None]  # offline test NDCG@10: stable, canary
    local: Counter[str]  # winners as the simulation credited them
    judged: InterleavingResult  # from Prometheus, as the analysis reads it
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
        return self.judged.ok is not None and self.preferred == self.scenario.expected


def bundles(cache: Path, workdir: Path) -> dict[str, BundleInfo]:
    """Trained (cached) stable, better, worse; `identical` is stable re-bundled."""
    found = {label: trained_bundle(label, cache) for label in ("stable", "better", "worse")}
    found["identical"] = rebundled(found["stable"], "identical", workdir / "bundles")
    return found


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


def judge_from_prometheus(url: str, stable: str, canary: str, window_s: int) -> InterleavingResult:
    expr = tally_query(Target(NAMESPACE, MODEL, stable, canary), f"{window_s}s")
    now = time.time()
    series = Prometheus(url, timeout_s=5).range_query(expr, now, now, 1)
    values = {s.labels.get("winner", ""): next(iter(s.points.values())) for s in series if s.points}
    return judge_interleaving(tally_from(values), MIN_DECIDED, ALPHA)


def run(
    s: InterleaveScenario, found: dict[str, BundleInfo], users: pd.DataFrame, prom: LocalPrometheus, workdir: Path,
    impressions: int,
) -> InterleaveOutcome:  # fmt: skip
    stable, canary = found["stable"], found[s.canary]
    start = time.monotonic()
    with LocalInterleaving(workdir / s.name, stable, canary, SCORE_BUCKETS) as live:
        labels = {"namespace": NAMESPACE, "rankship_model": MODEL, "rankship_track": "interleave"}
        prom.set_targets([(live.combiner.metrics_address, labels)])
        time.sleep(2.0)  # a first scrape before any count: increase() then sees every count
        local = simulate(live, users, s.name, impressions)
        time.sleep(3.0)  # the last counts scraped
        window = int(time.monotonic() - start) + 30
        judged = judge_from_prometheus(prom.url, stable.version, canary.version, window)
        needed_ = predicted(live, users)
    ndcg = (offline_ndcg(stable), offline_ndcg(canary))
    return InterleaveOutcome(s, ndcg, local, judged, time.monotonic() - start, needed_)


def run_all(workdir: Path, cache: Path, impressions: int = 5000) -> list[InterleaveOutcome]:
    found, users = bundles(cache, workdir), held_out(cache)
    with LocalPrometheus(workdir / "prometheus-interleave") as prom:
        return [run(s, found, users, prom, workdir, impressions) for s in SCENARIOS]


def line(o: InterleaveOutcome) -> str:
    s_ndcg, c_ndcg = (f"{v:.3f}" if v is not None else "n/a" for v in o.ndcg)
    local = ", ".join(f"{k} {o.local[k]}" for k in ("canary", "stable", "tie"))
    ab, il = (f"{v:,}" if v is not None else "> grid" for v in o.needed)
    return (
        f"interleave-{o.scenario.name:<9} offline NDCG@10 stable {s_ndcg} canary {c_ndcg}; "
        f"{o.judged.why}; users prefer: {o.preferred} (expected {o.scenario.expected}); "
        f"simulation credited {local}; to detect the better one (80 % power) an A/B CTR test needs {ab}, "
        f"interleaving {il} impressions; {o.elapsed_s:.0f} s"
    )
