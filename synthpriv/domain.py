"""Encode a table into integer codes over a domain declared in the spec, and back.

This is what keeps the DP guarantee end to end: the code space of every column comes
from public metadata only (bounds, bins, category sets), so a value seen in one record
can change a count but never the domain, the bins or the schema. Values outside the
domain are clipped or mapped to the column's "other" code and counted for the private
run report. Decoding is post-processing, free under DP: continuous values are drawn
uniformly inside their bin rather than snapped to a midpoint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synthpriv.spec import Column, ColumnType, MAX_EXACT_INTEGER_BINS

_EPOCH = dt.date(1970, 1, 1)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class ColumnCodec:
    """The code space of one column: `size` codes, declared before any data is read."""

    column: Column

    @property
    def _labels(self) -> list[str]:
        if self.column.type is ColumnType.BOOLEAN:
            return ["false", "true"]
        return list(self.column.categories or [])

    @property
    def _is_categorical(self) -> bool:
        return self.column.type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN)

    @property
    def _exact_integers(self) -> bool:
        c = self.column
        if c.type is not ColumnType.INTEGER or c.bounds is None:
            return False
        return c.bin_count == int(c.bounds[1]) - int(c.bounds[0]) + 1 and c.bin_count <= MAX_EXACT_INTEGER_BINS

    @property
    def _edges(self) -> np.ndarray:
        lo, hi = to_number(self.column.bounds[0]), to_number(self.column.bounds[1])
        if self._exact_integers:
            return np.arange(lo - 0.5, hi + 1.0, 1.0)
        if self.column.type in (ColumnType.INTEGER, ColumnType.DATE):
            hi = hi + 1  # integer-valued: the last bin includes the upper bound itself
        return np.linspace(lo, hi, self.column.bin_count + 1)

    @property
    def value_codes(self) -> int:
        """Codes for non-null values: categories plus 'other', or bins."""
        return len(self._labels) + 1 if self._is_categorical else self.column.bin_count

    @property
    def null_code(self) -> int | None:
        return self.value_codes if self.column.nullable else None

    @property
    def size(self) -> int:
        return self.value_codes + (1 if self.column.nullable else 0)

    def encode(self, values: pd.Series) -> tuple[np.ndarray, int]:
        """Map values to codes; return the codes and how many values fell outside the domain."""
        if self._is_categorical:
            codes, missing, outside = self.encode_categorical(values)
        else:
            codes, missing, outside = self._encode_numeric(values)
        if self.column.nullable:
            codes[missing] = self.null_code
        else:
            outside |= missing
        return codes.astype(np.int64), int(outside.sum())

    def encode_categorical(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes ('other' for a null), which values are null, which lie outside the declared set;
        each distinct value cleaned and looked up once (`distinct_text`)."""
        labels = self._labels
        distinct_of, text = distinct_text(values)
        if self.column.type is ColumnType.BOOLEAN:
            low = text.str.lower()
            text = low.where(~low.isin(_TRUE), "true").where(~low.isin(_FALSE), "false")
        other = len(labels)
        lookup = {label: i for i, label in enumerate(labels)}
        # a null's position is -1: it takes the appended entry, 'other' and not outside
        known = np.append(text.isin([*labels, self.column.other_label]).to_numpy(dtype=bool, na_value=False), True)
        codes = np.append(text.map(lookup).fillna(other).to_numpy(dtype=np.int64), other)
        missing = distinct_of < 0
        return codes[distinct_of], missing, ~known[distinct_of]

    def _encode_numeric(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nums = parse_numeric(values, self.column.type)
        unparsable = np.isnan(nums) & ~values.isna().to_numpy()
        missing = np.isnan(nums)
        lo, hi = to_number(self.column.bounds[0]), to_number(self.column.bounds[1])
        outside = unparsable | (~missing & ((nums < lo) | (nums > hi)))
        clipped = np.clip(np.where(missing, lo, nums), lo, hi)
        codes = np.searchsorted(self._edges, clipped, side="right") - 1
        return np.clip(codes, 0, self.column.bin_count - 1), missing, outside

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        """Turn codes back into values of the column's declared type."""
        codes = np.asarray(codes, dtype=np.int64)
        null = codes == self.null_code if self.column.nullable else np.zeros(len(codes), bool)
        name = self.column.name
        if self._is_categorical:
            labels = np.array(self._labels + [self.column.other_label], dtype=object)
            out = labels[np.clip(codes, 0, len(labels) - 1)]
            if self.column.type is ColumnType.BOOLEAN:
                out = np.array([v == "true" if v in ("true", "false") else None for v in out], dtype=object)
            series = pd.Series(out, name=name, dtype="object")
            series[null] = None
            return series
        edges = self._edges
        b = np.clip(codes, 0, self.column.bin_count - 1)
        left, right = edges[b], edges[b + 1]
        if self._exact_integers:
            nums = np.round((left + right) / 2)
        else:
            nums = rng.uniform(left, right)
        lo, hi = to_number(self.column.bounds[0]), to_number(self.column.bounds[1])
        if self.column.type in (ColumnType.INTEGER, ColumnType.DATE):
            nums = np.clip(np.floor(nums), lo, hi)
        else:
            nums = np.clip(nums, lo, hi)
        if self.column.type is ColumnType.DATE:
            days = pd.to_datetime(nums.astype(np.int64), unit="D", origin="unix")
            series = pd.Series(days.date, name=name, dtype="object")
            series[null] = None
            return series
        if self.column.type is ColumnType.INTEGER:
            series = pd.Series(nums.astype(np.int64), name=name).astype("Int64")
            series[null] = pd.NA
            return series
        series = pd.Series(nums, name=name, dtype="float64")
        series[null] = np.nan
        return series


def distinct_text(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each row's position among the column's distinct values (-1 for a null), and those values
    as stripped text.

    String work is done once per distinct value: a column of millions of rows holds a few
    thousand at most, and per-row string operations dominated encoding and comparing large tables.
    """
    positions, distinct = pd.factorize(values.astype("string"))
    return positions, pd.Series(distinct, dtype="string").str.strip()


def to_number(bound: float | dt.date) -> float:
    """A bound as a number on the axis values are compared on (dates: days since the epoch)."""
    return float((bound - _EPOCH).days) if isinstance(bound, dt.date) else float(bound)


def parse_numeric(values: pd.Series, kind: ColumnType) -> np.ndarray:
    """Parse a column to floats (dates to days since the epoch); unparsable values become NaN."""
    if kind is ColumnType.DATE:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        days = (parsed - pd.Timestamp("1970-01-01")).dt.days
        return days.to_numpy(dtype=np.float64, na_value=np.nan)
    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    nums[~np.isfinite(nums)] = np.nan
    return nums


@dataclass(frozen=True)
class TableCodec:
    """The code space of every modelled column, in spec order."""

    codecs: tuple[ColumnCodec, ...]

    @classmethod
    def from_columns(cls, columns: list[Column]) -> TableCodec:
        """The codec of the modelled columns; each domain must be concrete (declared or already estimated)."""
        pending = [c.name for c in columns if c.modelled and c.estimated]
        if pending:
            raise ValueError(f"the domain of {', '.join(pending)} is still to be estimated "
                             "(synthpriv.dp_domain.resolve) before its codes exist")
        return cls(tuple(ColumnCodec(c) for c in columns if c.modelled))

    @property
    def names(self) -> list[str]:
        return [c.column.name for c in self.codecs]

    @property
    def cardinalities(self) -> list[int]:
        return [c.size for c in self.codecs]

    @property
    def ordered_codes(self) -> list[int]:
        """Per column, how many leading codes are ordered bins of a number or date (0 for
        categories; a nullable column's null code comes after its bins)."""
        return [0 if c._is_categorical else c.value_codes for c in self.codecs]

    def encode(self, table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
        """Codes for every modelled column, and per-column counts of out-of-domain values."""
        codes: dict[str, np.ndarray] = {}
        outside: dict[str, int] = {}
        for codec in self.codecs:
            codes[codec.column.name], outside[codec.column.name] = codec.encode(table[codec.column.name])
        return pd.DataFrame(codes), outside

    def encode_file(self, source: Path, dest: Path, batch_rows: int = 500_000) -> dict[str, int]:
        """Encode a parquet table into a parquet file of codes, one batch at a time.

        Only one batch of values is ever in memory, so a table of any length encodes within
        a fixed footprint; the codes take the narrowest unsigned type the declared
        cardinalities allow (usually one or two bytes a cell). Returns the out-of-domain
        counts per column, summed over the batches.
        """
        dtype = np.min_scalar_type(max(self.cardinalities, default=1))
        outside = dict.fromkeys(self.names, 0)
        schema = pa.schema([(n, pa.from_numpy_dtype(dtype)) for n in self.names])
        with pq.ParquetFile(source) as reader, pq.ParquetWriter(dest, schema) as writer:
            for batch in reader.iter_batches(batch_size=batch_rows, columns=self.names):
                codes, out = self.encode(batch.to_pandas())
                for name, count in out.items():
                    outside[name] += count
                writer.write_table(pa.Table.from_pandas(codes.astype(dtype), schema=schema, preserve_index=False))
        return outside

    def decode(self, codes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return pd.DataFrame({c.column.name: c.decode(codes[c.column.name].to_numpy(), rng) for c in self.codecs})

    def in_domain(self, table: pd.DataFrame) -> dict[str, int]:
        """Count values outside the declared domain per column (the privacy gate's check)."""
        return self.encode(table)[1]
