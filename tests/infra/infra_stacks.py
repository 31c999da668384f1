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

from infra.settings.stack import SETTINGS_KEY, StackSettings, parse_settings  # noqa: E402

STACKS = ("dev", "staging", "prod")
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"


def raw_settings(stack: str) -> dict[str, Any]:
    """A fresh, mutable copy of `rankship:settings` from Pulumi.<stack>.yaml."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(document["config"][SETTINGS_KEY])


def settings_of(raw: dict[str, Any], source: str = "test") -> StackSettings:
    return parse_settings(raw, source)
