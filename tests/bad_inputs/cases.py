"""The bad-input corpus: each case builds a broken source or spec and states the outcome it must get.

A case is a function (df, spec, tmp, monkeypatch) -> source path or None. It may edit the
spec dict in place, change the environment, or patch a failure in. `df` is a fresh
300-row sample customer table.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from synthpriv import synthesizers


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable
    exit_code: int
    says: tuple[str, ...]
    spends: bool = False  # True only when the failure comes after training started


def _csv(df: pd.DataFrame, tmp: Path, name: str = "source.csv") -> Path:
    path = tmp / name
    df.to_csv(path, index=False)
    return path


def _column(spec: dict, name: str) -> dict:
    return next(c for c in spec["columns"] if c["name"] == name)


def _every_nth(df: pd.DataFrame, column: str, value, n: int = 5) -> pd.DataFrame:
    df = df.copy()
    df[column] = df[column].astype(object)
    df.loc[df.index[::n], column] = value
    return df


def empty_file(df, spec, tmp, mp):
    (tmp / "empty.csv").write_bytes(b"")
    return tmp / "empty.csv"


def header_only(df, spec, tmp, mp):
    return _csv(df.head(0), tmp)


def single_row(df, spec, tmp, mp):
    return _csv(df.head(1), tmp)


def all_null_column(df, spec, tmp, mp):
    return _csv(df.assign(income=np.nan), tmp)


def unique_categorical(df, spec, tmp, mp):
    return _csv(df.assign(segment=[f"seg-{i}" for i in range(len(df))]), tmp)


def million_distinct_values(df, spec, tmp, mp):
    spec["columns"] = [{"name": "customer_id", "type": "identifier"},
                       {"name": "zip", "type": "categorical", "categories": ["02108", "10001"]}]
    n = 1_000_000
    ids = np.char.add("C-", np.arange(n).astype(str))
    zips = np.char.zfill(np.arange(n).astype(str), 7)
    return _csv(pd.DataFrame({"customer_id": ids, "zip": zips}), tmp)


def mixed_types(df, spec, tmp, mp):
    return _csv(_every_nth(df, "credit_score", "high"), tmp)


def infinities(df, spec, tmp, mp):
    return _csv(_every_nth(df, "income", np.inf), tmp)


def nan_in_non_nullable(df, spec, tmp, mp):
    return _csv(_every_nth(df, "credit_score", np.nan), tmp)


def outside_bounds(df, spec, tmp, mp):
    return _csv(_every_nth(df, "credit_score", 990), tmp)


def emoji_in_numeric(df, spec, tmp, mp):
    return _csv(_every_nth(df, "income", "💰"), tmp)


def broken_quoting(df, spec, tmp, mp):
    path = _csv(df, tmp)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('C-1,"Unclosed quote,x@example.com,555,123-45-6789,1 A St\n')
    return path


def not_utf8(df, spec, tmp, mp):
    path = tmp / "latin1.csv"
    path.write_bytes(df.to_csv(index=False).replace("retail", "détail").encode("latin-1", errors="replace"))
    return path


def duplicate_columns(df, spec, tmp, mp):
    path = _csv(df, tmp)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("sex", "zip")
    path.write_text("\n".join(lines) + "\n")
    return path


def undeclared_source_column(df, spec, tmp, mp):
    return _csv(df.assign(loyalty_tier="gold"), tmp)


def declared_column_missing(df, spec, tmp, mp):
    return _csv(df.drop(columns=["segment"]), tmp)


def source_is_a_directory(df, spec, tmp, mp):
    (tmp / "adir").mkdir()
    return tmp / "adir"


def source_missing(df, spec, tmp, mp):
    return tmp / "nope.csv"


def wrong_format(df, spec, tmp, mp):
    spec["source"]["format"] = "parquet"
    return _csv(df, tmp)


def unreachable_store(df, spec, tmp, mp):
    (tmp / "a-file").write_text("")
    mp.setenv("SYNTHPRIV_STORE", str(tmp / "a-file" / "store"))
    return _csv(df, tmp)


def too_little_disk(df, spec, tmp, mp):
    mp.setenv("SYNTHPRIV_MIN_FREE_MB", str(10**12))
    return _csv(df, tmp)


def disk_fills_while_writing(df, spec, tmp, mp):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", "source.parquet")

    mp.setattr(pq.ParquetWriter, "write_table", full)
    return _csv(df, tmp)


def synthesizer_raises(df, spec, tmp, mp):
    def boom(self, codes, cardinalities, ordered=None):
        raise ValueError(f"bad value {df['email'].iloc[0]}")

    mp.setattr(synthesizers.Synthesizer, "fit", boom)
    return _csv(df, tmp)


def _spec_edit(edit):
    def build(df, spec, tmp, mp):
        edit(spec)
        return _csv(df, tmp)

    return build


def yaml_syntax_error(df, spec, tmp, mp):
    spec["__raw__"] = "name: [unclosed\n"
    return _csv(df, tmp)


CASES = [
    Case("empty file", empty_file, 2, ("source.path", "is empty")),
    Case("header only", header_only, 2, ("fewer rows than source.min_rows",)),
    Case("single row", single_row, 2, ("fewer rows than source.min_rows",)),
    Case("all-null column", all_null_column, 2, ("columns[income]: has no values at all",)),
    # the scan sees a row identifier where a category was declared: blocked before any budget
    Case("categorical with every value unique", unique_categorical, 3, ("segment (ROW_ID)", "pii.allow")),
    Case("a million distinct values", million_distinct_values, 2, ("columns[zip]", "100.0% of values are outside")),
    Case("mixed types in one column", mixed_types, 2, ("columns[credit_score]", "unparsable as integer")),
    Case("infinities", infinities, 2, ("columns[income]", "outside the declared bounds")),
    Case("NaN in a non-nullable column", nan_in_non_nullable, 2, ("columns[credit_score]: has missing values", "nullable")),
    Case("values outside the declared bounds", outside_bounds, 2, ("columns[credit_score]", "outside the declared bounds")),
    Case("emoji in a numeric column", emoji_in_numeric, 2, ("columns[income]", "unparsable as float")),
    Case("CSV with broken quoting", broken_quoting, 2, ("cannot parse", "as csv")),
    Case("CSV that is not UTF-8", not_utf8, 2, ("cannot parse", "UnicodeDecodeError")),
    Case("duplicate column names", duplicate_columns, 2, ("duplicate column names: zip",)),
    Case("source column missing from the spec", undeclared_source_column, 2, ("does not declare: loyalty_tier",)),
    Case("spec column missing from the source", declared_column_missing, 2, ("declared but not in the source: segment",)),
    Case("source is a directory", source_is_a_directory, 2, ("source.path", "not a regular file")),
    Case("source does not exist", source_missing, 2, ("source.path", "no such file")),
    Case("CSV declared as Parquet", wrong_format, 2, ("cannot parse", "as parquet")),
    Case("unreachable store", unreachable_store, 2, ("store: cannot write",)),
    Case("too little disk in the workspace", too_little_disk, 2, ("workspace: only", "SYNTHPRIV_MIN_FREE_MB")),
    Case("disk fills while writing", disk_fills_while_writing, 2, ("workspace: the disk is full",)),
    Case("synthesizer that raises", synthesizer_raises, 3, ("synthesizer failed (ValueError)", "budget is spent"), spends=True),
    Case("epsilon zero", _spec_edit(lambda s: s["privacy"].update(epsilon=0)), 2, ("privacy.epsilon",)),
    Case("epsilon negative", _spec_edit(lambda s: s["privacy"].update(epsilon=-1)), 2, ("privacy.epsilon",)),
    Case("epsilon absurdly large", _spec_edit(lambda s: s["privacy"].update(epsilon=50)), 2, ("allow_large_epsilon",)),
    Case("epsilon not a number", _spec_edit(lambda s: s["privacy"].update(epsilon="lots")), 2, ("privacy.epsilon",)),
    Case("delta too large", _spec_edit(lambda s: s["privacy"].update(delta=0.1)), 2, ("privacy.delta",)),
    Case("unknown field", _spec_edit(lambda s: s.update(publsh={})), 2, ("publsh", "unknown field")),
    Case("bounds reversed", _spec_edit(lambda s: _column(s, "income").update(bounds=[10, 0])), 2,
         ("columns[income]", "lower < upper")),
    Case("categorical without categories", _spec_edit(lambda s: _column(s, "sex").pop("categories")), 2,
         ("columns[sex]", "categories")),
    Case("unknown synthesizer", _spec_edit(lambda s: s["privacy"].update(synthesizer="gan9000")), 2,
         ("privacy.synthesizer",)),
    Case("spec that is not valid YAML", yaml_syntax_error, 2, ("not valid YAML",)),
]
