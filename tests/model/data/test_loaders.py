"""Loaders for ESCI, WANDS and graded CSV/TSV on tiny fixture files, the dispatcher and the cap."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.config import CsvColumns, DataConfig
from model.data import COLUMNS, cap_candidates, load
from tests.model.data.data_fixtures import (
    CSV_ROWS,
    ESCI_EXAMPLES,
    ESCI_PRODUCTS,
    write_delimited,
    write_esci,
    write_wands,
)


def test_esci_keeps_the_task1_locale_and_maps_labels(tmp_path: Path) -> None:
    path = write_esci(tmp_path / "esci", ESCI_EXAMPLES, ESCI_PRODUCTS)
    frame = load(DataConfig(source="esci", path=path))
    assert tuple(frame.columns) == COLUMNS
    assert list(frame["query_id"]) == ["1", "1", "1", "1", "3", "3"]
    assert list(frame["gain"]) == [3.0, 2.0, 1.0, 0.0, 3.0, 0.0]
    assert list(frame["title"]) == [
        "Red Shoe",
        "Blue Shoe",
        "Shoe Polish",
        "Grey Sofa",
        "Grey Sofa",
        "Shoe Polish",
    ]
    # Brand, bullets and description joined, HTML tags gone; missing cells skipped.
    assert frame.loc[0, "description"] == "Acme. Light. Soft leather"
    assert frame.loc[1, "description"] == "Acme"


def test_esci_other_locale(tmp_path: Path) -> None:
    rows = [*ESCI_EXAMPLES, (8, "zapatos", 2, "B9", "es", "S", 1)]
    products = [*ESCI_PRODUCTS, ("B9", "es", "Zapato Azul", "", "")]
    path = write_esci(tmp_path / "esci", rows, products)
    frame = load(DataConfig(source="esci", path=path, esci_locale="es"))
    assert list(frame["title"]) == ["Zapato Rojo", "Zapato Azul"]
    assert list(frame["gain"]) == [3.0, 2.0]


def test_wands_maps_exact_partial_irrelevant(tmp_path: Path) -> None:
    frame = load(DataConfig(source="wands", path=write_wands(tmp_path / "wands")))
    assert list(frame["query"]) == ["salon chair", "salon chair", "desk", "desk"]
    assert list(frame["product_id"]) == ["10", "12", "11", "12"]
    assert list(frame["gain"]) == [2.0, 1.0, 2.0, 0.0]
    assert frame.loc[0, "description"] == "Salon Chairs. Commercial / Salon. hydraulic pump"
    assert frame.loc[2, "title"] == "computer desk"


@pytest.mark.parametrize(
    ("name", "sep"), [("set.csv", ","), ("set.csv.gz", ","), ("set.tsv", "\t"), ("set.txt", ";")]
)
def test_csv_in_any_delimiter_with_gain_from_the_lowest_grade(tmp_path: Path, name: str, sep: str) -> None:
    path = write_delimited(tmp_path / name, CSV_ROWS, sep)
    frame = load(DataConfig(source="csv", path=path))
    # Grades 1-4 in the file: gain = grade - 1.
    assert list(frame["gain"]) == [3.0, 0.0, 2.0, 3.0, 1.0]
    assert list(frame["title"]) == [
        "Red Running Shoe",
        "Shoe Polish",
        "Blue Running Shoe",
        "Grey Sofa",
        "Sofa Cover",
    ]
    assert frame["description"].eq("").all()  # no description column mapped by default
    assert frame["query_id"].nunique() == 2 and frame["product_id"].nunique() == 5


def test_csv_mapping_ids_description_and_scale(tmp_path: Path) -> None:
    path = write_delimited(tmp_path / "set.csv", CSV_ROWS, ",")
    columns = CsvColumns(description="product_description", product_id="id", query_id="query", label_min=0)
    frame = load(DataConfig(source="csv", path=path, csv=columns))
    assert list(frame["gain"]) == [4.0, 1.0, 3.0, 4.0, 2.0]  # label_min 0: gain = grade
    assert list(frame["product_id"]) == ["1", "2", "4", "5", "7"]
    assert list(frame["query_id"]) == ["red shoes"] * 3 + ["sofa"] * 2
    assert frame.loc[3, "description"] == "Three seats, with a comma"


def test_csv_float_grades(tmp_path: Path) -> None:
    rows = [("query", "product_title", "score"), ("tv", "TV 55", "0.75"), ("tv", "TV mount", "0.25")]
    path = write_delimited(tmp_path / "set.csv", rows, ",")
    frame = load(DataConfig(source="csv", path=path, csv=CsvColumns(label="score")))
    assert list(frame["gain"]) == [0.5, 0.0]


def test_csv_identical_listings_merge_with_the_mean_grade(tmp_path: Path) -> None:
    # Without a product id column, the same text judged twice for a query is one product: grades 4 and 2
    # (gains 3 and 1) become one row with gain 2, at the first row's place.
    rows = [*CSV_ROWS, ("8", "red shoes", "Red Running Shoe", "Mesh, size 10", "2", "0.0")]
    frame = load(DataConfig(source="csv", path=write_delimited(tmp_path / "set.csv", rows, ",")))
    assert len(frame) == 5
    assert frame.loc[0, "gain"] == 2.0


def test_single_candidate_queries_can_be_dropped(tmp_path: Path) -> None:
    rows = [*CSV_ROWS, ("9", "lamp", "Desk Lamp", "", "3", "0.0")]
    path = write_delimited(tmp_path / "set.csv", rows, ",")
    frame = load(DataConfig(source="csv", path=path, single_candidate_queries="drop"))
    assert "lamp" not in set(frame["query"]) and len(frame) == 5


def test_cap_is_seeded_and_keeps_frame_order() -> None:
    frame = pd.DataFrame({"query_id": ["a"] * 10 + ["b"] * 3, "n": range(13)})
    capped = cap_candidates(frame, 4, seed=1)
    assert capped.groupby("query_id").size().to_dict() == {"a": 4, "b": 3}
    assert capped["n"].is_monotonic_increasing
    pd.testing.assert_frame_equal(capped, cap_candidates(frame, 4, seed=1))
    picks = {tuple(cap_candidates(frame, 4, seed=s)["n"]) for s in range(6)}
    assert len(picks) > 1  # the seed decides which candidates stay


def test_load_caps_the_synthetic_default() -> None:
    cfg = DataConfig(
        synthetic={"products": 300, "queries": 30, "candidates_per_query": 12}, max_candidates_per_query=5
    )
    frame = load(cfg)
    assert frame.groupby("query_id").size().eq(5).all()
    assert frame.index.equals(pd.RangeIndex(len(frame)))
