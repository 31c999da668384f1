"""The cluster-e2e workflow's helpers: a stack with the run's bundles, helm commands from the add-on specs."""

from __future__ import annotations

import http.server
import json
import shlex
import threading
from pathlib import Path

import pytest

from infra.canary.cluster_e2e import main
from infra.settings.stack import load_stack_settings
from model.release.bundle import BundleInfo, write_bundle
from tests.infra.canary.conftest import STACK

IMAGE = "localhost:5001/rankship/ranker-serving@sha256:" + "9" * 64


def bundle(root: Path, label: str) -> BundleInfo:
    files: dict[str, bytes | Path] = {
        n: label.encode() for n in ("model.tflite", "tokenizer.json", "golden.json")
    }
    return write_bundle(files, root)


def test_derives_a_stack_with_the_runs_bundles_and_image(stack_root: Path, tmp_path: Path) -> None:
    stable, canary = bundle(tmp_path / "b", "stable"), bundle(tmp_path / "b", "canary")
    argv = ["--root", str(stack_root), "stack", "--from", STACK, "--to", "e2e", "--model", "search-ranker"]
    argv += ["--stable-bundle", str(stable.path), "--canary-bundle", str(canary.path)]
    assert main([*argv, "--image", IMAGE, "--bucket", "rankship-e2e"]) == 0
    model = load_stack_settings("e2e", stack_root).models[0]
    assert (model.image, model.stable.image, model.canary.image) == (IMAGE, None, None)  # type: ignore[union-attr]
    assert (model.stable.bundle.id, model.stable.weight) == (stable.bundle_id, 90)
    assert model.canary.bundle.uri == f"s3://rankship-e2e/bundles/{canary.bundle_id}/"  # type: ignore[union-attr]
    assert model.canary.analysis.max_p99_latency_ms == 200  # type: ignore[union-attr]  # kept from the source
    text = (stack_root / "Pulumi.e2e.yaml").read_text()
    assert "# The comments are here on purpose" in text
    assert (stack_root / "Pulumi.canary.yaml").read_text().count(stable.bundle_id) == 0  # source untouched


def test_a_damaged_bundle_is_refused_and_nothing_is_written(
    stack_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = bundle(tmp_path / "b", "good")
    (good.path / "golden.json").write_bytes(b"tampered")
    argv = ["--root", str(stack_root), "stack", "--from", STACK, "--to", "e2e", "--model", "search-ranker"]
    argv += ["--stable-bundle", str(good.path), "--canary-bundle", str(good.path)]
    assert main([*argv, "--image", IMAGE, "--bucket", "rankship-e2e"]) == 2
    err = capsys.readouterr().err
    assert "--stable-bundle" in err and "sha256 does not match MANIFEST" in err
    assert not (stack_root / "Pulumi.e2e.yaml").exists()


def test_helm_commands_come_from_the_addon_specs(stack_root: Path, tmp_path: Path) -> None:
    assert main(["--root", str(stack_root), "helm", "--stack", STACK, "--out", str(tmp_path / "helm")]) == 0
    lines = (tmp_path / "helm" / "install.sh").read_text().splitlines()
    commands = [shlex.split(line) for line in lines if line.startswith("helm ")]
    assert [c[3] for c in commands] == [
        "cert-manager", "istio-base", "istiod", "istio-ingressgateway", "seldon-core-operator",
        "kube-prometheus-stack",
    ]  # fmt: skip
    seldon = commands[4]
    assert seldon[seldon.index("--version") + 1] == "1.17.1"
    values = json.loads((tmp_path / "helm" / "values-seldon-core-operator.json").read_text())
    assert values["istio"] == {"enabled": True, "gateway": "istio-system/seldon-gateway"}
    assert lines[-1].startswith("kubectl apply -f ") and lines[-1].endswith("seldon-gateway.json")


def test_analysis_settings_can_be_forced(stack_root: Path) -> None:
    argv = ["--root", str(stack_root), "analysis", "--stack", STACK, "--model", "search-ranker"]
    assert main([*argv, "--set", "max_p99_latency_ms=0.001", "--set", "failure_threshold=1"]) == 0
    analysis = load_stack_settings(STACK, stack_root).models[0].canary.analysis  # type: ignore[union-attr]
    assert (analysis.max_p99_latency_ms, analysis.failure_threshold) == (0.001, 1)


@pytest.mark.parametrize("assignment", ["nope=1", "max_p99_latency_ms", "failure_threshold=0"])
def test_bad_analysis_settings_are_refused(stack_root: Path, assignment: str) -> None:
    before = (stack_root / "Pulumi.canary.yaml").read_bytes()
    argv = ["--root", str(stack_root), "analysis", "--stack", STACK, "--model", "search-ranker"]
    assert main([*argv, "--set", assignment]) == 2
    assert (stack_root / "Pulumi.canary.yaml").read_bytes() == before


class _Model(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "rc"), [(200, 0), (503, 1)])
def test_load_is_bounded_and_judged_by_its_answers(
    status: int, rc: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _Model.status = status
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert (
            main(
                ["load", "--url", f"http://127.0.0.1:{server.server_port}/", "--rps", "20", "--seconds", "1"]
            )
            == rc
        )
    finally:
        server.shutdown()
        server.server_close()
    report = json.loads(capsys.readouterr().out)
    assert 18 <= report["sent"] <= 21 and report["status"] == {str(status): report["sent"]}
