"""A private Prometheus (the Debian package's binary) on a free 127.0.0.1 port with a throwaway TSDB.

Targets come from a `file_sd` JSON file that `set_targets` rewrites, so one Prometheus follows model
processes as scenarios start and stop them. Each target carries the labels the cluster's PodMonitor adds
(`namespace`, `rankship_model`, `rankship_track`), so the analyzer's PromQL is the same here and there.
`backfill` loads hand-made OpenMetrics samples (via `promtool tsdb create-blocks-from openmetrics`) before
start, for tests that need exact, known series.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

from infra.canary.local.processes import Child, free_port
from infra.specs import naming as n

JOB = "rankship-models"


class PrometheusMissing(RuntimeError):
    """The prometheus/promtool binaries are not installed (Debian: apt-get install prometheus)."""


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PrometheusMissing(f"{name} not found: apt-get install prometheus (the Debian package has both)")
    return found


class LocalPrometheus:
    def __init__(self, workdir: Path, scrape_interval: str = "1s", retention: str = "1d") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.tsdb = workdir / "tsdb"
        self.targets_file = workdir / "targets.json"
        self.scrape_interval, self.retention = scrape_interval, retention
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        scrape = {
            "job_name": JOB,
            "metrics_path": n.METRICS_PATH,
            "file_sd_configs": [{"files": [str(self.targets_file)], "refresh_interval": "1s"}],
        }
        interval = {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval}
        return json.dumps({"global": interval, "scrape_configs": [scrape]}, indent=2)  # JSON is YAML

    def set_targets(self, targets: Sequence[tuple[str, Mapping[str, str]]]) -> None:
        """Replace the scraped targets: (host:port, target labels) pairs; atomic, never half-read."""
        groups = [{"targets": [address], "labels": dict(labels)} for address, labels in targets]
        fd, tmp = tempfile.mkstemp(dir=self.workdir, prefix=".targets.")
        with os.fdopen(fd, "w") as handle:
            json.dump(groups, handle)
        os.replace(tmp, self.targets_file)

    def backfill(self, openmetrics: str) -> None:
        """Write samples into the TSDB before `start` (the text must end with `# EOF`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = self.workdir / "backfill.om"
        source.write_text(openmetrics)
        self.tsdb.mkdir(parents=True, exist_ok=True)
        cmd = [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(self.tsdb)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self, timeout_s: float = 30.0) -> LocalPrometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.targets_file.exists():
            self.set_targets([])
        config = self.workdir / "prometheus.yml"
        config.write_text(self.config())
        cmd = [
            binary("prometheus"), f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}",
            f"--storage.tsdb.path={self.tsdb}", f"--storage.tsdb.retention.time={self.retention}",
            "--log.level=warn",
        ]  # fmt: skip
        self.child = Child("prometheus", cmd, self.workdir / "prometheus.log").start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.child.running:
                raise RuntimeError(f"prometheus exited: {self.child.log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        tail = self.child.log_tail()
        self.stop()
        raise TimeoutError(f"prometheus not ready after {timeout_s} s: {tail}")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
