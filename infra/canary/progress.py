"""How long each canary has been at its current step (the clock of the progress deadline, `max_holds`), and
how long its bundle has been the canary (windows older than that are about another rollout, never judged).

Every analysis run is stateless, so the step's age comes from git: the settings file's history, newest
first, is walked back while the model's canary (bundle version, weight) stays what it is now; the step began
with the oldest commit in that run. A change elsewhere in the file does not restart the clock. In CI the
checkout needs the history (`fetch-depth: 0`); without git or history the age is unknown and the deadline
is not applied (the analysis says so).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from infra.settings.stack import SETTINGS_KEY

MAX_COMMITS = 200


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _step(text: str, model: str) -> tuple[str, int] | None:
    """(canary bundle id, weight) of `model` in one version of the settings file; None without a canary."""
    try:
        doc = yaml.safe_load(text) or {}
        models = doc["config"][SETTINGS_KEY]["models"]
        node = next(m for m in models if m.get("name") == model)
        canary = node.get("canary")
        return (str(canary["bundle"]["id"]), int(canary["weight"])) if canary else None
    except (yaml.YAMLError, KeyError, TypeError, StopIteration, ValueError):
        return None


def _since(
    root: Path, stack: str, model: str, key: Callable[[tuple[str, int] | None], object]
) -> float | None:
    """Time of the oldest commit of the newest run of commits whose `key` of the canary equals today's."""
    name = f"Pulumi.{stack}.yaml"
    current = _step((root / name).read_text(encoding="utf-8"), model) if (root / name).is_file() else None
    log = _git(root, "log", f"-{MAX_COMMITS}", "--format=%H %ct", "--", name)
    if current is None or not log:
        return None
    started = None
    for line in log.splitlines():
        commit, when = line.split()
        text = _git(root, "show", f"{commit}:{name}")
        if text is None or key(_step(text, model)) != key(current):
            break
        started = float(when)
    return started


def step_started(root: Path, stack: str, model: str) -> float | None:
    """Unix time of the commit that put `model`'s canary at its current step; None when unknown."""
    return _since(root, stack, model, lambda step: step)


def canary_started(root: Path, stack: str, model: str) -> float | None:
    """Unix time of the commit that made the current bundle `model`'s canary; None when unknown."""
    return _since(root, stack, model, lambda step: step and step[0])


def held_for(root: Path, stack: str, now: float) -> Callable[[str], float | None]:
    """model -> seconds at its current step (the analyzer's `held_for`)."""
    return _age(step_started, root, stack, now)


def deployed_for(root: Path, stack: str, now: float) -> Callable[[str], float | None]:
    """model -> seconds since its canary bundle became the canary (the analyzer's `deployed_for`)."""
    return _age(canary_started, root, stack, now)


def _age(
    started: Callable[[Path, str, str], float | None], root: Path, stack: str, now: float
) -> Callable[[str], float | None]:
    def age(model: str) -> float | None:
        at = started(root, stack, model)
        return None if at is None else max(now - at, 0.0)

    return age
