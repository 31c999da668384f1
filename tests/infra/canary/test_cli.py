"""`python -m infra.canary analyze` against a real Prometheus holding hand-made series (see backfill.py).

At the analysis time T every version has run at a constant rate for 10 minutes; with window 2m the
analyzer must read exactly: stable 9 rps -> 1080 requests; a 1 rps canary -> 120 requests; p99 49.5 ms
(fast) or 497.5 ms (slow); error rate 20 % (erroring); PSI vs the version's own offline histogram 0 (same
shape) or 6.9 (all scores high); CTR 0.5 (both) or 0.2 (unclicked: rolled back by the z-test).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from infra.canary.__main__ import main, parse_time
from infra.canary.local.processes import free_port
from infra.canary.local.prometheus import LocalPrometheus, PrometheusMissing, binary
from infra.settings.stack import load_stack_settings
from tests.infra.canary.backfill import ALL_HIGH, Version, openmetrics
from tests.infra.canary.conftest import STACK

STABLE = "a1a1a1a1a1a1"
CANARIES = {
    "healthy": Version("b2b2b2b2b2b2", 1.0),
    "slow": Version("c3c3c3c3c3c3", 1.0, latency_le="0.5"),
    "erroring": Version("e5e5e5e5e5e5", 1.0, error_ratio=0.2),
    "drifting": Version("f7f7f7f7f7f7", 1.0, score_shares=ALL_HIGH),
    "unclicked": Version("d4d4d4d4d4d4", 1.0, ctr=0.2),
    "quiet": Version("0a0a0a0a0a0a", 1 / 15),
}
T = (time.time() // 60) * 60 - 300  # analysis time: 5 minutes ago, on a whole minute


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        binary("prometheus"), binary("promtool")
    except PrometheusMissing as e:
        pytest.skip(str(e))
    prom = LocalPrometheus(tmp_path_factory.mktemp("prometheus"))
    prom.backfill(openmetrics([Version(STABLE, 9.0), *CANARIES.values()], T - 600, T))
    with prom:
        yield prom.url


def with_canary(root: Path, scenario: str) -> Path:
    """The fixture stack with its canary bundle replaced by the scenario's version."""
    path = root / "Pulumi.canary.yaml"
    version = CANARIES[scenario].version
    path.write_text(path.read_text().replace("b2" * 32, version[:2] * 32))
    return root


def analyze(root: Path, url: str, *extra: str) -> int:
    return main(
        ["analyze", "--stack", STACK, "--prometheus", url, "--root", str(root), "--at", str(T), *extra]
    )


def test_a_healthy_canary_is_promoted_and_the_pr_body_shows_the_numbers(
    stack_root: Path, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = stack_root / "verdict" / "decision.md"
    assert analyze(stack_root, prometheus, "--no-live-check", "--write", "--report", str(report)) == 0
    assert "search-ranker: promote (canary b2b2b2b2b2b2 10 % -> 25 %)" in capsys.readouterr().out
    text = report.read_text()
    assert "| requests | model | 120 | 1080 | ≥ 100 per version | ok |" in text
    assert "| error rate | model | 0.00% | 0.00% | ≤ 2.00% | ok |" in text
    assert "| p99 latency | model | 49.5 ms | 49.5 ms | ≤ 200 ms | ok |" in text
    assert "| score PSI | model | 0 | 0 (own offline) | ≤ 0.2 vs own offline | ok |" in text
    assert (
        "| CTR | feedback | 0.5 | 0.5 | ≥ stable − 10% (z-test, α 0.05) | ok (canary − stable +0.0000" in text
    )
    assert load_stack_settings(STACK, stack_root).models[0].canary.weight == 25  # type: ignore[union-attr]
    sdep = yaml.safe_load(
        (
            stack_root / "manifests" / STACK / "seldondeployment-rankship-serving-search-ranker.yaml"
        ).read_text()
    )
    assert [p["traffic"] for p in sdep["spec"]["predictors"]] == [75, 25]


@pytest.mark.parametrize(
    ("scenario", "row"),
    [
        ("slow", "| p99 latency | model | 498 ms | 49.5 ms | ≤ 200 ms | **FAIL** |"),
        ("erroring", "| error rate | model | 20.00% | 0.00% | ≤ 2.00% | **FAIL** |"),
        ("drifting", "| score PSI | model | 6.91 | 0 (own offline) | ≤ 0.2 vs own offline | **FAIL** |"),
        (
            "unclicked",
            "| CTR | feedback | 0.2 | 0.5 | ≥ stable − 10% (z-test, α 0.05) | **FAIL** (canary − stable",
        ),
    ],
)
def test_a_bad_canary_is_rolled_back(stack_root: Path, prometheus: str, scenario: str, row: str) -> None:
    report = stack_root / "decision.md"
    root = with_canary(stack_root, scenario)
    assert analyze(root, prometheus, "--no-live-check", "--write", "--report", str(report)) == 20
    text = report.read_text()
    assert "ROLLBACK" in text and row in text
    assert text.count("**fail**") == 3  # all three evaluations failed
    model = load_stack_settings(STACK, root).models[0]
    assert (model.canary, model.stable.weight) == (None, 100)


def test_too_little_traffic_holds_and_writes_nothing(
    stack_root: Path, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = with_canary(stack_root, "quiet")
    before = (root / "Pulumi.canary.yaml").read_bytes()
    assert analyze(root, prometheus, "--no-live-check", "--write") == 10
    assert "too little traffic: canary 8, stable 1080 requests in 2m" in capsys.readouterr().out
    assert (root / "Pulumi.canary.yaml").read_bytes() == before and not (root / "manifests").exists()


def test_an_unreachable_prometheus_holds_with_its_own_exit_code(
    stack_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert analyze(stack_root, url, "--no-live-check", "--write", "--timeout", "2") == 11
    out = capsys.readouterr().out
    assert "hold" in out and f"Prometheus at {url} unreachable" in out


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in to continue</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_prometheus_answering_garbage_holds_with_the_reason(
    stack_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert analyze(stack_root, f"http://127.0.0.1:{server.server_port}", "--no-live-check") == 11
    finally:
        server.shutdown()
        server.server_close()
    assert "not a Prometheus matrix answer" in capsys.readouterr().out


def test_without_cluster_credentials_it_holds_before_judging(
    stack_root: Path, prometheus: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(stack_root / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert analyze(stack_root, prometheus) == 11
    out = capsys.readouterr().out
    assert "cluster unreadable, nothing judged" in out and "kind-canary" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "nope"], "Pulumi.nope.yaml"),
        (["--stack", STACK, "--model", "nope"], "--model 'nope': no such model"),
    ],
)
def test_bad_input_exits_2(
    stack_root: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["analyze", *args, "--prometheus", "http://127.0.0.1:9", "--root", str(stack_root)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_no_canary_is_a_hold(stack_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["analyze", "--stack", STACK, "--model", "reco-ranker", "--prometheus", "http://127.0.0.1:9"]
    assert main([*argv, "--root", str(stack_root)]) == 10
    assert "has no canary to analyse" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1800000000", 1_800_000_000.0),
        ("2027-01-15T08:00:00Z", 1_800_000_000.0),
        ("2027-01-15T08:00:00", 1_800_000_000.0),
    ],
)
def test_the_analysis_time_is_unix_seconds_or_iso_8601(text: str, expected: float) -> None:
    # 1 800 000 000 s after the epoch is 2027-01-15 08:00:00 UTC; a time without a zone is read as UTC.
    assert parse_time(text) == expected


def test_a_bad_analysis_time_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["analyze", "--stack", STACK, "--prometheus", "http://127.0.0.1:9", "--at", "yesterday"])
    assert e.value.code == 2 and "--at 'yesterday': not unix seconds or ISO 8601" in capsys.readouterr().err
