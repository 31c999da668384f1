"""Test-only fault injection (`model.serving.faults`): read once, and on the real request path."""

from __future__ import annotations

import time
from typing import Any

import pytest

from model.release.bundle import BundleInfo
from model.serving.faults import INJECTED, Faults, FaultyRanker
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings, SettingsError


def test_faults_come_from_the_environment_once() -> None:
    env = {"RANKSHIP_FAULT_LATENCY_MS": "250", "RANKSHIP_FAULT_ERROR_EVERY": "3"}
    assert Faults.from_env(env) == Faults(latency_ms=250, error_every=3)
    assert Faults.from_env({}) == Faults()


@pytest.mark.parametrize("raw", ["slow", "-1", "1.5"])
def test_a_bad_fault_value_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match=f"RANKSHIP_FAULT_LATENCY_MS={raw!r}"):
        Faults.from_env({"RANKSHIP_FAULT_LATENCY_MS": raw})


def test_the_production_class_has_no_faults() -> None:
    assert not hasattr(RankshipRanker, "faults")
    assert "fault" not in RankshipRanker.rank.__code__.co_names


def _faulty(bundle: BundleInfo, faults: Faults) -> FaultyRanker:
    ranker = FaultyRanker(ServingSettings(bundle=bundle.path, max_candidates=8), faults)
    ranker.load()
    assert ranker.ready
    return ranker


def _request(golden: dict[str, Any]) -> dict[str, Any]:
    return {"jsonData": golden["requests"][0]["request"]}


def test_every_nth_request_is_a_counted_server_error(bundle: BundleInfo, golden: dict[str, Any]) -> None:
    ranker = _faulty(bundle, Faults(error_every=2))
    first, second = ranker.predict_raw(_request(golden)), ranker.predict_raw(_request(golden))
    assert "status" not in first
    assert second["status"]["code"] == 500
    metrics = {
        (m["key"], m["tags"].get("reason"), m["tags"].get("code")): m["value"]
        for m in second["meta"]["metrics"]
    }
    assert metrics[("rankship_errors", INJECTED, "500")] == 1  # a server error: it counts against the canary


def test_latency_is_inside_the_models_timer(bundle: BundleInfo, golden: dict[str, Any]) -> None:
    ranker = _faulty(bundle, Faults(latency_ms=120))
    start = time.perf_counter()
    answer = ranker.predict_raw(_request(golden))
    assert time.perf_counter() - start >= 0.12
    [timer] = [m for m in answer["meta"]["metrics"] if m["type"] == "TIMER"]
    assert timer["value"] >= 120  # milliseconds
