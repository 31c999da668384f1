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
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import CsvColumns
from model.data.readers import Source, first, open_text, read_delimited, require_file, text
from model.data.schema import COLUMNS, DataError

log = logging.getLogger(__name__)
_BY_SUFFIX = {".tsv": "\t", ".tab": "\t", ".csv": ","}


def delimiter_of(path: Path) -> str:
    """From the extension (ignoring .gz), else sniffed among comma, tab, semicolon and pipe."""
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1].lower() in _BY_SUFFIX:
        return _BY_SUFFIX[suffixes[-1].lower()]
    require_file(path)
    try:
        with open_text(path) as fh:
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


def load_csv(path: Path, columns: CsvColumns) -> tuple[pd.DataFrame, Source]:
    """The frame (index: data record number) and its Source, for validation and errors."""
    names = {
        "query_id": columns.query_id or columns.query,
        "query": columns.query,
        "product_id": columns.product_id or columns.title,
        "gain": columns.label,
    }
    source = Source(path, delimiter_of(path), names)
    assert source.delimiter is not None
    optional = [c for c in (columns.description, columns.query_id, columns.product_id) if c]
    table = read_delimited(path, source.delimiter, [columns.query, columns.title, columns.label, *optional])
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
