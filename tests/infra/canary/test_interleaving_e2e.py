"""The interleaving predictor on 127.0.0.1: two real rankers (untrained tiny bundles of two seeds, so their
rankings differ) and the real combiner, driven the way Seldon's executor drives the graph.

Checks what only real processes show: an answer with a team on every result, the same list for a retried
request id, feedback counted exactly once (by the combiner; the children count nothing), and every process
gone afterwards. ~30 s.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from infra.canary.local.bundles import build_bundles
from infra.canary.local.interleave_demo import SCORE_BUCKETS, feedback_message
from infra.canary.local.interleaved import LocalInterleaving
from infra.canary.local.load import ranking_request
from infra.canary.local.processes import group_members
from infra.canary.local.serving import SERVING_VENV

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInterleaving]:
    if not (SERVING_VENV / "bin" / "seldon-core-microservice").exists():
        pytest.skip(f"{SERVING_VENV} missing: run `make serving-venv` first")
    root = tmp_path_factory.mktemp("interleave-e2e")
    found = build_bundles(root / "bundles", {"stable": 11, "canary": 12})
    with LocalInterleaving(root, found["stable"], found["canary"], SCORE_BUCKETS) as li:
        groups = [p.child.pid for p in (li.combiner, *li.children)]
        yield li
    assert not [g for g in groups if group_members(g)], "a process of the interleaving predictor outlived it"


def request() -> dict[str, Any]:
    body = ranking_request(random.Random(5), candidates=12)
    return {"jsonData": {**body["jsonData"], "top_k": 8}}


def series(process: Any, name: str) -> dict[str, float]:
    """`name`'s samples on a process's metrics port: label text -> value."""
    text = requests.get(f"http://{process.metrics_address}/prometheus", timeout=5).text
    return {m[1]: float(m[2]) for m in re.finditer(rf"^{name}\{{(.*?)\}} (\S+)$", text, re.M)}


def test_every_result_has_a_team_and_a_retry_shows_the_same_list(live: LocalInterleaving) -> None:
    answer = live.predict(request(), puid="user-7-search-1")
    results = answer["jsonData"]["results"]
    assert len(results) == 8 and {r["team"] for r in results} == {"stable", "canary"}
    assert answer["meta"]["tags"]["interleaving"] == "team-draft"
    again = live.predict(request(), puid="user-7-search-1")
    assert again["jsonData"]["results"] == results


def test_feedback_is_counted_once_by_the_combiner(live: LocalInterleaving) -> None:
    answer = live.predict(request(), puid="user-7-search-2")
    results = answer["jsonData"]["results"]
    canary_at = next(i for i, r in enumerate(results) if r["team"] == "canary")
    counted = live.feedback(feedback_message(answer, [canary_at]))
    assert counted["jsonData"]["counted_for"] == "interleaved"
    wins = series(live.combiner, "rankship_interleaving_total")
    assert [v for labels, v in wins.items() if 'winner="canary"' in labels] == [1.0]
    # A plain answer whose feedback Istio sent to this predictor: the combiner counts it per version.
    plain = live.single(request())
    live.feedback(feedback_message(plain, [0]))
    version = plain["meta"]["tags"]["model_version"]
    impressions = series(live.combiner, "rankship_feedback_total")
    assert [v for labels, v in impressions.items() if f'bundle_version="{version}"' in labels] == [1.0]
    for child in live.children:
        assert not series(child, "rankship_interleaving_total") and not series(
            child, "rankship_feedback_total"
        )
