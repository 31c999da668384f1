"""Fixtures for the in-process tests of the serving class (serving virtualenv).

The bundle comes from RANKSHIP_TEST_BUNDLE (the Makefile builds it with tests/model/serving/fixture_bundle.py
in the main virtualenv, which has TensorFlow); without it these tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from model.release.bundle import BundleInfo, verify_bundle
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings


@pytest.fixture(scope="session")
def bundle() -> BundleInfo:
    path = os.environ.get("RANKSHIP_TEST_BUNDLE")
    if not path:
        pytest.skip("RANKSHIP_TEST_BUNDLE is not set (make test-serving-unit builds a fixture bundle)")
    return verify_bundle(Path(path))


@pytest.fixture(scope="session")
def golden(bundle: BundleInfo) -> dict[str, Any]:
    return json.loads((bundle.path / "golden.json").read_text(encoding="utf-8"))


def make_ranker(bundle_path: Path, **limits: Any) -> RankshipRanker:
    ranker = RankshipRanker(ServingSettings(bundle=bundle_path, **limits))
    ranker.load()
    return ranker


@pytest.fixture(scope="session")
def ranker(bundle: BundleInfo) -> RankshipRanker:
    # Small limits so that limit tests stay small; warm-up scores max_candidates rows.
    ranker = make_ranker(bundle.path, max_candidates=8, max_text_chars=64, score_buckets=(-1.0, 0.0, 1.0))
    assert ranker.ready, ranker.health_status_raw
    return ranker


@pytest.fixture
def bundle_copy(bundle: BundleInfo, tmp_path: Path) -> Path:
    """A private copy to tamper with."""
    return Path(shutil.copytree(bundle.path, tmp_path / bundle.bundle_id))
