"""Does the live SeldonDeployment run what the stack settings say? Pure: works on the API's dict answers.

The canary analysis judges metrics only when the live object has the settings' predictors, with their
bundle versions (the predictor's `version` annotation; its `version` label is the track, which Istio routes
by) and traffic weights, and Seldon reports it `Available`. Anything else means the rollout of the last decision has not happened (or failed): hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.settings.serving import ModelSettings
from infra.specs import naming as n
from infra.specs.interleave import interleave_version
from infra.specs.seldon import predictors

AVAILABLE = "Available"


def expected_predictors(model: ModelSettings) -> dict[str, tuple[str, int]]:
    """Predictor name -> (version, traffic) as the settings render them."""
    want = {p.track: (p.bundle.version, p.traffic) for p in predictors(model)}
    if model.canary is not None and model.canary.interleave is not None:
        want[n.INTERLEAVE_TRACK] = (interleave_version(model), model.canary.interleave.weight)
    return want


def live_predictors(live: Mapping[str, Any]) -> dict[str, tuple[str | None, int | None]]:
    found: dict[str, tuple[str | None, int | None]] = {}
    for p in (live.get("spec") or {}).get("predictors") or []:
        if not isinstance(p, Mapping):
            continue
        annotations = p.get("annotations") or {}
        traffic = p.get("traffic")
        found[str(p.get("name"))] = (
            annotations.get(n.PREDICTOR_VERSION_ANNOTATION),
            traffic if isinstance(traffic, int) else None,
        )
    return found


def rollout_problems(model: ModelSettings, live: Mapping[str, Any] | None, namespace: str) -> list[str]:
    """Every way the live object differs from the settings; empty when the rollout has happened."""
    where = f"SeldonDeployment {namespace}/{model.name}"
    if live is None:
        return [f"{where} not found in the cluster"]
    problems = []
    want, have = expected_predictors(model), live_predictors(live)
    for name in sorted(want.keys() - have.keys()):
        problems.append(f"{where}: predictor {name!r} (version {want[name][0]}) is not live yet")
    for name in sorted(have.keys() - want.keys()):
        problems.append(f"{where}: live predictor {name!r} (version {have[name][0]}) is not in the settings")
    for name in sorted(want.keys() & have.keys()):
        (w_version, w_traffic), (h_version, h_traffic) = want[name], have[name]
        if h_version != w_version:
            problems.append(f"{where}: predictor {name!r} runs version {h_version}, settings say {w_version}")
        if h_traffic != w_traffic:
            problems.append(f"{where}: predictor {name!r} has traffic {h_traffic}, settings say {w_traffic}")
    state = (live.get("status") or {}).get("state")
    if state != AVAILABLE:
        detail = (live.get("status") or {}).get("description")
        problems.append(
            f"{where} is {state or 'without status'}, not {AVAILABLE}" + (f": {detail}" if detail else "")
        )
    return problems
