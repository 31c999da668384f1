"""Amazon ESCI (Shopping Queries Dataset, Reddy et al. 2022) -> ranking frame.

Reads `shopping_queries_dataset_examples.parquet` and `shopping_queries_dataset_products.parquet` from
one directory, keeps the task-1 subset (`small_version == 1`) of one product locale and maps the labels
with schema.ESCI_GAINS (E=3, S=2, C=1, I=0; the full words are accepted too). The dataset's own
train/test column is ignored: splits are made by query id like every other source.

Title is `product_title`; the description joins brand, colour, bullet points and description with HTML
tags removed. Errors name the file and its 1-based table row.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from model.data.readers import Source, first, join_text, read_parquet, text, unique_ids
from model.data.schema import COLUMNS, ESCI_GAINS

EXAMPLES = "shopping_queries_dataset_examples.parquet"
PRODUCTS = "shopping_queries_dataset_products.parquet"
_LABELS = {**ESCI_GAINS, "Exact": 3.0, "Substitute": 2.0, "Complement": 1.0, "Irrelevant": 0.0}
_EXAMPLE_COLUMNS = ("query", "query_id", "product_id", "product_locale", "esci_label", "small_version")
_PRODUCT_COLUMNS = ("product_id", "product_locale", "product_title")
_PRODUCT_TEXT = ("product_brand", "product_color", "product_bullet_point", "product_description")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# Descriptions run to thousands of characters; rankers read the first few dozen words.
MAX_DESCRIPTION_CHARS = 2000


def _products(path: Path, locale: str, wanted: pd.Series) -> tuple[pd.Index, pd.Series, pd.Series]:
    """Ids, titles and descriptions of the locale's products that `wanted` names (text work is done
    for those only: the full file has over a million products with long HTML descriptions)."""
    source = Source(path)
    table = read_parquet(path, _PRODUCT_COLUMNS, _PRODUCT_TEXT)
    table = table[text(table, "product_locale") == locale]
    if table.empty:
        raise source.error(f"no products for locale {locale!r}", "product_locale")
    table = table[unique_ids(table, "product_id", source).isin(set(wanted))]
    description = (
        join_text(table, _PRODUCT_TEXT)
        .str.slice(0, 2 * MAX_DESCRIPTION_CHARS)
        .str.replace(_TAG, " ", regex=True)
        .str.replace(_SPACE, " ", regex=True)
    )
    ids = pd.Index(text(table, "product_id"))
    return ids, text(table, "product_title"), description.str.strip().str.slice(0, MAX_DESCRIPTION_CHARS)


def load_esci(directory: Path, locale: str = "us") -> tuple[pd.DataFrame, Source]:
    """The frame (index: examples-table record) and the examples file, for validation and errors."""
    source = Source(directory / EXAMPLES, names={"gain": "esci_label"})
    examples = read_parquet(source.path, _EXAMPLE_COLUMNS)
    small = pd.to_numeric(examples["small_version"], errors="coerce").fillna(0).astype(int) == 1
    examples = examples[small & (text(examples, "product_locale") == locale)]
    if examples.empty:
        raise source.error(f"no task-1 (small_version == 1) examples for locale {locale!r}", "product_locale")
    labels = text(examples, "esci_label")
    gain = labels.map(_LABELS)
    if gain.isna().any():
        i = first(gain.isna())
        problem = f"unknown label {labels.iloc[i]!r}; expected one of E, S, C, I"
        raise source.error(problem, "esci_label", examples.index[i])
    product_ids = text(examples, "product_id")
    ids, titles, descriptions = _products(directory / PRODUCTS, locale, product_ids)
    at = ids.get_indexer(pd.Index(product_ids))
    if (at < 0).any():
        i = first(at < 0)
        missing = f"product {product_ids.iloc[i]!r} is not in {PRODUCTS} for locale {locale!r}"
        raise source.error(missing, "product_id", examples.index[i])
    frame = pd.DataFrame(
        {
            "query_id": text(examples, "query_id"),
            "query": text(examples, "query"),
            "product_id": product_ids,
            "title": titles.to_numpy()[at],
            "description": descriptions.to_numpy()[at],
            "gain": gain.astype(float),
        },
        columns=list(COLUMNS),
    )
    return frame, source
