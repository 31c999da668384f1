"""Canary scenarios on one machine: real Prometheus, real Seldon microservices, trained bundles, simulated users.

`Harness` owns what scenarios share (trained bundles, one Prometheus, the stable microservice); `Harness.run`
plays one scenario: write a stack whose canary is the scenario's bundle, start the canary process behind a
local Istio stand-in (`gateway.py`), let shoppers search and click (`users.py`), and every `interval` analyse,
apply the decision to the stack settings (and manifests), roll it out, until `complete`, `rollback`,
`stalled` or the time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.canary.analyze import analyze_stack
from infra.canary.apply import apply
from infra.canary.decide import Decision, Verdict
from infra.canary.local.cluster import LocalCluster
from infra.canary.local.gateway import LocalGateway, Transform
from infra.canary.local.prometheus import LocalPrometheus
from infra.canary.local.recipes import RECIPES, TrainedBundle, live_queries, trained_bundle
from infra.canary.local.serving import Faults, LocalModel
from infra.canary.local.shoppers import Shoppers
from infra.canary.local.users import ClickModel
from infra.canary.measure import seconds
from infra.canary.prometheus import Prometheus
from infra.canary.report import markdown
from infra.gitops.atomic import write_text_atomic
from infra.settings.serving import CanaryAnalysis, Interleave
from infra.settings.stack import SETTINGS_KEY, load_stack_settings
from model.release.bundle import BundleInfo, write_bundle

STACK, MODEL, NAMESPACE = "demo", "search-ranker", "rankship-serving"
IMAGE = "ghcr.io/rankship/ranker-serving@sha256:" + "0" * 64
FALLBACK_BUCKETS = "-8,-4,-2,-1,0,1,2,4,8"  # unused: every demo bundle carries its own edges
# Short sub-windows (Prometheus scrapes every second) so that a scenario takes about a minute; feedback over
# 2 minutes (clicks are rarer than requests). The margin is wide because a demo step lasts seconds: at 10 %
# the canary has ~40 impressions when it is first judged.
ANALYSIS = CanaryAnalysis(
    interval="15s",
    window="15s",
    failure_threshold=3,
    min_requests_per_version=15,
    max_error_rate=0.05,
    max_p99_latency_ms=300.0,  # measured at the local gateway (Python): loaded, healthy p99 is ~50-100 ms
    max_score_psi=0.2,
    min_feedback_per_version=25,
    online_margin=0.2,
    online_alpha=0.05,
    feedback_window="2m",
    max_holds=4,
)
CLICKS = ClickModel()  # infra/canary/local/users.py: PBM, eta 1, grades 0..3 clicked 0.05/0.2/0.5/0.9


def swap_fields(request: dict[str, Any]) -> dict[str, Any]:
    """The skewed canary's environment: its catalog feed maps the fields wrong (titles carry descriptions).
    (Dropping descriptions would not do: the tiny preset reads 12 product words, mostly the title.)"""
    payload = request["jsonData"]
    candidates = [
        {**c, "title": c.get("description", ""), "description": c["title"]} for c in payload["candidates"]
    ]
    return {**request, "jsonData": {**payload, "candidates": candidates}}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    recipe: str = "better"  # the trained model the canary runs
    faults: Faults | None = None
    crash: bool = False  # the canary's process dies once it is rolled out
    skew: Transform | None = None  # rewrites the canary's live requests
    rate_rps: float = 20.0
    max_s: float | None = None  # None: until a verdict or the caller's limit


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("better", "a retrained model, higher offline NDCG than stable: climbs every step to complete"),
        Scenario("worse", "trained on shuffled labels: users click less and lower", recipe="worse"),
        Scenario("skewed", "the better model, but its live requests swap title and description", skew=swap_fields),
        Scenario("slow", "the better model, 500 ms slower per request (p99 limit 300 ms)", faults=Faults(latency_ms=500)),
        Scenario("erroring", "the better model, every 2nd request answered 500", faults=Faults(error_every=2)),
        Scenario("crashing", "the better model's process dies: every canary request is a 503 it never saw",
                 crash=True),
        # Too little traffic to judge: holds, then `stalled` at the progress deadline (4 x 15 s).
        Scenario("quiet", "1 search/s in all: too little evidence, ever", rate_rps=1.0, max_s=91.0),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Step:
    elapsed_s: float
    decision: Decision
    weights: dict[str, int]  # version -> percent after the rollout


@dataclass
class Result:
    scenario: str
    steps: list[Step] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # version -> searches answered
    clicked: dict[str, int] = field(default_factory=dict)  # version -> searches with a click
    failed: dict[int, int] = field(default_factory=dict)  # HTTP status -> searches not answered
    elapsed_s: float = 0.0
    canary_group: int = 0  # process group of the canary's microservice (stopped when `run` returns)

    @property
    def verdicts(self) -> list[str]:
        return [s.decision.verdict.value for s in self.steps]


def stack_yaml(
    stable: BundleInfo,
    canary: BundleInfo,
    analysis: CanaryAnalysis = ANALYSIS,
    interleave: Interleave | None = None,
) -> str:
    """The demo stack: stable and canary (and an interleaving predictor) of one model, judged by `analysis`."""

    def bundle(b: BundleInfo) -> dict[str, str]:
        return {"id": b.bundle_id, "uri": f"s3://rankship-demo/bundles/{b.bundle_id}/"}

    shares = interleave.weight if interleave else 0  # taken from stable's share

    settings = {
        "cluster": {"provider": "existing", "name": "rankship-demo", "kubernetes_version": "1.31"},
        "platform": {
            "charts": {
                "cert_manager": "v1.17.2", "istio": "1.25.2", "seldon_core_operator": "1.17.1",
                "kube_prometheus_stack": "70.10.0",
            },
            "auth": {"mode": "none"},
        },
        "serving": {"namespace": NAMESPACE},
        "models": [
            {
                "name": MODEL, "image": IMAGE,
                "stable": {"bundle": bundle(stable), "weight": 100 - analysis.steps[0] - shares},
                "canary": {
                    "bundle": bundle(canary), "weight": analysis.steps[0],
                    "analysis": analysis.model_dump(mode="json"),
                    **({"interleave": interleave.model_dump(mode="json")} if interleave else {}),
                },
                "slo": {"p99_latency_ms": 150.0, "availability": 0.99},
            }
        ],
    }  # fmt: skip
    return yaml.safe_dump({"config": {SETTINGS_KEY: settings}}, sort_keys=False)


def _labelled(bundle: BundleInfo, label: str, root: Path) -> BundleInfo:
    """The same trained model as a bundle of its own (a `DEMO_LABEL` file): every scenario gets its own
    version, so no scenario reads another's series (feedback is counted over minutes)."""
    contents: dict[str, bytes | Path] = {name: bundle.path / name for name in bundle.files}
    contents["DEMO_LABEL"] = label.encode()
    return write_bundle(contents, root)


def _constant(age: float) -> Callable[[str], float | None]:
    return lambda model: age


class Harness:
    def __init__(self, workdir: Path, cache: Path, scenarios: list[str] | None = None) -> None:
        self.workdir = workdir
        wanted = {"stable", *(SCENARIOS[n].recipe for n in (scenarios or SCENARIOS))}
        self.trained: dict[str, TrainedBundle] = {
            r: trained_bundle(RECIPES[r], cache) for r in sorted(wanted)
        }
        self.queries = live_queries(self.trained["stable"].workspace)
        self.prometheus = LocalPrometheus(workdir / "prometheus")
        self.stable: LocalModel | None = None

    def __enter__(self) -> Harness:
        try:
            self.prometheus.start()
            stable = self.trained["stable"].info.path
            self.stable = LocalModel(stable, self.workdir / "stable.log", FALLBACK_BUCKETS).start()
            self.prometheus.set_targets([self._target(self.stable, "stable")])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stable is not None:
            self.stable.stop()
        self.prometheus.stop()

    def _target(self, model: LocalModel, track: str) -> tuple[str, dict[str, str]]:
        labels = {"namespace": NAMESPACE, "rankship_model": MODEL, "rankship_track": track}
        return model.metrics_address, labels

    def run(
        self, scenario: Scenario, max_s: float, report: Callable[[Step], None] = lambda s: None
    ) -> Result:
        assert self.stable is not None, "use the harness as a context manager"
        max_s = min(max_s, scenario.max_s or max_s)
        root = self.workdir / scenario.name
        root.mkdir(parents=True, exist_ok=True)
        stable = self.trained["stable"].info
        canary_bundle = _labelled(self.trained[scenario.recipe].info, scenario.name, self.workdir / "bundles")
        (root / f"Pulumi.{STACK}.yaml").write_text(stack_yaml(stable, canary_bundle))
        log = self.workdir / f"{scenario.name}.log"
        canary = LocalModel(canary_bundle.path, log, FALLBACK_BUCKETS, scenario.faults).start()
        result = Result(scenario.name, canary_group=canary.child.pid)
        endpoints = {stable.version: self.stable.url, canary_bundle.version: canary.url}
        cluster = LocalCluster(root, STACK, MODEL, endpoints)
        transforms = {canary_bundle.version: scenario.skew} if scenario.skew else {}
        gateway = LocalGateway(MODEL, NAMESPACE, cluster.route_track, transforms).start()
        try:
            targets = [self._target(self.stable, "stable"), self._target(canary, "canary")]
            self.prometheus.set_targets([*targets, (gateway.metrics_address, {})])
            if scenario.crash:
                canary.stop()  # the pods are gone; Istio still routes the canary's share to its Service
            searches = int(scenario.rate_rps * max_s) + 1
            shoppers = Shoppers(gateway.url, self.queries, scenario.rate_rps, searches, max_s, CLICKS).start()
            try:
                self._loop(root, cluster, max_s, result, report)
            finally:
                shoppers.stop()
            result.sent, result.clicked = dict(shoppers.answered), dict(shoppers.clicked)
            result.failed = dict(shoppers.failed)
        finally:
            gateway.stop()
            canary.stop()
            self.prometheus.set_targets([self._target(self.stable, "stable")])
        return result

    def _loop(
        self, root: Path, cluster: LocalCluster, max_s: float, result: Result, report: Callable[[Step], None]
    ) -> None:
        interval = seconds(ANALYSIS.interval)
        prom, start = Prometheus(self.prometheus.url, timeout_s=5), time.monotonic()
        tick, step_started, deployed = 1, time.time(), time.time()
        while (due := start + tick * interval) - start <= max_s:
            time.sleep(max(0.0, due - time.monotonic()))
            settings = load_stack_settings(STACK, root)
            now = time.time()
            age = now - step_started  # the harness is the GitOps clock here (a cluster: git history)
            decisions = analyze_stack(settings, prom, now, cluster.live, held_for=_constant(age),
                                      deployed_for=_constant(now - deployed))  # fmt: skip
            apply(root, STACK, decisions, root / "manifests")
            write_text_atomic(root / f"decision-{tick:02d}.md", markdown(STACK, decisions))  # the PR body
            if decisions[0].changes_settings:
                cluster.rollout()  # a fast GitOps sync: the decision is live before the next analysis
                step_started = time.time()
            result.elapsed_s = time.monotonic() - start
            step = Step(result.elapsed_s, decisions[0], cluster.weights())
            result.steps.append(step)
            report(step)
            if step.decision.verdict in (Verdict.COMPLETE, Verdict.ROLLBACK, Verdict.STALLED):
                return
            tick += 1
