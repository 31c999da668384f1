"""Fixtures for the serving tests that run in the main virtualenv against real processes.

They need the serving virtualenv (`make serving-venv`) and skip without it. The bundle is built here
(TensorFlow is in this virtualenv) unless RANKSHIP_TEST_BUNDLE names one already built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.release.bundle import BundleInfo, verify_bundle
from tests.model.serving.fixture_bundle import build_fixture_bundle
from tests.model.serving.serving_process import SERVING_PYTHON, ServingProcess


@pytest.fixture(scope="session")
def serving_python() -> Path:
    if not SERVING_PYTHON.exists():
        pytest.skip(f"{SERVING_PYTHON} missing: run `make serving-venv` first")
    return SERVING_PYTHON


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> BundleInfo:
    given = os.environ.get("RANKSHIP_TEST_BUNDLE")
    if given:
        return verify_bundle(Path(given))
    return build_fixture_bundle(tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="session")
def golden(bundle: BundleInfo) -> dict[str, Any]:
    return json.loads((bundle.path / "golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def server(
    serving_python: Path, bundle: BundleInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServingProcess]:
    """One microservice for the e2e and fuzz tests, with small limits so oversized input stays cheap."""
    log = tmp_path_factory.mktemp("server") / "seldon.log"
    env = {
        "RANKSHIP_MAX_CANDIDATES": "50",
        "RANKSHIP_MAX_TEXT_CHARS": "200",
        "RANKSHIP_MAX_REQUEST_BYTES": "65536",
    }
    proc = ServingProcess(bundle.path, log, env=env).start()
    try:
        proc.wait(ready=True)
        yield proc
    finally:
        proc.stop()
