"""Validated edits of stack settings, for the canary analyzer and release tooling.

Each edit works on the plain-data form and parses the result again, so an edit can never produce settings
that `load_stack_settings` would reject. Write the result back with `config.dump_stack_settings`.
"""

from __future__ import annotations

from typing import Any

from infra.settings.serving import Bundle, CanaryAnalysis
from infra.settings.stack import StackSettings, parse_settings, settings_to_config


def _model_entry(raw: dict[str, Any], model: str) -> dict[str, Any]:
    for entry in raw["models"]:
        if entry["name"] == model:
            return entry
    raise KeyError(f"no model named {model!r} in the stack settings")


def stable_weight(canary: dict[str, Any], canary_weight: int) -> int:
    """Stable's share when the canary (a plain-data settings entry) gets `canary_weight`."""
    return 100 - canary_weight - int((canary.get("interleave") or {}).get("weight", 0))


def _reparse(raw: dict[str, Any], what: str) -> StackSettings:
    return parse_settings(raw, f"settings after {what}")


def set_canary_weight(settings: StackSettings, model: str, weight: int) -> StackSettings:
    """Send `weight` percent of live traffic to the canary, the interleaving predictor's (if any) to it, and
    the rest to stable."""
    raw = settings_to_config(settings)
    entry = _model_entry(raw, model)
    if "canary" not in entry:
        raise KeyError(f"model {model!r} has no canary to reweight")
    entry["canary"]["weight"] = weight
    entry["stable"]["weight"] = stable_weight(entry["canary"], weight)
    return _reparse(raw, f"setting {model} canary weight to {weight}")


def start_canary(
    settings: StackSettings,
    model: str,
    bundle: Bundle,
    analysis: CanaryAnalysis | None = None,
) -> StackSettings:
    """Add a canary for `bundle` at the first analysis step (`analysis` None: the defaults)."""
    raw = settings_to_config(settings)
    entry = _model_entry(raw, model)
    if "canary" in entry:
        raise ValueError(f"model {model!r} already has a canary; promote or abort it first")
    steps = (analysis or CanaryAnalysis()).steps
    entry["canary"] = {"bundle": bundle.model_dump(mode="json"), "weight": steps[0]}
    if analysis is not None:
        entry["canary"]["analysis"] = analysis.model_dump(mode="json")
    entry["stable"]["weight"] = 100 - steps[0]
    return _reparse(raw, f"starting a canary of {model}")


def promote_canary(settings: StackSettings, model: str) -> StackSettings:
    """The canary's bundle (and image, if it had its own) becomes stable with all traffic."""
    raw = settings_to_config(settings)
    entry = _model_entry(raw, model)
    canary = entry.pop("canary", None)
    if canary is None:
        raise KeyError(f"model {model!r} has no canary to promote")
    entry["stable"] = {"bundle": canary["bundle"], "weight": 100}
    if "image" in canary:
        entry["stable"]["image"] = canary["image"]
    return _reparse(raw, f"promoting the {model} canary")


def abort_canary(settings: StackSettings, model: str) -> StackSettings:
    """Drop the canary; stable takes all traffic again."""
    raw = settings_to_config(settings)
    entry = _model_entry(raw, model)
    if entry.pop("canary", None) is None:
        raise KeyError(f"model {model!r} has no canary to abort")
    entry["stable"]["weight"] = 100
    return _reparse(raw, f"aborting the {model} canary")
