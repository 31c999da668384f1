"""The checked-in stack settings for the infra tests, as fresh mutable copies or parsed models."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# pytest puts this folder, not the repository root, on sys.path; the `infra` package lives at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.gitops.validate import VENDORED_CRD_SCHEMAS  # noqa: E402
from infra.settings.stack import SETTINGS_KEY, StackSettings, parse_settings  # noqa: E402

STACKS = ("dev", "staging", "prod")
CRD_SCHEMAS = VENDORED_CRD_SCHEMAS


def raw_settings(stack: str) -> dict[str, Any]:
    """A fresh, mutable copy of `rankship:settings` from Pulumi.<stack>.yaml."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(document["config"][SETTINGS_KEY])


def settings_of(raw: dict[str, Any], source: str = "test") -> StackSettings:
    return parse_settings(raw, source)


def filled(raw: dict[str, Any]) -> dict[str, Any]:
    """An example stack as a user fills it (docs/gitops.md#fill-in-a-stack): real-looking account ids, networks
    and digests, `example: true` removed, so the Pulumi program accepts it."""
    text = yaml.safe_dump({k: v for k, v in raw.items() if k != "example"})
    for old, new in (
        ("111111111111", "480219735164"),
        ("222222222222", "480219735164"),
        ("203.0.113.0/24", "52.94.76.0/22"),
        ("0" * 64, "5f1b8c0d9e7a3b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c"),
    ):
        text = text.replace(old, new)
    filled_raw: dict[str, Any] = yaml.safe_load(text)
    return filled_raw
