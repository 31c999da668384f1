"""PromQL, reading Prometheus answers (garbage included) and turning range queries into evaluations."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from infra.canary.measure import evaluation_times, measure, seconds
from infra.canary.prometheus import PrometheusError, Series, parse_answer
from infra.canary.queries import Target, queries
from infra.settings.serving import CanaryAnalysis

TARGET = Target("rankship-serving", "search-ranker", "a1a1a1a1a1a1", "b2b2b2b2b2b2")
ANALYSIS = CanaryAnalysis(interval="1m", window="2m", failure_threshold=3)
END = 1_800_000_000.0


def test_queries_select_both_versions_of_one_model_and_group_by_version() -> None:
    by_name = {q.name: q for q in queries(TARGET, "2m")}
    assert by_name["requests"].expr == (
        'sum by (bundle_version) (increase(rankship_requests_total{namespace="rankship-serving", '
        'rankship_model="search-ranker", bundle_version=~"a1a1a1a1a1a1|b2b2b2b2b2b2"}[2m]))'
    )
    assert 'code!~"4.."' in by_name["errors"].expr  # client mistakes are not the canary's errors
    assert by_name["p99"].expr.startswith("histogram_quantile(0.99, sum by (bundle_version, le) (rate(")
    # The executor's `predictor_version` is the predictor's `version` annotation: the bundle version.
    assert by_name["exec_requests"].key == "predictor_version"
    executor = 'deployment_name="search-ranker", predictor_version=~"a1a1a1a1a1a1|b2b2b2b2b2b2"'
    assert executor in by_name["exec_p99"].expr
    assert 'code=~"5..|Unknown|' in by_name["exec_errors"].expr


@pytest.mark.parametrize(("text", "value"), [("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800)])
def test_durations(text: str, value: int) -> None:
    assert seconds(text) == value


def test_evaluation_times_go_back_one_interval_each() -> None:
    assert evaluation_times(ANALYSIS, END) == [END, END - 60, END - 120]


def matrix(*series: dict[str, Any]) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": list(series)}})


def test_a_matrix_answer_is_read_and_nan_points_are_dropped() -> None:
    body = matrix({"metric": {"bundle_version": "b2"}, "values": [[END - 60, "NaN"], [END, "12.5"]]})
    [series] = parse_answer("q", 200, body)
    assert series.labels == {"bundle_version": "b2"} and series.points == {END: 12.5}


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, "<html>proxy login</html>", "not a Prometheus matrix answer"),
        (200, '{"status": "success", "data": {"resultType": "vector", "result": []}}', "resultType"),
        (200, matrix({"metric": {}, "values": [[END, "many"]]}), "value 'many'"),
        (200, matrix({"metric": {}, "values": [[END]]}), "not a Prometheus matrix answer"),
        (
            400,
            '{"status": "error", "errorType": "bad_data", "error": "parse error"}',
            "HTTP 400: bad_data: parse",
        ),
        (503, "Service Unavailable", "HTTP 503: 'Service Unavailable'"),
    ],
)
def test_garbage_is_an_error_naming_the_query(status: int, body: str, message: str) -> None:
    with pytest.raises(PrometheusError, match="query 'q'") as e:
        parse_answer("q", status, body)
    assert message in str(e.value)


class Recorder:
    """Answers each query from a table keyed by its name in `queries()`; records what was asked."""

    def __init__(self, answers: dict[str, list[Series]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, float, float, float]] = []
        self.by_expr = {q.expr: q.name for q in queries(TARGET, ANALYSIS.window, ANALYSIS.feedback_window)}

    def range_query(self, expr: str, start: float, end: float, step_s: float) -> list[Series]:
        self.calls.append((expr, start, end, step_s))
        return self.answers.get(self.by_expr[expr], [])


def test_measure_asks_one_range_query_per_measurement_and_splits_versions() -> None:
    c, s = {"bundle_version": "b2b2b2b2b2b2"}, {"bundle_version": "a1a1a1a1a1a1"}
    prom = Recorder(
        {
            "requests": [Series(c, {END: 300.0, END - 60: 280.0}), Series(s, {END: 2700.0, END - 120: 10.0})],
            "errors": [Series(c, {END: 3.0})],
            "p99": [Series(c, {END: 0.042}), Series(s, {END: 0.040})],
            "scores": [Series({**c, "le": "0.0"}, {END: 900.0}), Series({**c, "le": "+Inf"}, {END: 2400.0})],
            "exec_requests": [
                Series({"predictor_version": "b2b2b2b2b2b2"}, {END - 60: 290.0}),
                # A pod started before the annotation: no version, so no version's requests.
                Series({"predictor_version": ""}, {END - 60: 50.0}),
            ],
        }
    )
    newest, middle, oldest = measure(prom, TARGET, ANALYSIS, END)
    assert len(prom.calls) == 15  # model 4, executor 3, mesh 3, feedback 4, offline histogram 1
    assert {(start, end, step) for _, start, end, step in prom.calls} == {(END - 120, END, 60)}
    assert (newest.at, newest.canary.requests, newest.canary.errors, newest.canary.p99_s) == (
        END,
        300,
        3,
        0.042,
    )
    assert newest.canary.scores == {0.0: 900.0, math.inf: 2400.0}
    assert (newest.stable.requests, newest.stable.errors, newest.stable.scores) == (2700, None, {})
    assert (newest.canary.exec_requests, middle.canary.exec_requests, middle.stable.exec_requests) == (
        None,
        290,
        None,
    )
    assert (middle.canary.requests, middle.stable.requests) == (280, None)
    assert (oldest.canary.requests, oldest.stable.requests) == (None, 10)


def test_mesh_requests_that_found_no_pod_are_credited_by_their_service() -> None:
    # TARGET: model "search-ranker", canary b2b2b2b2b2b2 behind Service search-ranker-canary.
    canary = {"destination_service_name": "search-ranker-canary"}
    prom = Recorder(
        {
            "mesh_requests": [
                # Istio's revision is the pod label `version`: the track.
                Series({**canary, "destination_canonical_revision": "canary"}, {END: 40.0}),
                # 503 "no healthy upstream": no pod, so no revision, only the Service.
                Series({**canary, "destination_canonical_revision": "unknown"}, {END: 60.0}),
                # A pod labelled with another bundle version (older manifests) is nobody's here.
                Series({**canary, "destination_canonical_revision": "ffffffffffff"}, {END: 7.0}),
                Series({"destination_canonical_revision": "a1a1a1a1a1a1"}, {END: 900.0}),
            ],
            "mesh_errors": [Series({**canary, "destination_canonical_revision": "unknown"}, {END: 60.0})],
            "mesh_p99_ms": [Series({**canary, "destination_canonical_revision": "canary"}, {END: 12.0})],
        }
    )
    newest = measure(prom, TARGET, ANALYSIS, END)[0]
    assert (newest.canary.mesh_requests, newest.canary.mesh_errors, newest.canary.mesh_p99_s) == (
        100,
        60,
        0.012,
    )
    assert newest.stable.mesh_requests == 900  # a pod labelled with its bundle version counts as that version


def test_feedback_and_the_offline_histogram_per_version() -> None:
    c, s = {"bundle_version": "b2b2b2b2b2b2"}, {"bundle_version": "a1a1a1a1a1a1"}
    prom = Recorder(
        {
            "feedback": [Series(c, {END: 250.0}), Series(s, {END: 2000.0})],
            "clicked": [Series(c, {END: 100.0})],
            "rr_sum": [Series(c, {END: 60.0})],
            "rr_sq_sum": [Series(c, {END: 45.0})],
            "offline": [Series({**c, "le": "1.5"}, {END: 36.0}), Series({**c, "le": "+Inf"}, {END: 72.0})],
        }
    )
    newest = measure(prom, TARGET, ANALYSIS, END)[0]
    assert newest.canary.feedback is not None and newest.canary.feedback.ctr == 0.4
    assert newest.canary.offline == {1.5: 36.0, math.inf: 72.0}
    # Stable had impressions but no clicks yet: its click counters do not exist, and count as 0.
    assert newest.stable.feedback is not None and (
        newest.stable.feedback.ctr,
        newest.stable.feedback.mrr,
    ) == (0, 0)
    assert newest.stable.offline == {}


def test_two_series_for_one_version_is_garbage() -> None:
    c = {"bundle_version": "b2b2b2b2b2b2"}
    prom = Recorder({"requests": [Series(c, {END: 1.0}), Series(c, {END: 2.0})]})
    with pytest.raises(PrometheusError, match="2 series for bundle_version='b2b2b2b2b2b2'"):
        measure(prom, TARGET, ANALYSIS, END)


def test_a_score_bucket_without_a_numeric_bound_is_garbage() -> None:
    c = {"bundle_version": "b2b2b2b2b2b2", "le": "high"}
    with pytest.raises(PrometheusError, match="le='high'"):
        measure(Recorder({"scores": [Series(c, {END: 1.0})]}), TARGET, ANALYSIS, END)
