"""Reading source files into string tables, with every failure turned into a DataError naming the file.

Tables are read with every cell as text (empty cells as ""), so nothing is guessed: each loader parses
the columns it needs and reports the row of a bad value. A table's index is its 0-based data record
number; `Source.row` turns it into what an error reports: the 1-based line of a CSV/TSV file (found by
re-reading the file, only when there is an error, so quoted multi-line cells count right) or the 1-based
row of a parquet table.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.data.schema import DataError


@dataclass
class Source:
    path: Path
    delimiter: str | None = None  # None: parquet
    # Schema column -> the file's column, for errors found after the columns were renamed.
    names: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"
    _lines: list[int] = field(default_factory=list, repr=False)

    def row(self, label: Any) -> int | None:
        """The row an error reports for the record with this index label."""
        try:
            record = int(label)
        except (TypeError, ValueError):
            return None
        if self.delimiter is None:
            return record + 1
        if not self._lines:
            self._lines.extend(record_lines(self.path, self.delimiter, self.encoding))
        return self._lines[record] if 0 <= record < len(self._lines) else None

    def error(self, problem: str, column: str | None = None, label: Any = None) -> DataError:
        return DataError(str(self.path), problem, column, None if label is None else self.row(label))


def open_text(path: Path, encoding: str = "utf-8") -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def decode_error(path: Path, encoding: str, key: str = "data.csv.encoding") -> DataError:
    """Where the file stops being `encoding`: the line and byte offset of the first undecodable byte (pandas'
    own error gives a position inside one read buffer, not in the file), the setting to change and how to
    convert the file instead. Reads the whole file, but only once something already failed."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        utf8 = encoding.replace("_", "-").lower() in ("utf-8", "utf8")
        plain = path.name.removesuffix(".gz")
        advice = (
            f"the file is probably Latin-1 or Windows-1252: set `{key}: latin-1`, or convert it, e.g. "
            f"`iconv -f latin1 -t utf-8 {plain} > utf8-{plain}`"
            if utf8
            else f"set `{key}` to the file's encoding"
        )
        return DataError(
            str(path),
            f"line {line}: byte 0x{raw[e.start]:02x} is not {'UTF-8' if utf8 else encoding} "
            f"(byte offset {e.start}); {advice}",
            row=line,
        )
    return DataError(str(path), f"cannot read as {encoding} text")


def record_lines(path: Path, delimiter: str, encoding: str = "utf-8") -> list[int]:
    """1-based line on which each data record (header and blank lines excluded) starts."""
    starts: list[int] = []
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next_start = 1
        for record in reader:
            if record:
                starts.append(next_start)
            next_start = reader.line_num + 1
    return starts[1:]


def require_file(path: Path) -> Path:
    if not path.exists():
        raise DataError(str(path), "file not found")
    if not path.is_file():
        raise DataError(str(path), "not a file")
    if path.stat().st_size == 0:
        raise DataError(str(path), "file is empty")
    return path


def require_columns(table: pd.DataFrame | Sequence[str], needed: Sequence[str], path: Path) -> None:
    have = list(table.columns) if isinstance(table, pd.DataFrame) else list(table)
    missing = [c for c in needed if c not in have]
    if missing:
        raise DataError(str(path), f"missing column(s) {missing}; the file has {have}", column=missing[0])


def read_delimited(
    path: Path,
    delimiter: str,
    needed: Sequence[str],
    encoding: str = "utf-8",
    encoding_key: str = "data.csv.encoding",
) -> pd.DataFrame:
    """All cells as text; raises DataError for a missing/empty/unparseable/undecodable file (naming the
    line and byte, and `encoding_key`, the setting to change) or a missing column."""
    require_file(path)
    try:
        table = pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=False, compression="infer", encoding=encoding
        )
    except pd.errors.EmptyDataError as e:
        raise DataError(str(path), "file is empty") from e
    except pd.errors.ParserError as e:
        raise DataError(str(path), f"cannot parse as {_name(delimiter)}-separated text: {e}") from e
    except UnicodeDecodeError as e:
        raise decode_error(path, encoding, encoding_key) from e
    except (EOFError, OSError) as e:
        raise DataError(str(path), f"cannot read as {encoding} text: {e}") from e
    require_columns(table, needed, path)
    if table.empty:
        raise DataError(str(path), "no data rows below the header")
    return table


def read_parquet(path: Path, needed: Sequence[str], optional: Sequence[str] = ()) -> pd.DataFrame:
    """The needed (and any present optional) columns; text columns keep None for missing cells."""
    require_file(path)
    try:
        names = pq.read_schema(path).names
        require_columns(names, needed, path)
        columns = [*needed, *(c for c in optional if c in names)]
        table = pq.read_table(path, columns=columns).to_pandas()
    except (pa.ArrowException, OSError) as e:
        raise DataError(str(path), f"not a readable parquet file: {e}") from e
    if table.empty:
        raise DataError(str(path), "no rows")
    return table


def text(table: pd.DataFrame, column: str) -> pd.Series:
    """A column as stripped text, "" for missing cells (None/NaN in parquet, absent column)."""
    if column not in table.columns:
        return pd.Series("", index=table.index, dtype=str)
    return table[column].astype(object).where(table[column].notna(), "").astype(str).str.strip()


def first(mask: pd.Series | np.ndarray) -> int:
    """Position of the first True."""
    return int(np.argmax(np.asarray(mask, dtype=bool)))


def join_text(table: pd.DataFrame, columns: Sequence[str], sep: str = ". ") -> pd.Series:
    """The non-empty cells of `columns`, joined per row."""
    parts = [text(table, c).tolist() for c in columns]
    return pd.Series(
        [sep.join(x for x in row if x) for row in zip(*parts, strict=True)], index=table.index, dtype=str
    )


def unique_ids(table: pd.DataFrame, column: str, source: Source) -> pd.Index:
    """The column as an index of ids; DataError at the second occurrence of an id."""
    ids = text(table, column)
    dup = ids.duplicated()
    if dup.any():
        i = first(dup)
        raise source.error(f"id {ids.iloc[i]!r} appears twice", column, table.index[i])
    return pd.Index(ids)


def _name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))
