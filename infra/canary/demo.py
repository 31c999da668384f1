"""`make canary-demo`: canary analysis end to end on this machine, with trained models, real Prometheus and Seldon.

    python -m infra.canary.demo [--scenario better|worse|skewed|slow|erroring|crashing|quiet|interleaving|all]
                                [--max-seconds 180] [--workdir DIR] [--cache DIR]

Trains the demo's bundles once (`infra/canary/local/recipes.py`, cached per recipe under --cache, ~1 min each
the first time), starts a private Prometheus (Debian `prometheus`) scraping the `seldon-core-microservice`
processes and a local Istio stand-in on 127.0.0.1, lets simulated shoppers search the held-out queries and
click by a position-based model (feedback through Seldon's API), and runs the analyzer every 15 s: each
decision is applied to `Pulumi.demo.yaml` and `manifests/demo/` under the work directory, and printed.
Exit 0 when every scenario ended as expected (better: complete; worse, skewed, slow, erroring, crashing:
rollback; quiet: stalled), 1 otherwise, 2 when a prerequisite is missing.

`interleaving` (not part of `all`: ~11 min with the bundles cached) runs `infra/canary/local/interleave_demo.py`: two trained bundles
(cached under artifacts/demo-bundles, several minutes each to train the first time), simulated users clicking
interleaved lists, then the canary analysis' decision: better must win (promote), worse lose (the
interleaving check fails: rollback), identical tie (promote). PR bodies under --workdir/<pairing>/decision.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.canary.analyze import summary_line
from infra.canary.decide import Check
from infra.canary.local import interleave_demo
from infra.canary.local.prometheus import PrometheusMissing
from infra.canary.local.scenario import ANALYSIS, CLICKS, SCENARIOS, Harness, Result, Step
from infra.canary.local.serving import ServingVenvMissing
from model import console

EXPECTED = {"better": "complete", "quiet": "stalled"}  # every other scenario: rollback
CACHE = Path("artifacts/canary-demo/cache")


def expected(result: Result) -> bool:
    """Did the scenario end the way its canary deserves?"""
    want = EXPECTED.get(result.scenario, "rollback")
    return bool(result.verdicts) and result.verdicts[-1] == want


def _check(step: Step, name: str) -> Check | None:
    judged = step.decision.judgements
    return next((c for c in judged[0].checks if c.name == name), None) if judged else None


def figures(result: Result) -> dict[str, str]:
    """The deciding figures of the last analysis: online metrics with their bound, PSI per version."""
    last = result.steps[-1] if result.steps else None
    out = {"ctr": "—", "mrr": "—", "psi": "—", "errors": "—", "p99": "—"}
    if last is None:
        return out
    for key, name in (("ctr", "CTR"), ("mrr", "MRR")):
        c = _check(last, name)
        if c is not None and c.canary is not None and c.stable is not None:
            bound = c.detail.split(", ", 1)[1] if ", " in c.detail else c.detail
            out[key] = f"{c.canary:.3f} vs {c.stable:.3f} ({bound})"
        elif c is not None:
            out[key] = c.detail
    drift = _check(last, "score PSI")
    if drift is not None:
        fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
        out["psi"] = f"canary {fmt(drift.canary)}, stable {fmt(drift.stable)}"
    for key, name, unit in (("errors", "error rate", 100.0), ("p99", "p99 latency", 1.0)):
        c = _check(last, name)
        if c is not None and c.canary is not None:
            out[key] = f"{c.canary * unit:.3g}{' %' if unit == 100 else ' ms'} ({c.source})"
    return out


def _step_printer(bar: Any) -> Callable[[Step], None]:
    def show(step: Step) -> None:
        weights = ", ".join(f"{v} {w} %" for v, w in step.weights.items())
        console.note(bar, f"  t+{step.elapsed_s:5.1f} s  {summary_line(step.decision)}")
        console.note(bar, f"           now serving: {weights}")

    return show


def table(results: Sequence[Result]) -> str:
    lines = [
        "| scenario | decisions | time to verdict | CTR canary vs stable | MRR canary vs stable "
        "| PSI vs own offline | errors / p99 | as expected |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = figures(r)
        lines.append(
            f"| {r.scenario} | {' → '.join(r.verdicts)} | {r.elapsed_s:.0f} s | {f['ctr']} | {f['mrr']} | {f['psi']} "
            f"| {f['errors']}, {f['p99']} | {'yes' if expected(r) else '**no**'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.canary.demo", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="all", choices=[*SCENARIOS, "interleaving", "all"])
    p.add_argument("--max-seconds", type=float, default=180.0, help="per scenario (default 180)")
    p.add_argument(
        "--workdir", type=Path, help="keep logs, settings and PR bodies here (default: a temp dir)"
    )
    p.add_argument("--cache", type=Path, default=CACHE, help=f"trained bundles (default {CACHE})")
    args = p.parse_args(argv)
    console.setup()
    if args.scenario == "interleaving":
        return _interleaving(args.workdir)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    with tempfile.TemporaryDirectory(prefix="canary-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        print(f"canary demo in {workdir}; analysis: {ANALYSIS}; clicks: {CLICKS}", flush=True)
        try:
            console.import_tensorflow()  # the bundles are trained with TensorFlow: hold its start-up lines
            harness = Harness(workdir, args.cache, names)
            for recipe, trained in harness.trained.items():
                print(
                    f"bundle {recipe}: {trained.info.version}, valid NDCG@10 {trained.valid_ndcg:.4f}",
                    flush=True,
                )
            with harness, console.progress(len(names), "canary-demo", "scenario") as bar:
                results = []
                for name in names:
                    scenario = SCENARIOS[name]
                    console.note(bar, f"\n== {name}: {scenario.description}")
                    result = harness.run(scenario, args.max_seconds, _step_printer(bar))
                    console.note(bar, f"  searches answered {result.sent}, with a click {result.clicked}, "
                                      f"failed {result.failed}; PR bodies: {workdir / name}/decision-*.md")  # fmt: skip
                    results.append(result)
                    bar.set_postfix_str(f"last: {name} -> {' -> '.join(result.verdicts)}", refresh=False)
                    bar.update()
        except (PrometheusMissing, ServingVenvMissing) as e:
            print(f"canary demo: {e}", file=sys.stderr)
            return 2
    print("\n" + table(results))
    return 0 if all(expected(r) for r in results) else 1


def _interleaving(workdir: Path | None) -> int:
    cache, start = interleave_demo.REPO_CACHE, time.monotonic()
    with tempfile.TemporaryDirectory(prefix="interleave-demo-") as tmp:
        print(f"\n== interleaving: trained bundles from {cache}; simulated users", flush=True)
        try:
            outcomes = interleave_demo.run_all(workdir or Path(tmp), cache)
        except (PrometheusMissing, ServingVenvMissing) as e:
            print(f"canary demo: {e}", file=sys.stderr)
            return 2
    for o in outcomes:
        print(f"{interleave_demo.line(o)}  as expected: {o.as_expected}", flush=True)
        print(f"  {summary_line(o.decision)}", flush=True)
    print(f"interleaving demo: {time.monotonic() - start:.0f} s in all", flush=True)
    return 0 if all(o.as_expected for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
