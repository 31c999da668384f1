"""`canary.interleave`: weights with three predictors, and stable keeps traffic at every promotion step."""

from __future__ import annotations

from typing import Any

from infra.settings.edit import set_canary_weight
from tests.infra.infra_stacks import raw_settings, settings_of
from tests.infra.settings.test_stack import model, only_problem


def interleaved(raw: dict[str, Any], weight: int = 10, stable: int = 80) -> None:
    model(raw)["canary"]["interleave"] = {"weight": weight}
    model(raw)["stable"]["weight"] = stable


def test_three_predictors_sum_to_100() -> None:
    raw = raw_settings("staging")
    interleaved(raw)
    canary = settings_of(raw).models[0].canary
    assert canary is not None and canary.interleave is not None
    assert (canary.weight, canary.interleave.weight, canary.interleave.min_decided) == (10, 10, 100)


def test_weights_count_the_interleaving_predictor() -> None:
    problem = only_problem("staging", lambda raw: interleaved(raw, 10, stable=90))
    assert "stable.weight 90 + canary.weight 10 + canary.interleave.weight 10" in problem


def test_interleaving_never_takes_all_of_stables_share() -> None:
    # Steps 10 -> 25 -> 50 -> 100: at 50 % canary a 50 % interleave would leave stable nothing.
    problem = only_problem("staging", lambda raw: interleaved(raw, 50, stable=40))
    assert "canary weight 50 + interleave.weight 50 leaves stable no traffic" in problem


def test_interleave_weight_bounds() -> None:
    problem = only_problem("staging", lambda raw: interleaved(raw, 0, stable=90))
    assert problem.startswith("models[0].canary.interleave.weight:")


def test_promotion_keeps_the_interleaving_share() -> None:
    raw = raw_settings("staging")
    interleaved(raw)
    ranker = set_canary_weight(settings_of(raw), "search-ranker", 25).models[0]
    assert ranker.canary is not None
    assert (ranker.stable.weight, ranker.canary.weight, ranker.canary.interleave_weight) == (65, 25, 10)
