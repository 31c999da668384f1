"""Real data in the shapes it comes in: a Latin-1 export, and product fields in a second file."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.config import ConfigError, CsvColumns, DataConfig, ProductFile, load_config
from model.data import DataError, load

HEADER = "query,product_id,product_title,median_relevance\n"
JUDGEMENTS = [
    ("café table", "p1", "Table de café", "4"),
    ("café table", "p2", "Chaise", "1"),
    ("lamp", "p3", "Desk lamp", "3"),
    ("lamp", "p2", "Chaise", "1"),
]


def _judgements(path: Path, encoding: str, rows: list[tuple[str, ...]] = JUDGEMENTS) -> Path:
    path.write_bytes((HEADER + "".join(",".join(r) + "\n" for r in rows)).encode(encoding))
    return path


def _products(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_a_latin1_file_is_refused_with_the_line_byte_and_the_setting_to_change(tmp_path: Path) -> None:
    path = _judgements(tmp_path / "export.csv", "latin-1")
    with pytest.raises(DataError) as caught:
        load(DataConfig(source="csv", path=path))
    err = caught.value
    # Line 2 is the first data line; "caf" is 3 bytes after the 48-byte header, so 0xe9 is byte 51.
    assert err.file == str(path) and err.row == 2
    assert "line 2: byte 0xe9 is not UTF-8 (byte offset 51)" in str(err)
    assert "data.csv.encoding: latin-1" in str(err)


def test_the_encoding_setting_reads_it(tmp_path: Path) -> None:
    path = _judgements(tmp_path / "export.csv", "latin-1")
    frame = load(
        DataConfig(source="csv", path=path, csv=CsvColumns(encoding="latin-1", product_id="product_id"))
    )
    assert set(frame["query"]) == {"café table", "lamp"}
    assert "Table de café" in set(frame["title"])


def test_an_unknown_encoding_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: csv, path: x.csv, csv: {encoding: latin-9000}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.csv\.encoding: unknown text encoding 'latin-9000'"):
        load_config(bad)


def _cfg(judgements: Path, products: Path, **product: object) -> DataConfig:
    spec = ProductFile(path=products, fields=("description", "colour"), **product)  # type: ignore[arg-type]
    return DataConfig(source="csv", path=judgements, csv=CsvColumns(product_id="product_id", products=spec))


def test_product_fields_are_joined_by_id(tmp_path: Path) -> None:
    judgements = _judgements(tmp_path / "j.csv", "utf-8")
    products = _products(
        tmp_path / "products.tsv",
        "product_id\tdescription\tcolour\np1\tSolid oak\tbrown\np2\t\tred\np3\tLED, dimmable\twhite\n",
    )
    frame = load(_cfg(judgements, products)).set_index("product_id")
    # Fields in order, empty cells skipped; the ranking file had no description column.
    assert frame.loc["p1", "description"] == "Solid oak. brown"
    assert set(frame.loc["p2", "description"]) == {"red"}
    assert frame.loc["p3", "description"] == "LED, dimmable. white"


def test_an_id_missing_from_the_products_file_names_the_row(tmp_path: Path) -> None:
    judgements = _judgements(tmp_path / "j.csv", "utf-8")
    products = _products(tmp_path / "products.csv", "product_id,description,colour\np1,a,b\np2,c,d\n")
    with pytest.raises(DataError) as caught:
        load(_cfg(judgements, products))
    err = caught.value
    assert (err.file, err.column, err.row) == (str(judgements), "product_id", 4)
    assert f"'p3' is not in {products}" in str(err)


def test_a_missing_column_or_a_repeated_id_in_the_products_file(tmp_path: Path) -> None:
    judgements = _judgements(tmp_path / "j.csv", "utf-8")
    no_colour = _products(tmp_path / "a.csv", "product_id,description\np1,a\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['colour'\]") as caught:
        load(_cfg(judgements, no_colour))
    assert caught.value.file == str(no_colour)
    twice = _products(tmp_path / "b.csv", "product_id,description,colour\np1,a,b\np1,c,d\np2,e,f\np3,g,h\n")
    with pytest.raises(DataError, match="'p1' appears twice") as caught:
        load(_cfg(judgements, twice))
    assert (caught.value.file, caught.value.row) == (str(twice), 3)


def test_products_need_an_id_column_in_the_judgements(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: csv, path: x.csv, csv: {products: {path: p.csv}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"needs data\.csv\.product_id"):
        load_config(bad)
