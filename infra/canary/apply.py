"""Apply decisions to `Pulumi.<stack>.yaml` (the single source of truth) and re-render `manifests/<stack>/`.

The file is edited round-trip (comments, quoting and key order survive, see `infra.settings.deploy`), the
result is parsed again and must equal what `infra.settings.edit` computes for the same decision; only then are
the settings and the manifests written, each atomically. A decision made on other settings than the file's
current ones (a stale decision) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml.comments import CommentedMap

from infra.canary.decide import Decision, Verdict
from infra.gitops.atomic import write_text_atomic
from infra.gitops.manifests import render_files
from infra.gitops.render import write_atomically as write_manifests
from infra.settings import edit as config_edit
from infra.settings.deploy import RoundTrip, select_model
from infra.settings.stack import SETTINGS_KEY, StackSettings, load_stack_settings, parse_settings, stack_file
from infra.specs import build_stack_objects


class StaleDecision(RuntimeError):
    """The settings changed since the decision was made; analyse again."""


@dataclass(frozen=True)
class Applied:
    settings_path: Path
    settings_changed: bool
    manifests_changed: bool


def _edit(node: CommentedMap, d: Decision) -> None:
    canary, stable = node["canary"], node["stable"]
    if d.verdict is Verdict.PROMOTE:
        assert d.new_weight is not None
        canary["weight"], stable["weight"] = d.new_weight, config_edit.stable_weight(canary, d.new_weight)
    elif d.verdict is Verdict.COMPLETE:
        stable["bundle"] = canary["bundle"]
        if "image" in canary:
            stable["image"] = canary["image"]
        elif "image" in stable:
            del stable["image"]  # the canary ran the model's image; so will the new stable
        stable["weight"] = 100
        del node["canary"]
    elif d.verdict is Verdict.ROLLBACK:
        stable["weight"] = 100
        del node["canary"]


def _expected(settings: StackSettings, d: Decision) -> StackSettings:
    if d.verdict is Verdict.PROMOTE:
        assert d.new_weight is not None
        return config_edit.set_canary_weight(settings, d.model, d.new_weight)
    if d.verdict is Verdict.COMPLETE:
        return config_edit.promote_canary(settings, d.model)
    return config_edit.abort_canary(settings, d.model)


def _check_fresh(settings: StackSettings, d: Decision, source: str) -> None:
    model = select_model(settings, d.model, source)[1]
    canary = model.canary
    now = (
        model.stable.bundle.version,
        canary.bundle.version if canary else None,
        canary.weight if canary else 0,
    )
    if now != (d.stable_version, d.canary_version, d.weight):
        raise StaleDecision(
            f"{source}: model {d.model!r} is now stable {now[0]}, canary {now[1]} at {now[2]} %; "
            f"the decision was made for stable {d.stable_version}, canary {d.canary_version} at {d.weight} %"
        )


def apply(root: Path, stack: str, decisions: Sequence[Decision], manifests: Path) -> Applied:
    """Write the decisions that change something; holds alone write nothing."""
    path = stack_file(stack, root)
    changes = [d for d in decisions if d.changes_settings]
    if not changes:
        return Applied(path, False, False)
    settings = load_stack_settings(stack, root)
    doc = RoundTrip(path)
    expected = settings
    for d in changes:
        _check_fresh(settings, d, str(path))
        index = select_model(settings, d.model, str(path))[0]
        _edit(doc.data["config"][SETTINGS_KEY]["models"][index], d)
        expected = _expected(expected, d)
    text = doc.text()
    new = parse_settings(yaml.safe_load(text)["config"][SETTINGS_KEY], f"{path} after the canary decision")
    if new != expected:
        raise RuntimeError(f"{path}: the round-trip edit disagrees with infra.settings.edit; nothing written")
    files = render_files(stack, build_stack_objects(new))  # rendered before anything is written
    write_text_atomic(path, text)
    return Applied(path, True, write_manifests(manifests / stack, files))
