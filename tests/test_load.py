"""Sources stream in batches: every row arrives once, as text for CSV, and failures name no value."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from synthpriv.errors import InputError
from synthpriv.load import read_batches, read_table
from synthpriv.sample_data import generate_customers


def test_a_csv_streams_in_batches_that_add_up_to_the_whole_table(tmp_path: Path) -> None:
    df = generate_customers(2_500)
    path = tmp_path / "source.csv"
    df.to_csv(path, index=False)
    batches = list(read_batches(path, batch_rows=1_000))
    assert [b.num_rows for b in batches] == [1_000, 1_000, 500]
    whole = pa.concat_tables(batches)
    assert whole.column_names == list(df.columns)
    assert all(pa.types.is_string(t) for t in whole.schema.types)  # parsed later, by the declared type
    assert whole.column("zip").to_pylist() == df["zip"].tolist()  # leading zeros kept


def test_a_header_only_source_yields_its_column_names(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    generate_customers(10).head(0).to_csv(path, index=False)
    (batch,) = read_batches(path)
    assert batch.num_rows == 0 and "email" in batch.column_names


def test_a_parquet_source_streams_with_its_own_types(tmp_path: Path) -> None:
    df = generate_customers(2_500)
    path = tmp_path / "source.parquet"
    df.to_parquet(path, index=False, row_group_size=700)
    batches = list(read_batches(path, batch_rows=1_000))
    assert sum(b.num_rows for b in batches) == 2_500
    assert pa.types.is_floating(batches[0].schema.field("income").type)
    assert read_table(path)["customer_id"].tolist() == df["customer_id"].tolist()


def test_a_missing_file_fails_before_any_batch_is_asked_for(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_batches(tmp_path / "nope.csv")


def test_a_row_with_extra_fields_anywhere_fails_and_the_error_names_no_value(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    good = "id,name\n" + "".join(f"{i},row{i}\n" for i in range(2_000))
    path.write_text(good + "3000,secret-value,one field too many\n")
    with pytest.raises(InputError, match="cannot parse") as err:
        list(read_batches(path, batch_rows=500))
    assert "secret-value" not in str(err.value)
