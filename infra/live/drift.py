"""Differences between the objects of `manifests/<stack>/` and the live ones. Pure: works on dicts.

A live object always carries more than its manifest (status, uid, defaults the API server and operators fill
in), so the comparison is one-sided: every field the manifest sets must be live with the same value, and
fields only the live object has are ignored. Lists of named items (containers, ports, env, predictors) are
matched by `name`, other lists by position. Resource quantities compare by value (`1000m` is `1`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.utils import parse_quantity

from infra.gitops.manifests import ObjectKey, object_key

_QUANTITY_PARENTS = ("requests", "limits")


def _same_quantity(expected: Any, live: Any) -> bool:
    try:
        return bool(parse_quantity(expected) == parse_quantity(live))
    except (ValueError, TypeError):
        return False


def _named(items: Sequence[Any]) -> dict[str, Any] | None:
    if items and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items):
        names = [i["name"] for i in items]
        if len(set(names)) == len(names):
            return {i["name"]: i for i in items}
    return None


def field_differences(expected: Any, live: Any, path: str = "") -> list[str]:
    """`path: manifest X, live Y` for every field of `expected` that `live` lacks or has otherwise."""
    if isinstance(expected, Mapping):
        if not isinstance(live, Mapping):
            return [f"{path or '.'}: manifest has a mapping, live has {_show(live)}"]
        out = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else str(key)
            out += field_differences(value, live[key], where) if key in live else [f"{where}: missing live"]
        return out
    if isinstance(expected, list):
        return _list_differences(expected, live, path)
    parent = path.split(".")[-2] if "." in path else ""
    if expected == live or (parent in _QUANTITY_PARENTS and _same_quantity(expected, live)):
        return []
    return [f"{path}: manifest {_show(expected)}, live {_show(live)}"]


def _list_differences(expected: list[Any], live: Any, path: str) -> list[str]:
    if not isinstance(live, list):
        return [f"{path}: manifest has a list, live has {_show(live)}"]
    want, have = _named(expected), _named(live)
    if want is not None and have is not None:
        out = [f"{path}[{name}]: missing live" for name in want if name not in have]
        out += [f"{path}[{name}]: live only" for name in have if name not in want]
        for name in want.keys() & have.keys():
            out += field_differences(want[name], have[name], f"{path}[{name}]")
        return sorted(out)
    out = (
        [f"{path}: manifest has {len(expected)} items, live {len(live)}"]
        if len(expected) != len(live)
        else []
    )
    for i, (e, lv) in enumerate(zip(expected, live, strict=False)):
        out += field_differences(e, lv, f"{path}[{i}]")
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def object_drift(
    manifests: Sequence[Mapping[str, Any]],
    live: Mapping[ObjectKey, Mapping[str, Any] | None],
    live_only: Sequence[ObjectKey] = (),
) -> list[str]:
    """Every difference, one line each, naming the object: missing objects, differing fields, and live
    objects of rankship (`live_only`, found by label) that no manifest declares."""
    out = []
    for manifest in manifests:
        key = object_key(manifest)
        found = live.get(key)
        if found is None:
            out.append(f"{key}: in manifests/, not in the cluster")
            continue
        body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
        out += [f"{key}: {line}" for line in field_differences(body, found)]
    declared = {object_key(m) for m in manifests}
    out += [f"{key}: in the cluster, not in manifests/" for key in live_only if key not in declared]
    return out
