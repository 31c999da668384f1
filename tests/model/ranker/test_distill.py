"""Distillation: the KL loss by hand, BM25-retrieved unlabelled pairs, the teacher -> student recipe."""

from __future__ import annotations

import math
import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from model.ranker.distill import with_retrieved
from model.ranker.losses import listwise_distill, loss_denominator
from model.ranker.recipe import train_recipe
from model.text.tokenizer import Tokenizer
from tests.model.ranker_toy import toy_config, toy_frame

LN3 = math.log(3.0)


def _loss(student: list[list[float]], teacher: list[list[float]], mask: list[list[bool]]) -> float:
    return float(listwise_distill(tf.constant(student), tf.constant(teacher), tf.constant(mask)))


def test_listwise_distill_by_hand() -> None:
    # teacher [0, ln 3] -> p = [1/4, 3/4]; student uniform -> -sum p ln(1/2) = ln 2.
    assert _loss([[0.0, 0.0]], [[0.0, LN3]], [[True, True]]) == pytest.approx(math.log(2))
    # student = teacher: the teacher's entropy, the minimum.
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert _loss([[0.0, LN3]], [[0.0, LN3]], [[True, True]]) == pytest.approx(entropy)
    # Padding is ignored, and a one-candidate list carries no ranking (left out of the mean).
    padded = _loss(
        [[0.0, 0.0, 9.0], [4.0, 0.0, 0.0]],
        [[0.0, LN3, -9.0], [1.0, 0.0, 0.0]],
        [[True, True, False], [True, False, False]],
    )
    assert padded == pytest.approx(math.log(2))
    assert (
        loss_denominator(
            "listwise_distill", np.zeros((2, 3), np.float32), np.array([[1, 1, 0], [1, 0, 0]], bool)
        )
        == 1.0
    )


def test_retrieval_adds_unjudged_matching_products_only() -> None:
    train = pd.DataFrame(
        {
            "query_id": ["q1", "q1"],
            "query": ["red shoe", "red shoe"],
            "product_id": ["a", "b"],
            "title": ["red shoe", "blue lamp"],
            "description": ["", ""],
            "gain": [3.0, 0.0],
        }
    )
    catalog = pd.concat(
        [
            train,
            pd.DataFrame(
                {
                    "query_id": ["q9"] * 3,
                    "query": ["x"] * 3,
                    "product_id": ["c", "d", "e"],
                    "title": ["red shoe deluxe", "green chair", "shoe rack"],
                    "description": ["", "", ""],
                    "gain": [0.0] * 3,
                }
            ),
        ]
    )
    out = with_retrieved(train, catalog, per_query=5, seed=0)
    added = out[out["gain"].isna()]
    # "a" is judged already; "d" shares no word with the query (BM25 0): only c and e are added,
    # c ("red shoe deluxe", both words) before e ("shoe rack").
    assert added["product_id"].tolist() == ["c", "e"] and (added["query_id"] == "q1").all()
    assert len(with_retrieved(train, catalog, per_query=1, seed=0)) == 3
    assert with_retrieved(train, catalog, per_query=0, seed=0) is train


@pytest.mark.slow
def test_recipe_trains_teacher_then_student_and_the_scratch_row() -> None:
    cfg = toy_config(epochs=2)
    cfg = cfg.model_copy(
        update={
            "distill": cfg.distill.model_copy(
                update={
                    "enabled": True,
                    "retrieved_per_query": 3,
                    "report_from_scratch": True,  # the tiny preset leaves it out
                    "teacher": cfg.ranker.model_copy(update={"width": 32}),
                }
            )
        }
    )
    tokenizer = Tokenizer.from_config(cfg.tokenizer)
    train, valid = toy_frame(32, 6, seed=3), toy_frame(8, 6, seed=4)
    trained = train_recipe(cfg, tokenizer, train, valid, pd.concat([train, valid]), progress=False)
    assert set(trained.others) == {"teacher", "scratch"}
    assert trained.others["teacher"].model.get_layer("token_embedding").output_dim == 32
    assert trained.ranker.model.get_layer("token_embedding").output_dim == cfg.ranker.width
    assert {"teacher", "retrieve_and_score", "student", "scratch"} <= set(trained.seconds)
    # The toy set is learnable: the distilled student ranks validation well above chance.
    assert trained.ranker.best_valid_ndcg > 0.8


class _Call:
    """What the recipe asked `train_ranker` for: its start, its targets, its architecture."""

    def __init__(self, pretrained: bool, distilled: bool, width: int) -> None:
        self.pretrained, self.distilled, self.width, self.seconds = pretrained, distilled, width, 1.0
        self.model = None  # the teacher's, read by the (faked) teacher_targets


@pytest.mark.parametrize(
    ("distill", "pretrained", "from_scratch", "without", "expected"),
    [
        # Distillation off: the ranker, and from a pre-trained start also the same training from random.
        (False, False, True, True, {}),
        (False, True, True, True, {"no_pretrain": (False, False)}),
        (False, True, True, False, {}),
        # Distillation on without pre-training: the scratch row is the student without its teacher.
        (True, False, True, True, {"teacher": (False, False), "scratch": (False, False)}),
        # Both on: the whole 2x2 of start x targets.
        (
            True,
            True,
            True,
            True,
            {
                "teacher": (False, False),
                "no_pretrain": (False, True),
                "scratch": (False, False),
                "no_distill": (True, False),
            },
        ),
        (True, True, False, True, {"teacher": (False, False), "no_pretrain": (False, True)}),
        (True, True, False, False, {"teacher": (False, False)}),
    ],
)
def test_recipe_comparison_rows_fill_the_start_by_targets_grid(
    monkeypatch: pytest.MonkeyPatch,
    distill: bool,
    pretrained: bool,
    from_scratch: bool,
    without: bool,
    expected: dict[str, tuple[bool, bool]],
) -> None:
    import model.ranker.distill as distill_module
    import model.ranker.recipe as recipe

    def fake_train(cfg: Any, *_: Any, initial: Any = None, targets: Any = None, ranker: Any = None) -> _Call:
        width = (ranker or cfg.ranker).width
        return _Call(initial is not None, targets is not None, width)

    monkeypatch.setattr(recipe, "train_ranker", fake_train)
    monkeypatch.setattr(distill_module, "with_retrieved", lambda train, *a: train)
    monkeypatch.setattr(distill_module, "teacher_targets", lambda *a: object())
    cfg = toy_config(epochs=1)
    cfg = cfg.model_copy(
        update={
            "pretrain": cfg.pretrain.model_copy(update={"report_without": without}),
            "distill": cfg.distill.model_copy(
                update={
                    "enabled": distill,
                    "report_from_scratch": from_scratch,
                    "teacher": cfg.ranker.model_copy(update={"width": 48}),
                }
            ),
        }
    )
    initial = {"token_embedding": []} if pretrained else None
    frame = toy_frame(4, 3, seed=0)
    trained = recipe.train_recipe(
        cfg, Tokenizer.from_config(cfg.tokenizer), frame, frame, frame, initial, False
    )
    # The shipped ranker: pre-trained when there is a start, distilled when distillation is on.
    assert (trained.ranker.pretrained, trained.ranker.distilled) == (pretrained, distill)  # type: ignore[attr-defined]
    got = {name: (r.pretrained, r.distilled) for name, r in trained.others.items()}  # type: ignore[attr-defined]
    assert got == expected
    if distill:
        assert trained.others["teacher"].width == 48  # type: ignore[attr-defined]
    assert {n for n in expected if n != "teacher"} <= set(trained.seconds)
