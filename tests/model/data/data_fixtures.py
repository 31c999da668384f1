"""Tiny ESCI, WANDS and CSV/TSV files for the data tests, written into pytest's tmp_path."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from model.data.esci import EXAMPLES, PRODUCTS


def write_esci(directory: Path, examples: list[tuple], products: list[tuple]) -> Path:
    directory.mkdir(exist_ok=True)
    ex_cols = [
        "example_id",
        "query",
        "query_id",
        "product_id",
        "product_locale",
        "esci_label",
        "small_version",
    ]
    ex = pd.DataFrame(examples, columns=ex_cols).assign(large_version=1, split="train")
    ex.to_parquet(directory / EXAMPLES, index=False)
    pr_cols = ["product_id", "product_locale", "product_title", "product_description", "product_bullet_point"]
    pr = pd.DataFrame(products, columns=pr_cols).assign(product_brand="Acme", product_color=None)
    pr.to_parquet(directory / PRODUCTS, index=False)
    return directory


ESCI_EXAMPLES = [
    (0, "red shoes", 1, "B1", "us", "E", 1),
    (1, "red shoes", 1, "B2", "us", "S", 1),
    (2, "red shoes", 1, "B3", "us", "C", 1),
    (3, "red shoes", 1, "B4", "us", "I", 1),
    (4, "red shoes", 1, "B5", "us", "E", 0),  # large version only: left out
    (5, "zapatos", 2, "B1", "es", "E", 1),  # other locale: left out
    (6, "sofa", 3, "B4", "us", "Exact", 1),
    (7, "sofa", 3, "B3", "us", "Irrelevant", 1),
]
ESCI_PRODUCTS = [
    ("B1", "us", "Red Shoe", "<p>Soft <b>leather</b></p>", "Light"),
    ("B2", "us", "Blue Shoe", None, None),
    ("B3", "us", "Shoe Polish", "", "Black wax"),
    ("B4", "us", "Grey Sofa", "Three seats", None),
    ("B5", "us", "Green Shoe", "", ""),
    ("B1", "es", "Zapato Rojo", "", ""),
]


def write_wands(directory: Path, labels: str | None = None) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "query.csv").write_text("query_id\tquery\tquery_class\n0\tsalon chair\tChairs\n1\tdesk\t\n")
    (directory / "product.csv").write_text(
        "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features\t"
        "rating_count\taverage_rating\treview_count\n"
        "10\tsalon chair\tSalon Chairs\tCommercial / Salon\thydraulic pump\tcolor:black\t3\t4.5\t3\n"
        "11\tcomputer desk\tDesks\tOffice / Desks\t\t\t\t\t\n"
        "12\tbar stool\tStools\t\tswivel seat\t\t1\t5.0\t1\n"
    )
    if labels is None:
        rows = ["0\t0\t10\tExact", "1\t0\t12\tPartial", "2\t1\t11\tExact", "3\t1\t12\tIrrelevant"]
        labels = "id\tquery_id\tproduct_id\tlabel\n" + "".join(f"{r}\n" for r in rows)
    (directory / "label.csv").write_text(labels)
    return directory


CSV_ROWS = [
    ("id", "query", "product_title", "product_description", "median_relevance", "relevance_variance"),
    ("1", "red shoes", "Red Running Shoe", "Mesh, size 10", "4", "0.0"),
    ("2", "red shoes", "Shoe Polish", "", "1", "0.5"),
    ("4", "red shoes", "Blue Running Shoe", "Mesh", "3", "0.4"),
    ("5", "sofa", "Grey Sofa", "Three seats, with a comma", "4", "0.0"),
    ("7", "sofa", "Sofa Cover", "", "2", "0.0"),
]


def write_delimited(path: Path, rows: list[tuple[str, ...]], sep: str) -> Path:
    def cell(value: str) -> str:
        quoted = value.replace('"', '""')
        return f'"{quoted}"' if sep in value or '"' in value or "\n" in value else value

    body = "".join(sep.join(cell(v) for v in row) + "\n" for row in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(body.encode()))
    else:
        path.write_text(body, encoding="utf-8")
    return path
