"""`make mutation`'s summary: mutation score per module from mutmut's results (mutants/**/*.py.meta).

A mutant is *killed* when a test failed (or timed out) against it, *survived* when every selected test passed,
*no tests* when no selected test reaches the mutated function. Score = killed / (killed + survived + no tests):
a function no test reaches counts against its module, as it should. Not a test (no `test_` prefix): a report,
like the benchmarks, because it takes minutes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 24, -24, 36, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}


def summarize(mutants: Path) -> list[tuple[str, int, int, int, float]]:
    rows = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = Counter(json.loads(meta.read_text())["exit_code_by_key"].values())
        killed = sum(n for c, n in codes.items() if c in KILLED)
        survived = sum(n for c, n in codes.items() if c in SURVIVED)
        untested = sum(n for c, n in codes.items() if c in NO_TESTS)
        total = killed + survived + untested
        module = str(meta.relative_to(mutants)).removesuffix(".meta")
        rows.append((module, killed, survived, untested, killed / total if total else float("nan")))
    return rows


def main(argv: list[str]) -> int:
    mutants = Path(argv[0]) if argv else Path("mutants")
    rows = summarize(mutants)
    if not rows:
        print(f"no mutmut results under {mutants}/: run `make mutation` first", file=sys.stderr)
        return 2
    print("| module | killed | survived | no tests | score |\n|---|---:|---:|---:|---:|")
    for module, killed, survived, untested, score in rows:
        print(f"| {module} | {killed} | {survived} | {untested} | {score:.1%} |")
    k, s, u = (sum(r[i] for r in rows) for i in (1, 2, 3))
    print(f"| **all** | {k} | {s} | {u} | {k / (k + s + u):.1%} |")
    print("\nsurvivors: `uv run --with mutmut mutmut results`, one in full: `... mutmut show <name>`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
