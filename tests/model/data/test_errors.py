"""Bad data: every case raises DataError naming the file, the column and the row (1-based line)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model.config import CsvColumns, DataConfig
from model.data import DataError, load, validate
from model.data.esci import EXAMPLES, PRODUCTS
from tests.model.data.data_fixtures import (
    CSV_ROWS,
    ESCI_EXAMPLES,
    ESCI_PRODUCTS,
    write_delimited,
    write_esci,
    write_wands,
)


def error_of(cfg: DataConfig) -> DataError:
    with pytest.raises(DataError) as caught:
        load(cfg)
    return caught.value


def assert_names(err: DataError, file: Path, column: str | None, row: int | None) -> None:
    assert (err.file, err.column, err.row) == (str(file), column, row), str(err)
    message = str(err)
    assert str(file) in message
    if column is not None:
        assert repr(column) in message
    if row is not None:
        assert f"row {row}" in message


def csv_error(tmp_path: Path, rows: list[tuple[str, ...]], name: str = "set.csv", **cfg: object) -> DataError:
    path = write_delimited(tmp_path / name, rows, "\t" if name.endswith(".tsv") else ",")
    return error_of(DataConfig(source="csv", path=path, **cfg))  # type: ignore[arg-type]


def replace(rows: list[tuple[str, ...]], index: int, column: int, value: str) -> list[tuple[str, ...]]:
    out = list(rows)
    out[index] = tuple(value if i == column else v for i, v in enumerate(rows[index]))
    return out


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(DataConfig(source="csv", path=tmp_path / "nope.csv"))
    assert_names(err, tmp_path / "nope.csv", None, None)
    assert "file not found" in str(err)
    err = error_of(DataConfig(source="esci", path=tmp_path / "nope"))
    assert "needs a directory; not found" in str(err)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    assert "file is empty" in str(error_of(DataConfig(source="csv", path=tmp_path / "empty.csv")))
    write_delimited(tmp_path / "header.csv", CSV_ROWS[:1], ",")
    assert "no data rows" in str(error_of(DataConfig(source="csv", path=tmp_path / "header.csv")))


def test_missing_column(tmp_path: Path) -> None:
    err = csv_error(tmp_path, CSV_ROWS, csv=CsvColumns(label="relevance"))
    assert_names(err, tmp_path / "set.csv", "relevance", None)
    assert "missing column" in str(err)


def test_grade_that_is_not_a_number(tmp_path: Path) -> None:
    # Data row 3 is line 4 (the header is line 1).
    err = csv_error(tmp_path, replace(CSV_ROWS, 3, 4, "n/a"))
    assert_names(err, tmp_path / "set.csv", "median_relevance", 4)
    assert "'n/a' is not a number" in str(err)


def test_empty_grade_in_a_tsv(tmp_path: Path) -> None:
    err = csv_error(tmp_path, replace(CSV_ROWS, 2, 4, ""), name="set.tsv")
    assert_names(err, tmp_path / "set.tsv", "median_relevance", 3)


def test_row_is_the_line_even_after_a_multiline_cell(tmp_path: Path) -> None:
    # Row 1's description spans three lines, so data row 3 starts on line 6.
    rows = replace(replace(CSV_ROWS, 1, 3, 'Mesh,\nsize 10,\n"light"'), 3, 4, "bad")
    err = csv_error(tmp_path, rows)
    assert_names(err, tmp_path / "set.csv", "median_relevance", 6)


def test_empty_query_text(tmp_path: Path) -> None:
    err = csv_error(tmp_path, replace(CSV_ROWS, 4, 1, "  "))
    assert_names(err, tmp_path / "set.csv", "query", 5)


def test_query_with_one_candidate(tmp_path: Path) -> None:
    rows = [*CSV_ROWS, ("9", "lamp", "Desk Lamp", "", "3", "0.0")]
    err = csv_error(tmp_path, rows)
    assert_names(err, tmp_path / "set.csv", "query", 7)  # ids derive from the query column
    assert "only one candidate" in str(err)


def test_duplicate_pair_with_explicit_ids(tmp_path: Path) -> None:
    rows = replace(CSV_ROWS, 3, 0, "1")  # row 3 repeats product id 1 for "red shoes" (line 2)
    err = csv_error(tmp_path, rows, csv=CsvColumns(product_id="id"))
    assert_names(err, tmp_path / "set.csv", "id", 4)
    assert "twice (first at row 2)" in str(err)


def test_grade_below_the_configured_scale(tmp_path: Path) -> None:
    err = csv_error(tmp_path, CSV_ROWS, csv=CsvColumns(label_min=2))
    assert_names(err, tmp_path / "set.csv", "median_relevance", 3)


def test_undecidable_delimiter(tmp_path: Path) -> None:
    (tmp_path / "set.dat").write_text("just one column\nand another line\n")
    err = error_of(DataConfig(source="csv", path=tmp_path / "set.dat"))
    assert "cannot tell the delimiter" in str(err) and str(tmp_path / "set.dat") in str(err)


def test_esci_unknown_label(tmp_path: Path) -> None:
    rows = list(ESCI_EXAMPLES)
    rows[2] = (*rows[2][:5], "X", 1)
    path = write_esci(tmp_path / "esci", rows, ESCI_PRODUCTS)
    err = error_of(DataConfig(source="esci", path=path))
    assert_names(err, path / EXAMPLES, "esci_label", 3)  # 1-based row of the parquet table


def test_esci_product_missing_from_products(tmp_path: Path) -> None:
    path = write_esci(tmp_path / "esci", ESCI_EXAMPLES, [p for p in ESCI_PRODUCTS if p[0] != "B3"])
    err = error_of(DataConfig(source="esci", path=path))
    assert_names(err, path / EXAMPLES, "product_id", 3)
    assert PRODUCTS in str(err)


def test_esci_missing_column_and_unreadable_parquet(tmp_path: Path) -> None:
    path = write_esci(tmp_path / "esci", ESCI_EXAMPLES, ESCI_PRODUCTS)
    pd.read_parquet(path / PRODUCTS).drop(columns="product_title").to_parquet(path / PRODUCTS)
    assert_names(error_of(DataConfig(source="esci", path=path)), path / PRODUCTS, "product_title", None)
    (path / EXAMPLES).write_text("not parquet")
    err = error_of(DataConfig(source="esci", path=path))
    assert "not a readable parquet file" in str(err) and str(path / EXAMPLES) in str(err)


def test_esci_duplicate_product(tmp_path: Path) -> None:
    path = write_esci(tmp_path / "esci", ESCI_EXAMPLES, [*ESCI_PRODUCTS, ("B2", "us", "Again", "", "")])
    assert_names(error_of(DataConfig(source="esci", path=path)), path / PRODUCTS, "product_id", 7)


def test_wands_unknown_label(tmp_path: Path) -> None:
    labels = "id\tquery_id\tproduct_id\tlabel\n0\t0\t10\tExact\n1\t0\t12\tMaybe\n"
    path = write_wands(tmp_path / "wands", labels)
    err = error_of(DataConfig(source="wands", path=path))
    assert_names(err, path / "label.csv", "label", 3)
    assert "'Maybe'" in str(err)


def test_wands_label_for_unknown_product(tmp_path: Path) -> None:
    labels = "id\tquery_id\tproduct_id\tlabel\n0\t0\t10\tExact\n1\t0\t99\tPartial\n"
    path = write_wands(tmp_path / "wands", labels)
    err = error_of(DataConfig(source="wands", path=path))
    assert_names(err, path / "label.csv", "product_id", 3)
    assert "'99' is not in product.csv" in str(err)


def test_wands_empty_query_and_missing_file(tmp_path: Path) -> None:
    path = write_wands(tmp_path / "wands")
    (path / "product.csv").unlink()
    assert_names(error_of(DataConfig(source="wands", path=path)), path / "product.csv", None, None)
    path = write_wands(tmp_path / "again")
    (path / "query.csv").write_text("query_id\tquery\n0\tsalon chair\n1\t \n")
    assert_names(error_of(DataConfig(source="wands", path=path)), path / "query.csv", "query", 3)


def test_validate_checks_gains_and_columns() -> None:
    frame = pd.DataFrame(
        {
            "query_id": ["a", "a"],
            "query": ["q", "q"],
            "product_id": ["x", "y"],
            "title": "",
            "description": "",
        }
    )
    with pytest.raises(DataError, match="missing column"):
        validate(frame, "mem")
    with pytest.raises(DataError, match=r"mem, column 'gain', row 2: gain nan is not a number >= 0"):
        validate(frame.assign(gain=[1.0, float("nan")]), "mem")
    with pytest.raises(DataError, match=r"row 1: gain -1\.0 is not"):
        validate(frame.assign(gain=[-1.0, 0.0]), "mem")


@pytest.mark.parametrize("name", ["latin1.csv", "latin1.csv.gz"])
def test_latin1_file_names_the_line_and_how_to_convert(tmp_path: Path, name: str) -> None:
    import gzip

    text = "query,product_title,median_relevance\nshoes,red shoe,3\ncafé,espresso cup,4\n"
    raw = text.encode("latin-1")
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    err = error_of(DataConfig(source="csv", path=path, csv=CsvColumns(label="median_relevance")))
    assert err.file == str(path)
    assert "line 3: byte 0xe9 is not UTF-8" in str(err)
    assert "iconv -f latin1 -t utf-8 latin1.csv" in str(err)
