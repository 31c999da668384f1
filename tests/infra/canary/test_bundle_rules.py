"""The per-bundle recording rules on the new metrics (`infra/specs/promql.py`: feedback CTR and MRR, score
skew against the bundle's own offline histogram), unit-tested with `promtool test rules`; numbers by hand.

Input series are one sample a minute; evaluated at 70m, a 1h `increase` of a counter growing by x a minute
is exactly 60x (the window lies inside the series, so Prometheus extrapolates to its edges).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings.stack import StackSettings
from infra.specs.monitoring import prometheus_rule
from infra.specs.promql import FEEDBACK_CTR, FEEDBACK_MRR, SCORE_SKEW

MODEL = 'namespace="rankship-serving", rankship_model="search-ranker"'
STABLE, CANARY = "a1a1a1a1a1a1", "b2b2b2b2b2b2"
KEYS = {"namespace": "rankship-serving", "rankship_model": "search-ranker"}


def pod(track: str, bundle: str) -> str:
    return f'{MODEL}, rankship_track="{track}", bundle_version="{bundle}", worker_id="1"'


def run(
    tmp_path: Path, settings: StackSettings, series: list[dict[str, str]], tests: list[dict[str, Any]]
) -> None:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump(prometheus_rule(settings, settings.models[0])["spec"])
    )
    case = {"interval": "1m", "input_series": series, "promql_expr_test": tests}
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [case]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [binary, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def expect(expr: str, *samples: tuple[str, float]) -> dict[str, Any]:
    def labels(bundle: str) -> str:
        pairs = {**KEYS, "bundle_version": bundle}
        return expr + "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"

    exp = [{"labels": labels(bundle), "value": value} for bundle, value in samples]
    return {"expr": expr, "eval_time": "70m", "exp_samples": exp}


def test_feedback_is_summed_over_every_pod_that_counted_it(tmp_path: Path, settings: StackSettings) -> None:
    # Feedback on the canary's answers: 60 a minute counted by a stable pod, 60 by a canary pod (Istio splits
    # /feedback like predictions) -> 7200 in 1h; 30 a minute clicked (1800, CTR 0.25), reciprocal-rank sum 15
    # a minute (900, MRR 0.125). Stable: 60 impressions a minute, never clicked -> CTR 0, not absent.
    series = [
        {"series": f"rankship_feedback_total{{{pod('stable', CANARY)}}}", "values": "0+60x70"},
        {"series": f"rankship_feedback_total{{{pod('canary', CANARY)}}}", "values": "0+60x70"},
        {"series": f"rankship_feedback_clicked_total{{{pod('stable', CANARY)}}}", "values": "0+30x70"},
        {
            "series": f"rankship_feedback_reciprocal_rank_total{{{pod('stable', CANARY)}}}",
            "values": "0+15x70",
        },
        {"series": f"rankship_feedback_total{{{pod('stable', STABLE)}}}", "values": "0+60x70"},
    ]
    tests = [
        expect(FEEDBACK_CTR, (STABLE, 0), (CANARY, 0.25)),
        expect(FEEDBACK_MRR, (STABLE, 0), (CANARY, 0.125)),
    ]
    run(tmp_path, settings, series, tests)


def test_score_skew_is_the_largest_gap_to_the_bundles_own_offline_shares(
    tmp_path: Path, settings: StackSettings
) -> None:
    # Canary live: 100 scores a minute per quarter -> cumulative shares .25/.5/.75/1 at le -1/0/1/+Inf;
    # its offline gauge 10/30/35/40 -> .25/.75/.875/1: gaps 0, .25, .125, 0 -> 0.25. Stable live on another
    # scale (edges 10/20/30) exactly like its own offline histogram -> 0.
    series = []
    for le, live, offline in (("-1.0", 100, 10), ("0.0", 200, 30), ("1.0", 300, 35), ("+Inf", 400, 40)):
        labels = f'{pod("canary", CANARY)}, le="{le}"'
        series += [{"series": f"rankship_scores_total{{{labels}}}", "values": f"0+{live}x70"},
                   {"series": f"rankship_offline_scores{{{labels}}}", "values": f"{offline}x70"}]  # fmt: skip
    for le, live, offline in (("10.0", 25, 1), ("20.0", 50, 2), ("30.0", 75, 3), ("+Inf", 100, 4)):
        labels = f'{pod("stable", STABLE)}, le="{le}"'
        series += [{"series": f"rankship_scores_total{{{labels}}}", "values": f"0+{live}x70"},
                   {"series": f"rankship_offline_scores{{{labels}}}", "values": f"{offline}x70"}]  # fmt: skip
    run(tmp_path, settings, series, [expect(SCORE_SKEW, (STABLE, 0), (CANARY, 0.25))])
