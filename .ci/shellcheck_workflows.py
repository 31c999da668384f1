"""ShellCheck every `run:` script of the workflows and the local composite actions.

    python .ci/shellcheck_workflows.py [FILE ...]     (default: .github/workflows/*.yml, .github/actions/*/action.yml)

Each script is checked as the shell GitHub runs it (`bash --noprofile --norc -euo pipefail {0}`, which ci.yml and
every other workflow set under `defaults.run.shell`). Findings are printed as `<file> job <job> step <n>: ...`.
Exit codes: 0 clean, 1 findings, 2 shellcheck missing or a bad file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PRELUDE = "#!/usr/bin/env bash\nset -euo pipefail\n"


def run_scripts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, script) for every run step of a workflow or composite action."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "jobs" in data:
        for job, spec in data["jobs"].items():
            for i, step in enumerate(spec.get("steps") or []):
                if "run" in step:
                    yield (
                        f"job {job} step {i + 1} ({step.get('name', step['run'].splitlines()[0])})",
                        step["run"],
                    )
    for i, step in enumerate((data.get("runs") or {}).get("steps") or []):
        if "run" in step:
            yield f"step {i + 1} ({step.get('name', '')})", step["run"]


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)


def main(argv: list[str]) -> int:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        print(
            "shellcheck is missing: apt-get install shellcheck (make system-deps does, as root)",
            file=sys.stderr,
        )
        return 2
    files = [Path(a) for a in argv] or [
        *sorted((ROOT / ".github" / "workflows").glob("*.yml")),
        *sorted((ROOT / ".github" / "actions").glob("*/action.yml")),
    ]
    found = 0
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            for where, script in run_scripts(path):
                count += 1
                script_file = Path(tmp) / f"{count}.sh"
                script_file.write_text(PRELUDE + script, encoding="utf-8")
                done = subprocess.run(
                    [shellcheck, "--shell=bash", "--format=gcc", str(script_file)],
                    capture_output=True,
                    text=True,
                )
                for line in done.stdout.splitlines():
                    _, lineno, _, message = line.split(":", 3)
                    print(f"{_shown(path)} {where}: line {int(lineno) - 2}:{message}")
                    found += 1
    print(f"shellcheck: {count} run script(s) in {len(files)} file(s), {found} finding(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
