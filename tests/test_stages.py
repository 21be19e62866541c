"""Stages that stream the source a piece at a time must miss nothing and leave nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from synthpriv import stages
from synthpriv.errors import InputError
from synthpriv.gates import privacy
from synthpriv.sample_data import generate_customers
from synthpriv.settings import Settings
from synthpriv.spec import load_spec
from tests.conftest import DEMO_SPEC

RELEASED = [c.name for c in load_spec(DEMO_SPEC).modelled_columns]


def test_identifier_values_copied_into_the_release_are_found_in_every_batch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(stages, "BATCH_ROWS", 700)
    ctx = stages.RunContext(str(DEMO_SPEC), "run-1", Settings.from_env(tmp_path))
    source = generate_customers(3_000)
    source.loc[5, "customer_id"] = "F"  # equal to a declared category of `sex`: public, never an identifier
    source.to_parquet(ctx.path(stages.SOURCE), index=False)
    ctx.write_json(stages.SCAN, [])
    ctx.write_json(stages.META, {"undeclared_columns": []})
    synthetic = generate_customers(500, seed=5)[RELEASED].copy()
    copied = source["email"].iloc[[10, 1_500, 2_999]].tolist()  # in the first, a middle and the last batch
    synthetic.loc[:2, "zip"] = copied
    found = stages._identifier_values(ctx, privacy.distinct_cells(synthetic))
    assert found == frozenset(copied)
    assert privacy.copied_identifier_values(synthetic, found) == 3
    every = stages._identifier_values(ctx)  # what sampling avoids when it draws fakes
    assert every >= set(source["email"]) | set(source["customer_id"].iloc[6:]) and "F" not in every


def _batches(*tables: pa.Table) -> Iterator[pa.Table]:
    yield from tables


def test_the_source_streams_into_the_workspace_declared_columns_first(tmp_path: Path) -> None:
    spec = load_spec(DEMO_SPEC)
    source = generate_customers(3_000)
    reordered = source[list(reversed(source.columns))].assign(loyalty="gold")
    first, rest = reordered.iloc[:1_000].copy(), reordered.iloc[1_000:]
    first["notes"] = None  # empty throughout the first batch: typed null there, text later
    dest = tmp_path / "source.parquet"
    undeclared = stages._copy_source(_batches(pa.Table.from_pandas(first, preserve_index=False),
                                              pa.Table.from_pandas(rest, preserve_index=False)), spec, dest)
    assert undeclared == ["loyalty"]
    written = pd.read_parquet(dest)
    assert list(written.columns) == [c.name for c in spec.columns] + ["loyalty"]
    assert len(written) == 3_000 and written["customer_id"].tolist() == source["customer_id"].tolist()
    assert written["notes"].iloc[1_000:].tolist() == rest["notes"].tolist()


def test_a_bad_source_reports_every_problem_and_leaves_no_file(tmp_path: Path) -> None:
    spec = load_spec(DEMO_SPEC)
    batch = pa.Table.from_pandas(generate_customers(5).drop(columns=["segment"]), preserve_index=False)
    dest = tmp_path / "source.parquet"
    with pytest.raises(InputError) as err:
        stages._copy_source(_batches(batch, batch), spec, dest)
    assert "fewer rows than source.min_rows" in str(err.value) and "not in the source: segment" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_streaming_leaves_no_partial_source(tmp_path: Path) -> None:
    def failing() -> Iterator[pa.Table]:
        yield pa.Table.from_pandas(generate_customers(1_000), preserve_index=False)
        raise InputError("source.path: cannot parse it")

    with pytest.raises(InputError):
        stages._copy_source(failing(), load_spec(DEMO_SPEC), tmp_path / "source.parquet")
    assert list(tmp_path.iterdir()) == []
