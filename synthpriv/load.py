"""Read the sensitive table (CSV or Parquet) and fingerprint it.

CSV columns are read as text: each column is then parsed by the type the spec declares,
so a ZIP code keeps its leading zero and a stray string in a numeric column is counted
as out of domain rather than silently changing the column's type. Error messages name
the file and the problem, never a value from it.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pandas as pd

from synthpriv.errors import InputError


def fingerprint(path: str | Path) -> str:
    """sha256 of the source file's bytes: identifies the input in the manifest without its rows."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def read_table(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """The table at `path`; `fmt` is csv, parquet, or auto (by extension)."""
    p = Path(path)
    if fmt == "auto":
        fmt = "parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv"
    if not p.exists():
        raise InputError(f"source.path: cannot read {p}: no such file")
    if not p.is_file():
        raise InputError(f"source.path: cannot read {p}: not a regular file")
    try:
        if fmt == "parquet":
            return pd.read_parquet(p)
        with open(p, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise InputError(f"source.path: {p} is empty")
        table = pd.read_csv(p, dtype=str, keep_default_na=True, on_bad_lines="error", encoding="utf-8")
    except InputError:
        raise
    except PermissionError:
        raise InputError(f"source.path: cannot read {p}: permission denied") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"source.path: cannot parse {p} as {fmt} ({type(exc).__name__})") from None
    if len(header) == len(table.columns):
        table.columns = header  # pandas renames duplicate names ("a.1"); keep them visible
    return table
