"""A generic graded CSV/TSV file (optionally .gz) -> ranking frame, through a CsvColumns mapping.

Delimiter: tab for .tsv/.tab, comma for .csv (before any .gz), otherwise sniffed from the first lines.
Labels are numeric grades on any scale (0-3, 1-4, 0.0-1.0): gain = grade - label_min, where label_min is
CsvColumns.label_min or, when unset, the lowest grade in the file. The lowest grade of the scale is thus
"irrelevant" (gain 0) and the scale's spacing is kept, so a 1-4 scale gives gains 0-3 like ESCI.

Without id columns, ids are hashes of the text: the query text for query_id, title + description for
product_id. Identical listings judged more than once for the same query (Crowdflower repeats 314)
are then the same product to any ranker and are merged into one row with the mean gain. With an explicit
product_id column, a repeated (query_id, product_id) pair is an error instead.
Errors name the file, the column and the 1-based line.

`encoding` (CsvColumns.encoding, default utf-8) reads Latin-1/CP-1252 exports; a byte the encoding
cannot decode is an error naming the file, line and byte offset and the setting to change. A second
file of product fields (CsvColumns.products: the usual catalog export) is joined on the product id:
its `fields` are appended to the description (and its `title`, if named, replaces the title); an id of
the judgement file missing from it, a repeated id, or a missing column is an error naming them.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import CsvColumns
from model.data.readers import (
    Source,
    first,
    join_text,
    open_text,
    read_delimited,
    require_file,
    text,
    unique_ids,
)
from model.data.schema import COLUMNS, DataError

log = logging.getLogger(__name__)
_BY_SUFFIX = {".tsv": "\t", ".tab": "\t", ".csv": ","}


def delimiter_of(path: Path, encoding: str = "utf-8") -> str:
    """From the extension (ignoring .gz), else sniffed among comma, tab, semicolon and pipe."""
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1].lower() in _BY_SUFFIX:
        return _BY_SUFFIX[suffixes[-1].lower()]
    require_file(path)
    try:
        with open_text(path, encoding) as fh:
            sample = fh.read(64 * 1024)
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except (csv.Error, UnicodeDecodeError, OSError) as e:
        raise DataError(str(path), f"cannot tell the delimiter ({e}); name the file .csv or .tsv") from e


def _grades(table: pd.DataFrame, column: str, source: Source) -> pd.Series:
    raw = text(table, column)
    grades = pd.to_numeric(raw, errors="coerce")
    bad = grades.isna() | ~np.isfinite(grades.to_numpy(dtype=float))
    if bad.any():
        i = first(bad)
        shown = raw.iloc[i] or "an empty cell"
        raise source.error(f"grade {shown!r} is not a number", column, table.index[i])
    return grades.astype(float)


def _hash_ids(prefix: str, values: pd.Series) -> pd.Series:
    # pandas' hash has a fixed key, so ids are stable across runs and machines.
    hashed = pd.util.hash_pandas_object(values, index=False).to_numpy()
    return pd.Series([f"{prefix}{h:016x}" for h in hashed], index=values.index, dtype=str)


def _merge_repeats(frame: pd.DataFrame) -> pd.DataFrame:
    repeated = frame.duplicated(["query_id", "product_id"], keep="first")
    if not repeated.any():
        return frame
    mean = frame.groupby(["query_id", "product_id"], sort=False)["gain"].transform("mean")
    log.info("merged %d repeated judgements of identical listings (mean gain)", int(repeated.sum()))
    return frame.assign(gain=mean)[~repeated]


def _join_products(
    table: pd.DataFrame, source: Source, columns: CsvColumns
) -> tuple[pd.Series | None, pd.Series]:
    """(title or None, extra description text) per row of `table`, from the products file by id.
    DataError naming the file, column and row of a missing column, a repeated id or an unknown id."""
    spec = columns.products
    assert spec is not None and columns.product_id is not None  # CsvColumns checks both
    path = spec.path.expanduser()
    products = Source(path, delimiter_of(path, spec.encoding), encoding=spec.encoding)
    assert products.delimiter is not None
    needed = [spec.id, *spec.fields, *([spec.title] if spec.title else [])]
    table_p = read_delimited(path, products.delimiter, needed, spec.encoding, "data.csv.products.encoding")
    ids = unique_ids(table_p, spec.id, products)
    wanted = text(table, columns.product_id)
    at = ids.get_indexer(pd.Index(wanted))
    if (at < 0).any():
        i = first(at < 0)
        problem = f"product id {wanted.iloc[i]!r} is not in {path} (column {spec.id!r})"
        raise source.error(problem, columns.product_id, table.index[i])
    extra = join_text(table_p, list(spec.fields)).to_numpy()[at]
    title = text(table_p, spec.title).to_numpy()[at] if spec.title else None
    index = table.index
    return (None if title is None else pd.Series(title, index=index, dtype=str)), pd.Series(
        extra, index=index, dtype=str
    )


def load_csv(path: Path, columns: CsvColumns) -> tuple[pd.DataFrame, Source]:
    """The frame (index: data record number) and its Source, for validation and errors."""
    names = {
        "query_id": columns.query_id or columns.query,
        "query": columns.query,
        "product_id": columns.product_id or columns.title,
        "gain": columns.label,
    }
    source = Source(path, delimiter_of(path, columns.encoding), names, encoding=columns.encoding)
    assert source.delimiter is not None
    optional = [c for c in (columns.description, columns.query_id, columns.product_id) if c]
    # With the title in the products file, the judgement file may hold ids only.
    title_here = columns.products is None or columns.products.title is None
    needed = [columns.query, *([columns.title] if title_here else []), columns.label, *optional]
    table = read_delimited(path, source.delimiter, needed, columns.encoding)
    grades = _grades(table, columns.label, source)
    lowest = float(grades.min()) if columns.label_min is None else columns.label_min
    if (grades < lowest).any():
        i = first(grades < lowest)
        problem = f"grade {grades.iloc[i]} is below label_min {lowest}"
        raise source.error(problem, columns.label, table.index[i])
    query, title = text(table, columns.query), text(table, columns.title)
    description = (
        text(table, columns.description) if columns.description else pd.Series("", index=table.index)
    )
    if columns.products is not None:
        joined_title, extra = _join_products(table, source, columns)
        title = joined_title if joined_title is not None else title
        description = pd.Series(
            [". ".join(x for x in pair if x) for pair in zip(description, extra, strict=True)],
            index=table.index,
            dtype=str,
        )
    frame = pd.DataFrame(
        {
            "query_id": text(table, columns.query_id) if columns.query_id else _hash_ids("q", query),
            "query": query,
            "product_id": (
                text(table, columns.product_id)
                if columns.product_id
                else _hash_ids("p", title + "\x1f" + description)
            ),
            "title": title,
            "description": description,
            "gain": grades - lowest,
        },
        columns=list(COLUMNS),
    )
    return (frame if columns.product_id else _merge_repeats(frame)), source
