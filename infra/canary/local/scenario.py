"""Canary scenarios on one machine: real Prometheus, real Seldon microservices, the real analyzer in a loop.

`Harness` owns what scenarios share (bundles, one Prometheus, the stable microservice); `Harness.run`
plays one scenario: write a stack whose canary is the scenario's bundle, start the canary process, send
load split by the rolled-out weights, and every `interval` analyse, apply the decision to the stack
settings (and manifests), roll it out, until `complete`, `rollback` or the time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from infra.canary.analyze import analyze_stack
from infra.canary.apply import apply
from infra.canary.decide import Decision, Verdict
from infra.canary.local.bundles import build_bundles
from infra.canary.local.cluster import LocalCluster
from infra.canary.local.load import LoadGenerator
from infra.canary.local.prometheus import LocalPrometheus
from infra.canary.local.serving import Faults, LocalModel
from infra.canary.measure import seconds
from infra.canary.prometheus import Prometheus
from infra.canary.report import markdown
from infra.gitops.atomic import write_text_atomic
from infra.settings.serving import CanaryAnalysis
from infra.settings.stack import SETTINGS_KEY, load_stack_settings
from model.release.bundle import BundleInfo

STACK, MODEL, NAMESPACE = "demo", "search-ranker", "rankship-serving"
IMAGE = "ghcr.io/rankship/ranker-serving@sha256:" + "0" * 64
# Fine enough for an untrained tiny ranker's narrow score range; shared by every version (PSI needs that).
SCORE_BUCKETS = ",".join(f"{x / 10:g}" for x in range(-10, 11))
# Short sub-windows (Prometheus scrapes every second) so that a scenario takes about a minute.
ANALYSIS = CanaryAnalysis(
    interval="15s",
    window="15s",
    failure_threshold=3,
    min_requests_per_version=15,
    max_error_rate=0.05,
    max_p99_latency_ms=150.0,
    max_score_psi=0.2,
)
SEEDS = {"stable": 11, "healthy": 11, "slow": 11, "erroring": 11, "quiet": 11, "broken": 12}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    faults: Faults | None = None
    rate_rps: float = 20.0
    max_s: float | None = None  # None: until a verdict or the caller's limit


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("healthy", "same model as stable, new bundle: climbs every step to complete"),
        Scenario("slow", "every request 400 ms slower (p99 limit 150 ms)", Faults(latency_ms=400)),
        Scenario("erroring", "every 2nd request answered 500", Faults(error_every=2)),
        Scenario("broken", "an untrained model of another seed: fast, error-free, other scores"),
        # Four analyses: one more than a rollback would need, all of them holds.
        Scenario("quiet", "1 request/s in all: too little traffic to judge", rate_rps=1.0, max_s=61.0),
    )
}


@dataclass(frozen=True)
class Step:
    elapsed_s: float
    decision: Decision
    weights: dict[str, int]  # version -> percent after the rollout


@dataclass
class Result:
    scenario: str
    steps: list[Step] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    canary_group: int = 0  # process group of the canary's microservice (stopped when `run` returns)

    @property
    def verdicts(self) -> list[str]:
        return [s.decision.verdict.value for s in self.steps]


def stack_yaml(stable: BundleInfo, canary: BundleInfo) -> str:
    def bundle(b: BundleInfo) -> dict[str, str]:
        return {"id": b.bundle_id, "uri": f"s3://rankship-demo/bundles/{b.bundle_id}/"}

    settings = {
        "cluster": {"provider": "existing", "name": "rankship-demo", "kubernetes_version": "1.31"},
        "platform": {
            "charts": {
                "cert_manager": "v1.17.2", "istio": "1.25.2", "seldon_core_operator": "1.17.1",
                "kube_prometheus_stack": "70.10.0",
            }
        },
        "serving": {"namespace": NAMESPACE},
        "models": [
            {
                "name": MODEL, "image": IMAGE,
                "stable": {"bundle": bundle(stable), "weight": 100 - ANALYSIS.steps[0]},
                "canary": {
                    "bundle": bundle(canary), "weight": ANALYSIS.steps[0],
                    "analysis": ANALYSIS.model_dump(mode="json"),
                },
                "slo": {"p99_latency_ms": 150.0, "availability": 0.99},
            }
        ],
    }  # fmt: skip
    return yaml.safe_dump({"config": {SETTINGS_KEY: settings}}, sort_keys=False)


class Harness:
    def __init__(self, workdir: Path, bundles: dict[str, BundleInfo] | None = None) -> None:
        self.workdir = workdir
        self.bundles = bundles if bundles is not None else build_bundles(workdir / "bundles", SEEDS)
        self.prometheus = LocalPrometheus(workdir / "prometheus")
        self.stable: LocalModel | None = None

    def __enter__(self) -> Harness:
        try:
            self.prometheus.start()
            self.stable = LocalModel(
                self.bundles["stable"].path, self.workdir / "stable.log", SCORE_BUCKETS
            ).start()
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
        stable, canary_bundle = self.bundles["stable"], self.bundles[scenario.name]
        (root / f"Pulumi.{STACK}.yaml").write_text(stack_yaml(stable, canary_bundle))
        log = self.workdir / f"{scenario.name}.log"
        canary = LocalModel(canary_bundle.path, log, SCORE_BUCKETS, scenario.faults).start()
        result = Result(scenario.name, canary_group=canary.child.pid)
        try:
            self.prometheus.set_targets([self._target(self.stable, "stable"), self._target(canary, "canary")])
            endpoints = {stable.version: self.stable.url, canary_bundle.version: canary.url}
            cluster = LocalCluster(root, STACK, MODEL, endpoints)
            max_requests = int(scenario.rate_rps * max_s) + 1
            load = LoadGenerator(cluster.route, scenario.rate_rps, max_requests, max_s).start()
            try:
                self._loop(root, cluster, max_s, result, report)
            finally:
                load.stop()
            result.sent = dict(load.sent)
        finally:
            canary.stop()
            self.prometheus.set_targets([self._target(self.stable, "stable")])
        return result

    def _loop(
        self, root: Path, cluster: LocalCluster, max_s: float, result: Result, report: Callable[[Step], None]
    ) -> None:
        interval = seconds(ANALYSIS.interval)
        prom, start = Prometheus(self.prometheus.url, timeout_s=5), time.monotonic()
        tick = 1
        while (due := start + tick * interval) - start <= max_s:
            time.sleep(max(0.0, due - time.monotonic()))
            settings = load_stack_settings(STACK, root)
            decisions = analyze_stack(settings, prom, time.time(), cluster.live)
            apply(root, STACK, decisions, root / "manifests")
            write_text_atomic(root / f"decision-{tick:02d}.md", markdown(STACK, decisions))  # the PR body
            cluster.rollout()  # a fast GitOps sync: the decision is live before the next analysis
            result.elapsed_s = time.monotonic() - start
            step = Step(result.elapsed_s, decisions[0], cluster.weights())
            result.steps.append(step)
            report(step)
            if step.decision.verdict in (Verdict.COMPLETE, Verdict.ROLLBACK):
                return
            tick += 1
