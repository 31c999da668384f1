"""model + w * BM25: the catalog index's scores on a frame and the weight chosen on validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.config import ConfigError, FusionConfig, load_config
from model.evaluation.fusion import catalog_index, fusion_weight, lexical_scores


def test_the_fusion_weight_is_the_grid_point_that_ranks_validation_best_in_units_of_the_spreads() -> None:
    # Query a: the model has it backwards, BM25 right. Query b: the model right, BM25 slightly wrong.
    valid = pd.DataFrame(
        {
            "query_id": ["a", "a", "b", "b"],
            "product_id": ["a1", "a2", "b1", "b2"],
            "gain": [1.0, 0.0, 1.0, 0.0],
        }
    )
    model = np.array([0.0, 1.0, 1.0, 0.0])
    lexical = np.array([2.0, 0.0, 0.0, 0.2])
    # std(model) = 0.5; std(lexical) = sqrt(2.83 / 4) = 0.84113, so one grid unit is 0.59444.
    # m = 0.5 (w 0.297): a scores 0.594 vs 1, still backwards. m = 3 (w 1.783): a 3.57 vs 1, b 1 vs 0.357.
    w = fusion_weight(valid, model, lexical, relevant=1.0, grid=(0.0, 0.5, 3.0, 5.0))
    assert w == pytest.approx(3.0 * 0.5 / 0.84113, rel=1e-4)  # 5 ranks both right too: the smaller wins
    # Nothing to learn from a constant BM25 (no query word anywhere): the model alone.
    assert fusion_weight(valid, model, np.ones(4), relevant=1.0, grid=(0.0, 1.0)) == 0.0


def test_lexical_scores_follow_the_frame_rows_with_catalog_statistics() -> None:
    frame = pd.DataFrame(
        {
            "query_id": ["q", "q", "r"],
            "query": ["red lamp", "red lamp", "oak"],
            "product_id": ["p1", "p2", "p3"],
            "title": ["Red lamp", "Blue lamp", "Oak table"],
            "description": [None, "", "solid oak"],
            "gain": [1.0, 0.0, 1.0],
        }
    )
    index = catalog_index([frame], FusionConfig())
    # Catalog: "red lamp" (2 words), "blue lamp" (2), "oak table solid oak" (4): N 3, average 8/3.
    assert (index.documents, index.average_length) == (3, pytest.approx(8 / 3))
    assert dict(index.df) == {"blue": 1, "lamp": 2, "oak": 1, "red": 1, "solid": 1, "table": 1}
    scores = lexical_scores(index, frame)
    # Row order kept; p1 matches both words, p2 only the commoner "lamp", p3 has "oak" twice.
    assert scores[0] > scores[1] > 0 and scores[2] > 0
    # p2: lamp with df 2 -> idf ln(1 + 1.5 / 2.5); length 2, norm 1.2 * (0.25 + 0.75 * 2 / (8/3)) = 0.975.
    idf = np.log(1 + 1.5 / 2.5)
    assert scores[1] == pytest.approx(idf * 1 * 2.2 / (1 + 0.975), rel=1e-5)


@pytest.mark.parametrize("grid", ["[0.5, 1.0]", "[0.0, -1.0]"])
def test_a_fusion_grid_without_the_model_alone_or_with_a_negative_weight_is_refused(
    tmp_path: Path, grid: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"fusion: {{grid: {grid}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fusion.*must hold 0 \(the model alone\) and no negative weight"):
        load_config(bad)
