"""The Seldon model class in-process: ranking, version tags, limits, metrics, and refusing bad bundles."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from seldon_core.flask_utils import SeldonMicroserviceException
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

from model.release.bundle import BundleInfo, write_bundle
from model.serving import telemetry
from model.serving.seldon_model import RankshipRanker
from model.serving.settings import ServingSettings

from .conftest import make_ranker


def _golden_request(golden: dict[str, Any], i: int = 0) -> tuple[dict[str, Any], dict[str, float]]:
    item = golden["requests"][i]
    return item["request"], item["scores"]


def _health_problem(ranker: RankshipRanker) -> str:
    """The 503 message of /health/status (SeldonMicroserviceException keeps it in `.message`)."""
    with pytest.raises(SeldonMicroserviceException) as caught:
        ranker.health_status_raw()
    assert (caught.value.status_code, caught.value.reason) == (503, "MICROSERVICE_NOT_READY")
    return str(caught.value.message)


def test_ranks_by_the_offline_scores(
    ranker: RankshipRanker, golden: dict[str, Any], bundle: BundleInfo
) -> None:
    request, offline = _golden_request(golden)
    answer = ranker.predict_raw({"jsonData": request})
    # Expected order straight from golden.json, which offline evaluation wrote.
    expected = sorted(offline, key=lambda cid: -offline[cid])
    assert [r["id"] for r in answer["jsonData"]["results"]] == expected
    for r in answer["jsonData"]["results"]:
        assert r["score"] == pytest.approx(offline[r["id"]], abs=golden["tolerance"]["absolute"])
    assert answer["jsonData"]["model_version"] == bundle.version == bundle.bundle_id[:12]
    assert answer["meta"]["tags"] == {"model_version": bundle.version, "bundle_id": bundle.bundle_id}


def test_top_k_cuts_the_ranking(ranker: RankshipRanker, golden: dict[str, Any]) -> None:
    request, offline = _golden_request(golden)
    answer = ranker.predict_raw({"jsonData": {**request, "top_k": 2}})
    assert [r["id"] for r in answer["jsonData"]["results"]] == sorted(offline, key=lambda c: -offline[c])[:2]


def test_ndarray_and_str_data_answer_in_kind(ranker: RankshipRanker, golden: dict[str, Any]) -> None:
    request, offline = _golden_request(golden)
    rows = [[request["query"], c["id"], c["title"], c.get("description", "")] for c in request["candidates"]]
    answer = ranker.predict_raw({"data": {"names": ["query", "id", "title", "description"], "ndarray": rows}})
    assert answer["data"]["names"] == ["id", "score"]
    assert [row[0] for row in answer["data"]["ndarray"]] == sorted(offline, key=lambda c: -offline[c])
    as_str = ranker.predict_raw({"strData": json.dumps(request)})
    assert json.loads(as_str["strData"])["model_version"] == ranker.version


def test_grpc_message_in_grpc_message_out(ranker: RankshipRanker, golden: dict[str, Any]) -> None:
    request, offline = _golden_request(golden, 1)
    answer = ranker.predict_raw(json_to_seldon_message({"jsonData": {**request, "top_k": 1.0}}))
    assert isinstance(answer, prediction_pb2.SeldonMessage)
    as_json = seldon_message_to_json(answer)
    assert as_json["jsonData"]["results"][0]["id"] == max(offline, key=lambda c: offline[c])
    assert as_json["meta"]["tags"]["model_version"] == ranker.version


def test_bad_input_is_a_400_status_with_its_reason_counted(ranker: RankshipRanker) -> None:
    answer = ranker.predict_raw({"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}] * 2}})
    assert answer["status"] == {
        "code": 400,
        "info": "jsonData.candidates[1].id 'a' repeats candidates[0].id",
        "reason": "MICROSERVICE_BAD_DATA",
        "status": "FAILURE",
    }
    assert answer["meta"]["tags"]["model_version"] == ranker.version
    version = {"bundle_version": ranker.version}
    assert answer["meta"]["metrics"] == [
        {
            "type": "COUNTER",
            "key": "rankship_errors",
            "value": 1,
            "tags": {**version, "reason": "duplicate_id", "code": "400"},
        },
        {"type": "COUNTER", "key": "rankship_requests", "value": 1, "tags": version},
    ]


def test_limits_come_from_the_settings(ranker: RankshipRanker) -> None:
    nine = [{"id": str(i), "title": "t"} for i in range(9)]
    assert (
        "less than or equal to 8 items"
        in ranker.predict_raw({"jsonData": {"query": "q", "candidates": nine}})["status"]["info"]
    )
    long_title = [{"id": "a", "title": "x" * 65}]
    answer = ranker.predict_raw({"jsonData": {"query": "q", "candidates": long_title}})
    assert (
        answer["status"]["info"]
        == "jsonData.candidates[0].title must be shorter than or equal to 64 characters"
    )


def test_request_metrics_count_candidates_and_scores(ranker: RankshipRanker) -> None:
    cands = [{"id": str(i), "title": f"product {i}"} for i in range(5)]
    answer = ranker.predict_raw({"jsonData": {"query": "q", "candidates": cands}})
    scores = np.array([r["score"] for r in answer["jsonData"]["results"]])
    by_key: dict[tuple[str, str], float] = {}
    for m in answer["meta"]["metrics"]:
        by_key[(m["key"], m["tags"].get("le", ""))] = m["value"]
        assert m["tags"]["bundle_version"] == ranker.version
    assert by_key[("rankship_requests", "")] == 1
    assert by_key[("rankship_candidates", "")] == 5
    assert 0 < by_key[("rankship_inference_seconds", "")] < 10_000  # milliseconds, as Seldon's TIMER wants
    # The fixture's edges are -1, 0, 1: cumulative counts, zero counts omitted (see telemetry).
    for le, edge in (("-1.0", -1.0), ("0.0", 0.0), ("1.0", 1.0), ("+Inf", np.inf)):
        count = int((scores <= edge).sum())
        assert by_key.get(("rankship_scores", le), 0) == count


def test_score_histogram_worked_by_hand() -> None:
    metrics = telemetry.request_metrics(
        "v", 2.5, np.array([0.5, -2.0, 0.5, 3.0], np.float32), [-1.0, 0.0, 1.0]
    )
    scores = {m["tags"]["le"]: m["value"] for m in metrics if m["key"] == "rankship_scores"}
    # <= -1: {-2}; <= 0: {-2}; <= 1: {-2, .5, .5}; all: 4.
    assert scores == {"-1.0": 1, "0.0": 1, "1.0": 3, "+Inf": 4}


def test_health_reports_ready_with_the_version(ranker: RankshipRanker, bundle: BundleInfo) -> None:
    status = ranker.health_status_raw()
    assert (status["status"], status["model_version"], status["bundle_id"]) == (
        "ready",
        bundle.version,
        bundle.bundle_id,
    )
    assert status["golden"]["max_abs_diff"] <= 1e-3


def test_not_ready_before_load(bundle: BundleInfo) -> None:
    fresh = RankshipRanker(ServingSettings(bundle=bundle.path))
    assert _health_problem(fresh) == "not loaded yet"
    answer = fresh.predict_raw({"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}]}})
    assert answer["status"]["code"] == 503
    assert answer["meta"]["metrics"][0]["tags"] == {
        "bundle_version": "unknown",
        "reason": "not_ready",
        "code": "503",
    }


@pytest.mark.parametrize("damage", ["tamper", "delete", "extra"])
def test_refuses_a_damaged_bundle_naming_the_file(
    bundle_copy: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    if damage == "tamper":
        with open(bundle_copy / "model.tflite", "r+b") as f:
            f.seek(100)
            f.write(b"\x00\x01\x02")
        expected = "model.tflite: sha256 does not match MANIFEST"
    elif damage == "delete":
        (bundle_copy / "tokenizer.json").unlink()
        expected = "tokenizer.json: listed in MANIFEST but missing"
    else:
        (bundle_copy / "notes.txt").write_text("hi")
        expected = "notes.txt: present but not listed in MANIFEST"
    with caplog.at_level(logging.ERROR):
        ranker = make_ranker(bundle_copy)
    assert not ranker.ready
    assert expected in caplog.text
    assert expected in _health_problem(ranker)


def test_refuses_when_golden_parity_fails(
    bundle: BundleInfo, golden: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    off = json.loads(json.dumps(golden))
    first_id = next(iter(off["requests"][0]["scores"]))
    off["requests"][0]["scores"][first_id] += 0.5  # far outside the 1e-3 tolerance
    contents: dict[str, bytes | Path] = {name: bundle.path / name for name in bundle.files}
    contents["golden.json"] = json.dumps(off).encode()
    rebuilt = write_bundle(contents, tmp_path)  # a valid MANIFEST: only parity can catch it
    with caplog.at_level(logging.ERROR):
        ranker = make_ranker(rebuilt.path)
    assert not ranker.ready
    assert f"golden parity failed: requests[0] candidate {first_id!r}" in caplog.text
    assert "> tolerance 0.001" in caplog.text


def test_refuses_a_missing_bundle_and_bad_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ranker = make_ranker(tmp_path / "nowhere")
    assert "nowhere/MANIFEST: missing; not a rankship bundle" in _health_problem(ranker)
    monkeypatch.setenv("RANKSHIP_MAX_CANDIDATES", "lots")
    from_env = RankshipRanker()
    from_env.load()
    assert "RANKSHIP_MAX_CANDIDATES='lots': not an integer" in _health_problem(from_env)


def test_metadata_publishes_the_contract(ranker: RankshipRanker) -> None:
    meta = ranker.init_metadata()
    assert meta["inputs"][0]["schema"]["properties"]["candidates"]["maxItems"] == 8
    assert [o["messagetype"] for o in meta["outputs"]] == ["jsonData", "strData", "ndarray"]


def test_golden_replay_ignores_the_deployment_limits(bundle: BundleInfo) -> None:
    # Golden requests hold real catalog text; tight request limits must not block readiness.
    tight = make_ranker(bundle.path, max_candidates=1, max_text_chars=3)
    assert tight.ready
    answer = tight.predict_raw({"jsonData": {"query": "long", "candidates": [{"id": "a", "title": "t"}]}})
    assert answer["status"]["info"] == "jsonData.query must be shorter than or equal to 3 characters"


def test_an_unexpected_exception_is_a_500_counted_with_the_next_answer(
    bundle: BundleInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranker = make_ranker(bundle.path, max_candidates=4)
    request = {"jsonData": {"query": "q", "candidates": [{"id": "a", "title": "t"}]}}
    assert ranker.scorer is not None
    monkeypatch.setattr(ranker.scorer, "invoke", lambda tokens: np.array([np.nan], np.float32))
    with pytest.raises(RuntimeError, match="non-finite score"):
        ranker.predict_raw(request)  # Seldon turns this into its 500
    monkeypatch.undo()
    errors = [m for m in ranker.predict_raw(request)["meta"]["metrics"] if m["key"] == "rankship_errors"]
    assert [(m["tags"]["reason"], m["tags"]["code"], m["value"]) for m in errors] == [("internal", "500", 1)]


def test_served_score_is_the_model_plus_the_weighted_bm25_of_lexical_json(
    ranker: RankshipRanker, golden: dict[str, Any], bundle: BundleInfo
) -> None:
    from model.text.lexical import LexicalIndex
    from model.text.tokenizer import product_text

    lexical = LexicalIndex.from_json((bundle.path / "lexical.json").read_text(encoding="utf-8"))
    assert lexical.weight > 0  # the fixture ships the sum, as the pipeline does
    request, _ = _golden_request(golden)
    texts = [product_text(c["title"], c.get("description")) for c in request["candidates"]]
    scorer = ranker.scorer
    assert scorer is not None
    model = scorer.invoke(scorer.tokens(request["query"], texts))
    bm25 = lexical.scores(request["query"], texts)
    assert bm25.max() > 0  # the query's words are in the catalog: the term is not a no-op here
    answer = ranker.predict_raw({"jsonData": request})
    served = {r["id"]: r["score"] for r in answer["jsonData"]["results"]}
    for c, m, b in zip(request["candidates"], model, bm25, strict=True):
        assert served[c["id"]] == pytest.approx(float(m) + lexical.weight * float(b), abs=1e-5)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{", "lexical.json: not valid JSON"),
        (
            b'{"format": "rankship-lexical", "version": 1, "k1": 1.2, "b": 0.75, "weight": -2, '
            b'"documents": 3, "average_length": 2.0, "df": {}}',
            "lexical.json: weight must be >= 0, got -2",
        ),
    ],
)
def test_refuses_a_bad_lexical_json_naming_it(
    bundle: BundleInfo, tmp_path: Path, payload: bytes, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    contents: dict[str, bytes | Path] = {name: bundle.path / name for name in bundle.files}
    contents["lexical.json"] = payload
    rebuilt = write_bundle(contents, tmp_path)  # a valid MANIFEST: only reading the file can catch it
    with caplog.at_level(logging.ERROR):
        ranker = make_ranker(rebuilt.path)
    assert not ranker.ready
    assert expected in _health_problem(ranker)


def test_a_bundle_without_lexical_json_serves_the_model_score(
    ranker: RankshipRanker, golden: dict[str, Any], bundle: BundleInfo, tmp_path: Path
) -> None:
    from model.text.tokenizer import product_text

    scorer = ranker.scorer
    assert scorer is not None
    alone = json.loads(json.dumps(golden))
    for item in alone["requests"]:
        request = item["request"]
        texts = [product_text(c["title"], c.get("description")) for c in request["candidates"]]
        model = scorer.invoke(scorer.tokens(request["query"], texts))
        item["scores"] = {c["id"]: float(m) for c, m in zip(request["candidates"], model, strict=True)}
    contents: dict[str, bytes | Path] = {n: bundle.path / n for n in bundle.files if n != "lexical.json"}
    contents["golden.json"] = json.dumps(alone).encode()
    older = make_ranker(write_bundle(contents, tmp_path).path)
    assert older.ready  # an older bundle (no lexical.json): golden parity on the model's own scores
    request, offline = _golden_request(alone)
    served = {r["id"]: r["score"] for r in older.predict_raw({"jsonData": request})["jsonData"]["results"]}
    assert served == pytest.approx(offline, abs=1e-6)
