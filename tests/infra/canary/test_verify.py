"""`python -m infra.live.verify`: rollout wait, golden requests through an ingress, drift — on objects shaped like
the API server's answers (no cluster here) and a local HTTP server standing in for the Istio ingress."""

from __future__ import annotations

import argparse
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.gitops.manifests import ObjectKey, load_objects, object_key
from infra.gitops.render import render_stack, write_atomically
from infra.live.drift import field_differences
from infra.live.verify import CANDIDATES, check_answer, golden_requests, run, wait_rolled_out
from infra.settings.stack import StackSettings
from tests.infra.canary.conftest import STACK

STABLE, CANARY = "a1a1a1a1a1a1", "b2b2b2b2b2b2"


class FakeCluster:
    """Answers like the API server would, from the rendered objects plus what the operator adds."""

    def __init__(self, objects: dict[ObjectKey, dict[str, Any]], states: list[str] | None = None) -> None:
        self.objects = copy.deepcopy(objects)
        for obj in self.objects.values():
            obj["metadata"].update({"uid": "0c1d", "resourceVersion": "42", "managedFields": []})
        self.states = states or ["Available"]
        self.polls: dict[str, int] = {}  # SeldonDeployment name -> reads so far

    def seldon_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = next(
            (o for k, o in self.objects.items() if k.kind == "SeldonDeployment" and k.name == name), None
        )
        if found is not None:
            n = self.polls[name] = self.polls.get(name, 0) + 1
            found["status"] = {"state": self.states[min(n, len(self.states)) - 1]}
        return found

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(ObjectKey(api_version, kind, namespace or "", name))

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str
    ) -> list[dict[str, Any]]:
        return [
            o
            for k, o in self.objects.items()
            if (k.api_version, k.kind, k.namespace) == (api_version, kind, namespace or "")
        ]


@pytest.fixture
def rendered(stack_root: Path) -> dict[ObjectKey, dict[str, Any]]:
    files = render_stack(STACK, stack_root)
    write_atomically(stack_root / "manifests" / STACK, files)
    return load_objects(files)


def args(root: Path, **extra: Any) -> argparse.Namespace:
    base = {"stack": STACK, "root": root, "timeout": 0.0, "poll": 0.0, "ingress": None, "drift": False}
    return argparse.Namespace(**{**base, "requests": 4, "manifests": None, **extra})


def test_waits_until_every_deployment_is_available(settings: StackSettings, rendered: dict) -> None:
    cluster = FakeCluster(rendered, states=["Creating", "Creating", "Available"])
    assert wait_rolled_out(cluster, settings, timeout_s=5, poll_s=0.01) == []
    assert cluster.polls == {"search-ranker": 3, "reco-ranker": 3}


def test_gives_up_at_the_deadline_naming_the_state(settings: StackSettings, rendered: dict) -> None:
    problems = wait_rolled_out(
        FakeCluster(rendered, states=["Failed"]), settings, timeout_s=0.05, poll_s=0.01
    )
    assert problems == [
        "SeldonDeployment rankship-serving/search-ranker is Failed, not Available",
        "SeldonDeployment rankship-serving/reco-ranker is Failed, not Available",
    ]


def answer(version: str, ids: list[str] | None = None) -> dict[str, Any]:
    ranked = [{"id": i, "score": 0.5} for i in ids or [c["id"] for c in CANDIDATES]]
    return {
        "meta": {"tags": {"model_version": version}},
        "jsonData": {"model_version": version, "results": ranked},
    }


@pytest.mark.parametrize(
    ("status", "body", "version", "problem"),
    [
        (200, answer(STABLE), STABLE, None),
        (200, answer(CANARY), CANARY, None),
        (200, answer("ffffffffffff"), "ffffffffffff", "answered by version 'ffffffffffff', expected one of"),
        (200, answer(STABLE, ["p1", "p2"]), STABLE, "ranked ['p1', 'p2'], sent ['p1', 'p2', 'p3']"),
        (200, {"meta": {}}, None, "no jsonData.results ranking"),
        (200, "<html>gateway</html>", None, "no jsonData.results ranking"),
        (503, {"status": {"code": 503, "info": "not ready"}}, None, "HTTP 503"),
    ],
)
def test_golden_answers(status: int, body: Any, version: str | None, problem: str | None) -> None:
    got_version, got_problem = check_answer(status, body, {STABLE, CANARY})
    assert got_version == version
    assert got_problem == problem if problem is None else problem in (got_problem or "")


class _Ingress(http.server.BaseHTTPRequestHandler):
    """Seldon's route for search-ranker behind Istio: 3 of 4 answers from stable, 1 from the canary."""

    served = 0

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        request = json.loads(self.rfile.read(length))
        if self.path != "/seldon/rankship-serving/search-ranker/api/v1.0/predictions":
            self.send_response(404)
            self.end_headers()
            return
        version = CANARY if type(self).served % 4 == 3 else STABLE
        type(self).served += 1
        body = json.dumps(answer(version, [c["id"] for c in request["jsonData"]["candidates"]])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ingress() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Ingress)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_golden_requests_go_through_the_ingress_route(settings: StackSettings, ingress: str) -> None:
    _Ingress.served = 0
    one_model = settings.model_copy(update={"models": settings.models[:1]})
    seen, problems = golden_requests(ingress, one_model, count=8)
    assert problems == []
    assert seen == {"search-ranker": {STABLE: 6, CANARY: 2}}


def test_a_model_without_a_route_fails_verification(settings: StackSettings, ingress: str) -> None:
    _, problems = golden_requests(ingress, settings, count=1)
    assert problems == ["reco-ranker: HTTP 404: "]


def test_live_objects_equal_to_the_manifests_have_no_drift(stack_root: Path, rendered: dict) -> None:
    cluster = FakeCluster(rendered)
    for obj in cluster.objects.values():
        obj["status"] = {"observedGeneration": 1}  # status and operator defaults are not drift
    assert run(args(stack_root, drift=True), cluster) == 0


def test_every_difference_is_listed(
    stack_root: Path, rendered: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = FakeCluster(rendered)
    keys = {k.kind: k for k in cluster.objects}
    sdep = cluster.objects[keys["SeldonDeployment"]]
    sdep["spec"]["predictors"][1]["traffic"] = 50  # someone kubectl-edited the canary weight
    del cluster.objects[keys["ServiceAccount"]]
    stray = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "debug", "namespace": "rankship-serving"},
    }
    cluster.objects[object_key(stray)] = stray
    assert run(args(stack_root, drift=True), cluster) == 1
    err = capsys.readouterr().err
    assert "spec.predictors[canary].traffic: manifest 10, live 50" in err
    assert (
        "ServiceAccount rankship-serving/rankship-model-server (v1): in manifests/, not in the cluster" in err
    )
    assert "ServiceAccount rankship-serving/debug (v1): in the cluster, not in manifests/" in err


def test_field_differences_by_name_position_and_quantity() -> None:
    manifest = {
        "containers": [{"name": "ranker", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
        "args": ["a", "b"],
    }
    live = {
        "containers": [
            {"name": "ranker", "resources": {"limits": {"cpu": "1000m", "memory": "2Gi"}}},
            {"name": "istio-proxy"},
        ],
        "args": ["a"],
    }
    assert field_differences(manifest, live) == [
        "containers[istio-proxy]: live only",
        "containers[ranker].resources.limits.memory: manifest '1Gi', live '2Gi'",
        "args: manifest has 2 items, live 1",
    ]
