"""Read the sensitive table (CSV or Parquet) a batch of rows at a time, and fingerprint it.

CSV columns are read as text: each column is then parsed by the type the spec declares,
so a ZIP code keeps its leading zero and a stray string in a numeric column is counted
as out of domain rather than silently changing the column's type. Parquet keeps its own
types. Batches are Arrow tables; a Parquet source of any length streams into the workspace
without ever being whole in memory (a CSV is parsed whole first, see `_csv_batches`).
Error messages name the file and the problem, never a value from it.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthpriv.errors import InputError

#: Rows per batch when a source is streamed.
BATCH_ROWS = 1_000_000


def fingerprint(path: str | Path) -> str:
    """sha256 of the source file's bytes: identifies the input in the manifest without its rows."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _checked(path: str | Path, fmt: str) -> tuple[Path, str]:
    p = Path(path)
    if fmt == "auto":
        fmt = "parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv"
    if not p.exists():
        raise InputError(f"source.path: cannot read {p}: no such file")
    if not p.is_file():
        raise InputError(f"source.path: cannot read {p}: not a regular file")
    return p, fmt


def _parquet_batches(p: Path, batch_rows: int) -> Iterator[pa.Table]:
    source = pq.ParquetFile(p)
    empty = True
    for batch in source.iter_batches(batch_size=batch_rows):
        empty = False
        yield pa.Table.from_batches([batch])
    if empty:
        yield source.schema_arrow.empty_table()


def _csv_batches(p: Path, batch_rows: int) -> Iterator[pa.Table]:
    """A CSV is parsed whole, then handed on in batches: pandas' chunked reader silently drops
    the extra fields of a malformed row (pandas 2.3, C engine), where the whole-file read
    refuses it. Streaming CSV would need another parser; Parquet sources stream."""
    with open(p, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise InputError(f"source.path: {p} is empty")
    table = pd.read_csv(p, dtype=str, keep_default_na=True, on_bad_lines="error", encoding="utf-8")
    # pandas renames duplicate names ("a.1"): the header's own names keep them visible
    names = header if len(header) == table.shape[1] else [str(c) for c in table.columns]
    for start in range(0, max(len(table), 1), batch_rows):
        rows = table.iloc[start:start + batch_rows]
        yield pa.Table.from_arrays([pa.array(rows.iloc[:, i], type=pa.string(), from_pandas=True)
                                    for i in range(rows.shape[1])], names=names)


def read_batches(path: str | Path, fmt: str = "auto", batch_rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """The table at `path` in batches of up to `batch_rows` rows; `fmt` is csv, parquet, or auto
    (by extension). A missing or unreadable path fails here, before the first batch is asked
    for; an empty table still yields one batch, which carries its column names."""
    p, fmt = _checked(path, fmt)
    return _translated(_parquet_batches(p, batch_rows) if fmt == "parquet" else _csv_batches(p, batch_rows), p, fmt)


def _translated(batches: Iterator[pa.Table], p: Path, fmt: str) -> Iterator[pa.Table]:
    """Any failure while reading as an InputError naming the file, never its content."""
    try:
        yield from batches
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"source.path: cannot read {p}: permission denied") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"source.path: cannot parse {p} as {fmt} ({type(exc).__name__})") from None


def read_table(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """The whole table at `path`, for tools that need it at once (the `scan` command)."""
    return pa.concat_tables(read_batches(path, fmt)).to_pandas()
