"""`make mutation`'s summary: mutation score per module from mutmut's results (mutants/**/*.py.meta).

A mutant is *killed* when a test failed (or timed out) against it, *survived* when every selected test passed,
*no tests* when no selected test reaches the mutated function. Score = killed / (killed + survived + no tests):
a function no test reaches counts against its module, as it should. A survivor that changes nothing a caller
can observe is *equivalent* when `tests/mutation/equivalent.py` says why; the second score leaves those out
(killed / (all - equivalent)). Survivors are matched by the line they change, not by mutmut's numbering, so
an entry keeps working when code elsewhere in the function moves; an entry that matches no survivor is
reported as stale. Not a test (no `test_` prefix): a report, like the benchmarks, because it takes minutes.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.equivalent import EQUIVALENT, Equivalent

KILLED = {1, 3, 24, -24, 36, 152, 255, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
_MUTANT = re.compile(r"^x_(?P<function>\w+?)__mutmut_(?P<n>\d+)$")


@dataclass(frozen=True)
class Survivor:
    name: str  # mutmut's name, e.g. model.evaluation.metrics.x__grouped__mutmut_23
    function: str  # model.evaluation.metrics._grouped
    before: str  # the original line(s) it changes, stripped, joined by " / "
    after: str


@dataclass(frozen=True)
class Row:
    module: str
    killed: int
    survived: int
    untested: int
    equivalent: int

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.untested


def _functions(source: str) -> dict[str, str]:
    """Top-level function name -> its source, in mutmut's trampolined copy of a module."""
    tree = ast.parse(source)
    return {
        node.name: ast.get_source_segment(source, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def _survivor(name: str, module: str, functions: dict[str, str]) -> Survivor:
    mangled = name.removeprefix(f"{module}.")
    match = _MUTANT.match(mangled)
    if not match or mangled not in functions:
        return Survivor(name, f"{module}.{mangled}", "", "")
    orig = re.sub(r"__mutmut_\d+$", "__mutmut_orig", mangled)
    a = functions.get(orig, "").replace(orig, "F").splitlines()
    b = functions[mangled].replace(mangled, "F").splitlines()
    diff = list(difflib.unified_diff(a, b, lineterm="", n=0))[2:]
    removed = " / ".join(line[1:].strip() for line in diff if line.startswith("-"))
    added = " / ".join(line[1:].strip() for line in diff if line.startswith("+"))
    return Survivor(name, f"{module}.{match['function']}", removed, added)


def _matches(e: Equivalent, s: Survivor) -> bool:
    return e.function == s.function and e.before == s.before and s.after in e.after


def summarize(mutants: Path) -> tuple[list[Row], list[Survivor], list[tuple[Survivor, Equivalent]]]:
    """Rows per module, the unexplained survivors and the (survivor, reason) pairs counted as equivalent."""
    rows, open_survivors, excused = [], [], []
    for meta in sorted(mutants.rglob("*.py.meta")):
        results = json.loads(meta.read_text())["exit_code_by_key"]
        codes = Counter(results.values())
        path = meta.with_suffix("")  # mutants/model/evaluation/metrics.py
        relative = str(path.relative_to(mutants))
        module = relative.removesuffix(".py").replace("/", ".")
        functions = _functions(path.read_text(encoding="utf-8"))
        equivalent = 0
        for name, code in sorted(results.items()):
            if code not in SURVIVED:
                continue
            s = _survivor(name, module, functions)
            reason = next((e for e in EQUIVALENT if _matches(e, s)), None)
            if reason is None:
                open_survivors.append(s)
            else:
                equivalent += 1
                excused.append((s, reason))
        rows.append(
            Row(
                relative,
                killed=sum(n for c, n in codes.items() if c in KILLED),
                survived=sum(n for c, n in codes.items() if c in SURVIVED),
                untested=sum(n for c, n in codes.items() if c in NO_TESTS),
                equivalent=equivalent,
            )
        )
    return rows, open_survivors, excused


def _score(killed: int, total: int) -> str:
    return f"{killed / total:.1%}" if total else "n/a"


def main(argv: list[str]) -> int:
    mutants = Path(argv[0]) if argv else Path("mutants")
    rows, open_survivors, excused = summarize(mutants)
    if not rows:
        print(f"no mutmut results under {mutants}/: run `make mutation` first", file=sys.stderr)
        return 2
    print("| module | mutants | killed | survived | no tests | score | equivalent | score excl. equivalent |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    total = Row(
        "**all**",
        killed=sum(r.killed for r in rows),
        survived=sum(r.survived for r in rows),
        untested=sum(r.untested for r in rows),
        equivalent=sum(r.equivalent for r in rows),
    )
    for r in [*rows, total]:
        print(
            f"| {r.module} | {r.total} | {r.killed} | {r.survived} | {r.untested} | {_score(r.killed, r.total)} "
            f"| {r.equivalent} | {_score(r.killed, r.total - r.equivalent)} |"
        )
    if excused:
        print("\nequivalent survivors (tests/mutation/equivalent.py):")
        for s, e in excused:
            print(f"- {s.name}: `{s.before}` -> `{s.after}`: {e.why}")
    used = {id(e) for _, e in excused}
    for e in EQUIVALENT:
        if id(e) not in used:
            print(
                f"\nstale entry in tests/mutation/equivalent.py (matches no survivor): {e.function}: `{e.before}`"
            )
    if open_survivors:
        print("\nsurvivors to kill (or to justify in tests/mutation/equivalent.py):")
        for s in open_survivors:
            print(f"- {s.name}: `{s.before}` -> `{s.after}`")
    print("\none in full: `uv run --frozen --with mutmut==3.8.1 mutmut show <name>`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
