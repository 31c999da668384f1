"""The interleaving predictor as rendered from the dev stack (stable 80 %, canary 10 %, interleave 10 %)."""

from __future__ import annotations

from typing import Any

from infra.canary.live import expected_predictors
from infra.specs import naming as n
from infra.specs.interleave import interleave_predictor
from infra.specs.seldon import seldon_deployment
from model.serving import interleaving
from tests.infra.infra_stacks import raw_settings, settings_of

DEV = settings_of(raw_settings("dev"))
RANKER = DEV.models[0]
S, C = RANKER.stable.bundle, RANKER.canary.bundle  # type: ignore[union-attr]


def rendered() -> dict[str, Any]:
    predictors = seldon_deployment(DEV, RANKER)["spec"]["predictors"]
    return {p["name"]: p for p in predictors}


def test_three_predictors_with_their_weights() -> None:
    assert {name: p["traffic"] for name, p in rendered().items()} == {
        "stable": 80,
        "canary": 10,
        "interleave": 10,
    }


def test_graph_is_a_combiner_over_stable_and_canary_models() -> None:
    p = rendered()["interleave"]
    graph = p["graph"]
    assert (graph["name"], graph["type"], graph["methods"]) == ("interleaver", "COMBINER", ["SEND_FEEDBACK"])
    children = [(c["name"], c["type"], c["modelUri"]) for c in graph["children"]]
    assert children == [("ranker-stable", "MODEL", S.uri), ("ranker-canary", "MODEL", C.uri)]
    # Every graph node runs in its own componentSpec, the container named like the node.
    containers = [cs["spec"]["containers"][0]["name"] for cs in p["componentSpecs"]]
    assert containers == ["interleaver", "ranker-stable", "ranker-canary"]
    # The combiner counts the predictor's feedback; the children are told not to count it again.
    for cs in p["componentSpecs"][1:]:
        assert {"name": "RANKSHIP_INTERLEAVE_CHILD", "value": "1"} in cs["spec"]["containers"][0]["env"]


def test_combiner_knows_the_pair_and_runs_the_combiner_class() -> None:
    combiner = rendered()["interleave"]["componentSpecs"][0]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in combiner["env"]}
    assert (env["RANKSHIP_INTERLEAVE_STABLE"], env["RANKSHIP_INTERLEAVE_CANARY"]) == (S.version, C.version)
    # Under the serving entry point, like the ranker (drains on SIGTERM).
    assert combiner["command"][:3] == ["python", "-m", "model.serving.entrypoint"]
    assert combiner["command"][3:] == [
        "model.serving.combiner.RankshipInterleaver",
        "--service-type",
        "COMBINER",
    ]
    assert combiner["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_its_own_version_label_so_istio_subsets_never_overlap() -> None:
    preds = rendered()
    version = f"{S.version}-{C.version}"
    # Constant per track like every predictor's; the pair of bundles travels in the annotation.
    assert preds["interleave"]["labels"][n.VERSION_LABEL] == "interleave"
    assert preds["interleave"]["annotations"][n.PREDICTOR_VERSION_ANNOTATION] == version
    assert len({p["labels"][n.VERSION_LABEL] for p in preds.values()}) == 3
    assert expected_predictors(RANKER)["interleave"] == (version, 10)


def test_no_interleave_setting_no_predictor() -> None:
    staging = settings_of(raw_settings("staging"))
    assert interleave_predictor(staging, staging.models[0]) is None


def test_platform_and_runtime_agree_on_the_interleaved_version() -> None:
    assert n.INTERLEAVED_VERSION == interleaving.INTERLEAVED_VERSION
