"""Canary tests: a writable copy of the fixture stack, and hand-made measurements."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.settings.stack import StackSettings, load_stack_settings  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "Pulumi.canary.yaml"
STACK = "canary"


@pytest.fixture
def stack_root(tmp_path: Path) -> Path:
    """A repository root holding only `Pulumi.canary.yaml` (tests write here, never into the checkout)."""
    shutil.copy(FIXTURE, tmp_path / FIXTURE.name)
    return tmp_path


@pytest.fixture
def settings() -> StackSettings:
    return load_stack_settings(STACK, FIXTURE.parent)
