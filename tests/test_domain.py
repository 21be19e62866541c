"""Codes come from public metadata only: data can change counts, never the domain."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import pandas as pd

from synthpriv.domain import ColumnCodec, TableCodec
from synthpriv.spec import Column

RNG = np.random.default_rng(0)


def test_numeric_values_are_clipped_into_declared_bins_and_counted():
    codec = ColumnCodec(Column(name="x", type="integer", bounds=(300, 850), bins=10))
    codes, outside = codec.encode(pd.Series([300, 850, 299, 10_000, 575]))
    assert outside == 2
    assert codes.min() >= 0 and codes.max() < codec.size
    assert codes[2] == codes[0] and codes[3] == codes[1]  # clipped to the edges
    decoded = codec.decode(codes, RNG)
    assert decoded.between(300, 850).all()


def test_unknown_category_maps_to_other_and_never_extends_the_domain():
    col = Column(name="c", type="categorical", categories=["a", "b"])
    codec = ColumnCodec(col)
    before = codec.size
    codes, outside = codec.encode(pd.Series(["a", "b", "secret-rare-value"]))
    assert codec.size == before == 3 and outside == 1
    assert list(codec.decode(codes, RNG)) == ["a", "b", "OTHER"]


def test_nullable_columns_get_a_null_code_and_decode_back_to_null():
    col = Column(name="d", type="date", bounds=(dt.date(2015, 1, 1), dt.date(2025, 12, 31)), nullable=True)
    codec = ColumnCodec(col)
    codes, outside = codec.encode(pd.Series(["2015-01-01", None, "not a date", "2030-01-01"]))
    assert outside == 2  # the unparsable value and the one past the upper bound
    assert codes[1] == codec.null_code
    decoded = codec.decode(codes, RNG)
    assert decoded[1] is None
    assert all(dt.date(2015, 1, 1) <= d <= dt.date(2025, 12, 31) for d in decoded.dropna())


def test_continuous_values_are_spread_within_bins_not_snapped_to_midpoints():
    codec = ColumnCodec(Column(name="f", type="float", bounds=(0, 100), bins=4))
    decoded = codec.decode(np.zeros(500, dtype=int), np.random.default_rng(1))
    assert decoded.between(0, 25).all() and decoded.nunique() > 400


def test_small_integer_ranges_decode_exactly():
    codec = ColumnCodec(Column(name="k", type="integer", bounds=(1, 5)))
    codes, _ = codec.encode(pd.Series([1, 2, 3, 4, 5]))
    assert codec.decode(codes, RNG).tolist() == [1, 2, 3, 4, 5]


def test_table_domain_is_identical_whatever_the_data():
    cols = [Column(name="c", type="categorical", categories=["a", "b"]),
            Column(name="n", type="float", bounds=(0, 1), bins=8)]
    codec = TableCodec.from_columns(cols)
    normal = pd.DataFrame({"c": ["a", "b"] * 50, "n": np.linspace(0, 1, 100)})
    odd = pd.concat([normal, pd.DataFrame({"c": ["zzz"], "n": [1e9]})], ignore_index=True)
    assert codec.cardinalities == [3, 8]
    a, _ = codec.encode(normal)
    b, outside = codec.encode(odd)
    assert outside == {"c": 1, "n": 1}
    assert b.max().tolist() <= [2, 7] and list(a.columns) == list(b.columns)


def test_only_the_bins_of_numbers_and_dates_are_ordered_codes():
    codec = TableCodec.from_columns([
        Column(name="c", type="categorical", categories=["a", "b"]),
        Column(name="n", type="float", bounds=(0, 1), bins=8, nullable=True),
        Column(name="d", type="date", bounds=(dt.date(2020, 1, 1), dt.date(2020, 12, 31)), bins=12),
        Column(name="b", type="boolean"),
    ])
    # the nullable number's null code (its ninth) follows its bins and is not one of them
    assert codec.ordered_codes == [0, 8, 12, 0]
    assert codec.cardinalities == [3, 9, 12, 3]


def test_a_domain_still_to_be_estimated_has_no_codes_yet():
    col = Column(name="x", type="float", bounds="estimate", estimate_epsilon=0.1)
    with pytest.raises(ValueError, match="x is still to be estimated"):
        TableCodec.from_columns([col])


def test_encoding_a_file_in_batches_matches_encoding_it_whole(tmp_path):
    """The train stage encodes batch by batch: codes and out-of-domain counts must not depend on the batching."""
    codec = TableCodec.from_columns([Column(name="x", type="integer", bounds=(0, 100), bins=10),
                                     Column(name="c", type="categorical", categories=["a", "b"])])
    table = pd.DataFrame({"x": [5, 500, 50, -3, 99, 1000, 7], "c": ["a", "z", "b", "a", "y", "b", "a"],
                          "ignored": range(7)})
    table.to_parquet(tmp_path / "rows.parquet", row_group_size=2)
    outside = codec.encode_file(tmp_path / "rows.parquet", tmp_path / "codes.parquet", batch_rows=3)
    whole, whole_outside = codec.encode(table)
    written = pd.read_parquet(tmp_path / "codes.parquet")
    assert outside == whole_outside == {"x": 3, "c": 2}
    assert list(written.columns) == ["x", "c"] and written.dtypes.map(str).tolist() == ["uint8", "uint8"]
    assert written.astype(np.int64).equals(whole.astype(np.int64))
