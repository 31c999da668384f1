"""The serving specs against the runtime they deploy (model/serving/): the variables it reads, its uid and
ports, its health routes, the series and labels it exposes.

The runtime lives in its own virtualenv (seldon-core pins clash with this one), so its contract is read from
its source files: a rename on either side fails here rather than in a cluster.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from types import ModuleType
from typing import Any

import pytest

from infra.settings.serving import DEFAULT_SCORE_BUCKETS
from infra.settings.stack import SettingsError, StackSettings
from infra.specs import naming as n
from infra.specs.addons import addon_charts
from infra.specs.dashboard import dashboard
from infra.specs.monitoring import pod_monitor, prometheus_rule
from infra.specs.outages import EXTERNAL_SERIES
from infra.specs.seldon import seldon_deployment
from tests.infra.infra_stacks import ROOT, raw_settings, settings_of

SERVING = ROOT / "model" / "serving"
EXECUTOR_SERIES = re.compile(r"seldon_api_executor_server_requests_seconds_(bucket|count|sum)")


def source(name: str) -> str:
    return (SERVING / name).read_text(encoding="utf-8")


def _constants(text: str) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in ast.parse(text).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }


def runtime_series() -> set[str]:
    """Prometheus names of the runtime's Seldon custom metrics: COUNTER k -> k_total, TIMER k -> histogram,
    GAUGE k -> k; from telemetry.py (requests), feedback.py (user feedback) and offline_scores.py."""
    text = source("telemetry.py")
    constants = _constants(text)
    counters = set(re.findall(r"_counter\(([A-Z]+),", text))
    timers = set(re.findall(r'"type": "TIMER", "key": ([A-Z_]+)', text))
    assert counters and timers, "telemetry.py no longer reads as expected: update this parser"
    histogram = {constants[t] + suffix for t in timers for suffix in ("_bucket", "_sum", "_count")}
    series = {constants[c] + "_total" for c in counters} | histogram
    fb = source("feedback.py")
    fb_counters = set(re.findall(r"_counter\(([A-Z_]+),", fb))
    assert fb_counters, "feedback.py no longer reads as expected: update this parser"
    series |= {_constants(fb)[c] + "_total" for c in fb_counters}
    offline = source("offline_scores.py")
    gauges = set(re.findall(r'"type": "GAUGE", "key": ([A-Z_]+)', offline))
    assert gauges, "offline_scores.py no longer reads as expected: update this parser"
    return series | {_constants(offline)[g] for g in gauges}


def model_container(settings: StackSettings, track: str = "stable") -> dict[str, Any]:
    (predictor,) = [
        p for p in seldon_deployment(settings, settings.models[0])["spec"]["predictors"] if p["name"] == track
    ]
    container: dict[str, Any] = predictor["componentSpecs"][0]["spec"]["containers"][0]
    return container


def env_of(settings: StackSettings) -> dict[str, str]:
    return {e["name"]: e["value"] for e in model_container(settings)["env"]}


def with_runtime(stack: str, **runtime: Any) -> dict[str, Any]:
    raw = raw_settings(stack)
    raw["models"][0]["runtime"] = runtime
    return raw


def test_the_container_sets_only_variables_the_runtime_reads() -> None:
    read = set(re.findall(r'"(RANKSHIP_[A-Z_]+)"', source("settings.py")))
    # gunicorn's are read by seldon-core-microservice; the image declares them with its defaults.
    read |= set(re.findall(r"\b(GUNICORN_[A-Z]+)=", source("Dockerfile")))
    assert {"RANKSHIP_BUNDLE", "GUNICORN_WORKERS"} <= read
    settings = settings_of(with_runtime("dev", max_candidates=500, max_text_chars=4096, litert_threads=2))
    env = env_of(settings)
    assert set(env) <= read, set(env) - read
    assert env["RANKSHIP_BUNDLE"] == n.BUNDLE_MOUNT == "/mnt/models"


def test_one_worker_per_requested_core_and_one_thread() -> None:
    # dev requests 250m (rounded up to one core), staging 2, prod 4.
    for stack, workers in (("dev", "1"), ("staging", "2"), ("prod", "4")):
        env = env_of(settings_of(raw_settings(stack)))
        assert (env["GUNICORN_WORKERS"], env["GUNICORN_THREADS"]) == (workers, "1"), stack


def test_runtime_settings_become_variables_and_unset_ones_keep_the_image_defaults() -> None:
    env = env_of(settings_of(with_runtime("prod", workers=3, threads=2, max_candidates=500)))
    assert (env["GUNICORN_WORKERS"], env["GUNICORN_THREADS"], env["RANKSHIP_MAX_CANDIDATES"]) == (
        "3",
        "2",
        "500",
    )
    assert not {"RANKSHIP_MAX_TEXT_CHARS", "RANKSHIP_MAX_REQUEST_BYTES"} & set(env)


def test_litert_threads_share_the_cpu_limit_among_the_workers() -> None:
    # dev: limit 1 core, 1 worker -> 1; staging: limit 4, 2 workers -> 2; prod: limit 6, 4 workers -> 1.
    for stack, threads in (("dev", "1"), ("staging", "2"), ("prod", "1")):
        assert env_of(settings_of(raw_settings(stack)))["RANKSHIP_LITERT_THREADS"] == threads, stack
    # prod's limit of 6 cores over 3 workers: 2 each; a number in the settings wins.
    assert env_of(settings_of(with_runtime("prod", workers=3)))["RANKSHIP_LITERT_THREADS"] == "2"
    assert env_of(settings_of(with_runtime("prod", litert_threads=3)))["RANKSHIP_LITERT_THREADS"] == "3"


@pytest.mark.parametrize(("key", "value"), [("workers", 0), ("max_candidates", -1), ("threads", 17)])
def test_bad_runtime_settings_are_rejected_naming_the_key(key: str, value: int) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_of(with_runtime("dev", **{key: value}), "Pulumi.dev.yaml")
    assert [p.split(":")[0] for p in caught.value.problems] == [f"models[0].runtime.{key}"]


def runtime_settings() -> ModuleType:
    """model/serving/settings.py on its own (it imports only the standard library), not the runtime package."""
    name = "rankship_runtime_settings"
    spec = importlib.util.spec_from_file_location(name, SERVING / "settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "edges", [None, [-2, -0.5, 0, 0.1, 1.25, 3], [x / 8 for x in range(64)]], ids=["default", "odd", "64"]
)
def test_the_runtime_reads_back_exactly_the_score_buckets_of_the_settings(edges: list[float] | None) -> None:
    settings = settings_of(with_runtime("dev") if edges is None else with_runtime("dev", score_buckets=edges))
    served = runtime_settings().ServingSettings.from_env(env_of(settings)).score_buckets
    assert served == settings.models[0].runtime.score_buckets == tuple(edges or DEFAULT_SCORE_BUCKETS)


def test_the_default_score_buckets_are_every_half_unit_from_minus_8_to_8() -> None:
    edges = DEFAULT_SCORE_BUCKETS
    assert (len(edges), edges[0], edges[1], edges[-1]) == (33, -8.0, -7.5, 8.0)
    assert env_of(settings_of(raw_settings("prod")))["RANKSHIP_SCORE_BUCKETS"].startswith("-8.0,-7.5,-7.0,")


def test_every_predictor_of_a_model_shares_the_score_buckets() -> None:
    raw = with_runtime("staging", score_buckets=[-1, 0, 1])
    raw["models"][0]["canary"]["image"] = "ghcr.io/rankship/ranker-serving@sha256:" + "f" * 64
    settings = settings_of(raw)
    values = {t: model_container(settings, t)["env"] for t in ("stable", "canary")}
    assert model_container(settings, "canary")["image"] != model_container(settings, "stable")["image"]
    for env in values.values():
        assert {"name": "RANKSHIP_SCORE_BUCKETS", "value": "-1.0,0.0,1.0"} in env


@pytest.mark.parametrize(
    ("edges", "key", "why"),
    [
        ([1.0], "score_buckets", "needs 2 to 64 bucket edges, got 1"),
        ([float(x) for x in range(65)], "score_buckets", "needs 2 to 64 bucket edges, got 65"),
        ([0, 1, 1, 2], "score_buckets", "bucket edges must strictly increase, got [0.0, 1.0, 1.0, 2.0]"),
        ([1, 0], "score_buckets", "bucket edges must strictly increase"),
        ([0, float("inf")], "score_buckets[1]", "Input should be a finite number"),
        (["0.5", 1], "score_buckets[0]", "Input should be a valid number"),
        ("-1,0,1", "score_buckets", "Input should be a valid tuple"),
    ],
)
def test_bad_score_buckets_are_rejected_naming_the_key(edges: Any, key: str, why: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_of(with_runtime("dev", score_buckets=edges), "Pulumi.dev.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith(f"models[0].runtime.{key}: {why}"), problem


def test_the_container_runs_as_the_image_user() -> None:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", source("Dockerfile"), re.MULTILINE)
    context = model_container(settings_of(raw_settings("prod")))["securityContext"]
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user == ("10001", "10001")


def test_the_container_ports_are_the_ones_the_image_exposes() -> None:
    (exposed,) = re.findall(r"^EXPOSE ([\d ]+)$", source("Dockerfile"), re.MULTILINE)
    ports = {
        p["name"]: p["containerPort"] for p in model_container(settings_of(raw_settings("dev")))["ports"]
    }
    assert ports == {"http": 9000, "grpc": 5000, n.METRICS_PORT_NAME: 6000}
    assert set(ports.values()) == {int(p) for p in exposed.split()}


@pytest.mark.parametrize("track", ["stable", "canary"])
def test_readiness_waits_for_the_verified_bundle_and_liveness_for_the_process(track: str) -> None:
    container = model_container(settings_of(raw_settings("staging")), track)
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/status", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/ping", "port": "http"}
    # A busy pod answers pings late: a restart takes a minute of silence, readiness reacts within 15 s.
    live, ready = container["livenessProbe"], container["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 15


def test_tmp_is_a_memory_backed_empty_dir_on_a_read_only_root() -> None:
    settings = settings_of(raw_settings("dev"))
    predictor = seldon_deployment(settings, settings.models[0])["spec"]["predictors"][0]
    pod = predictor["componentSpecs"][0]["spec"]
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"]["medium"] == "Memory" and "sizeLimit" in tmp["emptyDir"]
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_the_operator_gives_the_runtime_the_path_and_port_the_pod_monitor_scrapes() -> None:
    settings = settings_of(raw_settings("prod"))
    (seldon,) = [c for c in addon_charts(settings) if c.chart == "seldon-core-operator"]
    (endpoint,) = pod_monitor(settings)["spec"]["podMetricsEndpoints"]
    # executor.prometheus.path becomes the wrapper's PREDICTIVE_UNIT_METRICS_ENDPOINT as well.
    assert seldon.values["executor"]["prometheus"]["path"] == endpoint["path"] == "/prometheus"
    assert seldon.values["predictiveUnit"]["metricsPortName"] == endpoint["port"]
    assert seldon.values["executor"]["metricsPortName"] == endpoint["port"]


def queries(settings: StackSettings) -> list[str]:
    model = settings.models[0]
    groups = prometheus_rule(settings, model)["spec"]["groups"]
    rules = [r["expr"] for g in groups for r in g["rules"]]
    return rules + [t["expr"] for p in dashboard(settings, model)["panels"] for t in p["targets"]]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rules_and_dashboard_read_only_series_the_runtime_and_executor_expose(stack: str) -> None:
    settings = settings_of(raw_settings(stack))
    groups = prometheus_rule(settings, settings.models[0])["spec"]["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    read = {name for q in queries(settings) for name in re.findall(r"([a-zA-Z_:][\w:]*)\{", q)}
    outside = {name for name in read if EXECUTOR_SERIES.fullmatch(name) or name in EXTERNAL_SERIES}
    raw = read - recorded - outside
    assert raw and raw <= runtime_series(), raw - runtime_series()
    assert {"rankship_scores_total", "rankship_inference_seconds_bucket"} <= raw


def test_versions_are_told_apart_by_bundle_version_never_by_seldons_model_version() -> None:
    assert f'"{n.BUNDLE_VERSION_LABEL}"' in source("telemetry.py")
    exprs = queries(settings_of(raw_settings("dev")))
    assert not [q for q in exprs if "model_version" in q]
    assert sum(n.BUNDLE_VERSION_LABEL in q for q in exprs) >= 5
