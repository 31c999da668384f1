"""`make canary-demo`: canary analysis end to end on this machine, with real Prometheus and real Seldon.

    python -m infra.canary.demo [--scenario healthy|slow|erroring|broken|quiet|interleaving|all]
                                [--max-seconds 150] [--workdir DIR]

Builds tiny bundles (TensorFlow, ~30 s), starts a private Prometheus (Debian `prometheus`) scraping two
`seldon-core-microservice` processes (stable and the scenario's canary) on 127.0.0.1, sends a bounded load
split by the weights in the stack settings, and runs the analyzer every 15 s: each decision is applied to
`Pulumi.demo.yaml` and `manifests/demo/` under the work directory, and printed. Everything stops at the end.
Exit 0 when every scenario ended as expected (healthy: complete; slow, erroring, broken: rollback;
quiet: only holds), 1 otherwise, 2 when a prerequisite is missing.

`interleaving` (not part of `all`: ~25 min) runs `infra/canary/local/interleave_demo.py`: trained bundles
(cached under artifacts/demo-bundles, ~12 min each to train the first time), simulated users clicking
interleaved lists; better must win, worse lose, identical tie.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from infra.canary.analyze import summary_line
from infra.canary.local import interleave_demo
from infra.canary.local.prometheus import PrometheusMissing
from infra.canary.local.scenario import ANALYSIS, SCENARIOS, Harness, Result, Step
from infra.canary.local.serving import ServingVenvMissing

EXPECTED = {"healthy": "complete", "slow": "rollback", "erroring": "rollback", "broken": "rollback"}


def expected(result: Result) -> bool:
    """Did the scenario end the way its canary deserves?"""
    want = EXPECTED.get(result.scenario)
    if want is None:  # quiet: never a verdict, only holds
        return bool(result.verdicts) and set(result.verdicts) == {"hold"}
    return bool(result.verdicts) and result.verdicts[-1] == want


def _print_step(step: Step) -> None:
    weights = ", ".join(f"{v} {w} %" for v, w in step.weights.items())
    print(
        f"  t+{step.elapsed_s:5.1f} s  {summary_line(step.decision)}\n           now serving: {weights}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.canary.demo", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="all", choices=[*SCENARIOS, "interleaving", "all"])
    p.add_argument("--max-seconds", type=float, default=150.0, help="per scenario (default 150)")
    p.add_argument("--workdir", type=Path, help="keep bundles, logs and settings here (default: a temp dir)")
    args = p.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    if args.scenario == "interleaving":
        return _interleaving(args.workdir)
    with tempfile.TemporaryDirectory(prefix="canary-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        print(f"canary demo in {workdir}; analysis: {ANALYSIS}", flush=True)
        try:
            harness = Harness(workdir)
            with harness:
                results = []
                for name in names:
                    scenario = SCENARIOS[name]
                    print(f"\n== {name}: {scenario.description}", flush=True)
                    result = harness.run(scenario, args.max_seconds, _print_step)
                    print(f"  requests sent per version: {result.sent}", flush=True)
                    print(f"  PR bodies: {workdir / name}/decision-*.md", flush=True)
                    results.append(result)
        except (PrometheusMissing, ServingVenvMissing) as e:
            print(f"canary demo: {e}", file=sys.stderr)
            return 2
    print("\nscenario   decisions                                   ended after   as expected")
    for r in results:
        print(f"{r.scenario:<10} {' -> '.join(r.verdicts):<43} {r.elapsed_s:6.1f} s      {expected(r)}")
    return 0 if all(expected(r) for r in results) else 1


def _interleaving(workdir: Path | None) -> int:
    cache = interleave_demo.REPO_CACHE
    with tempfile.TemporaryDirectory(prefix="interleave-demo-") as tmp:
        print(f"\n== interleaving: trained bundles from {cache}; simulated users", flush=True)
        try:
            outcomes = interleave_demo.run_all(workdir or Path(tmp), cache)
        except (PrometheusMissing, ServingVenvMissing) as e:
            print(f"canary demo: {e}", file=sys.stderr)
            return 2
    for o in outcomes:
        print(f"{interleave_demo.line(o)}  as expected: {o.as_expected}", flush=True)
    return 0 if all(o.as_expected for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
