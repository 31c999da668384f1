"""The bundle's offline score histogram: its edges bin the live scores, its counts are exported once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.utils import floatToGoString

from model.release.bundle import BundleInfo, write_bundle
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings


def _with_histogram(bundle: BundleInfo, root: Path, histogram: Any) -> Path:
    contents: dict[str, bytes | Path] = {name: bundle.path / name for name in bundle.files}
    contents["score_histogram.json"] = json.dumps(histogram).encode()
    return write_bundle(contents, root).path


def _load(path: Path) -> RankshipRanker:
    ranker = RankshipRanker(ServingSettings(bundle=path, max_candidates=8, score_buckets=(-100.0, 100.0)))
    ranker.load()
    return ranker


def test_live_scores_use_the_bundle_edges_and_the_reference_is_sent_once(
    bundle: BundleInfo, golden: dict[str, Any], tmp_path: Path
) -> None:
    item = golden["requests"][0]
    scores = sorted(item["scores"].values())
    middle = (scores[0] + scores[-1]) / 2  # one edge between the lowest and the highest golden score
    path = _with_histogram(
        bundle, tmp_path, {"split": "valid", "scores": 10, "edges": [middle], "counts": [4, 6]}
    )
    ranker = _load(path)
    assert ranker.ready
    first = ranker.predict_raw({"jsonData": item["request"]})["meta"]["metrics"]
    offline = {m["tags"]["le"]: m["value"] for m in first if m["key"] == "rankship_offline_scores"}
    assert all(m["type"] == "GAUGE" for m in first if m["key"] == "rankship_offline_scores")
    label = floatToGoString(middle)  # Prometheus float formatting, as telemetry writes `le`
    assert offline == {label: 4, "+Inf": 10}  # cumulative: 4 at or below the edge, 10 in all
    live = {m["tags"]["le"]: m["value"] for m in first if m["key"] == "rankship_scores"}
    below = sum(1 for s in item["scores"].values() if s <= middle)
    assert live == {label: below, "+Inf": len(scores)}  # the bundle's edge, not the settings' -100/100
    second = ranker.predict_raw({"jsonData": item["request"]})["meta"]["metrics"]
    assert not [m for m in second if m["key"] == "rankship_offline_scores"]


@pytest.mark.parametrize(
    ("histogram", "names"),
    [
        ({"edges": [], "counts": [1]}, "edges must be a non-empty list"),
        ({"edges": [1.0, 0.5], "counts": [1, 1, 1]}, "strictly increasing"),
        ({"edges": [0.0], "counts": [1]}, "len(edges) + 1 = 2"),
        ({"edges": [0.0], "counts": [0, 0]}, "not all 0"),
    ],
)
def test_a_malformed_histogram_keeps_the_model_unready(
    bundle: BundleInfo, tmp_path: Path, histogram: dict[str, Any], names: str
) -> None:
    ranker = _load(_with_histogram(bundle, tmp_path, histogram))
    assert not ranker.ready
    assert "score_histogram.json" in ranker._problem and names in ranker._problem
