"""Metamorphic test of end-to-end DP: one extra record with a new value or an extreme outlier
changes nothing about the output's domain, bins or schema, and its value never comes out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpriv import dp_domain, synthesizers
from synthpriv.domain import TableCodec
from synthpriv.spec import Column

COLUMNS = [
    Column(name="colour", type="categorical", categories=["red", "green", "blue"]),
    Column(name="size", type="integer", bounds=(0, 100), bins=5),
    Column(name="income", type="float", bounds=(0, 100_000), bins=8, nullable=True),
]
SECRET, OUTLIER = "ultraviolet-unique", 10**12
RUNS = 3


def _base(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    income = rng.uniform(0, 100_000, n)
    income[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.integers(0, 101, n),
                         "income": income})


def _with_extra_record(table: pd.DataFrame) -> pd.DataFrame:
    extra = pd.DataFrame({"colour": [SECRET], "size": [OUTLIER], "income": [float(OUTLIER)]})
    return pd.concat([table, extra], ignore_index=True)


def _release(name: str, table: pd.DataFrame, columns: list[Column]) -> tuple[TableCodec, pd.DataFrame]:
    codec = TableCodec.from_columns(columns)
    codes, _ = codec.encode(table)
    model = synthesizers.create(name, 1.0, 1e-9)
    model.fit(codes, codec.cardinalities, codec.ordered_codes)  # as the train stage fits
    return codec, codec.decode(model.sample(300), np.random.default_rng())


def _edges(codec: TableCodec) -> list[list[float]]:
    return [list(c._edges) for c in codec.codecs if not c._is_categorical]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["aim", "mst"])
def test_one_new_value_or_outlier_changes_no_domain_bin_or_schema_and_never_appears(name):
    base_codec, base_out = _release(name, _base(), COLUMNS)
    for _ in range(RUNS):
        codec, out = _release(name, _with_extra_record(_base()), COLUMNS)
        assert codec.cardinalities == base_codec.cardinalities and _edges(codec) == _edges(base_codec)
        assert list(out.columns) == list(base_out.columns) and out.dtypes.equals(base_out.dtypes)
        assert set(out["colour"]) <= {"red", "green", "blue", "OTHER"}
        assert SECRET not in set(out["colour"])
        assert out["size"].between(0, 100).all() and out["income"].dropna().between(0, 100_000).all()


def test_dp_key_discovery_never_learns_the_new_value():
    col = Column(name="colour", type="categorical", categories="estimate", estimate_epsilon=1.0)
    table = _with_extra_record(_base(2000))
    found = {tuple(dp_domain.resolve([col], table, delta=1e-9)[0].categories) for _ in range(10)}
    assert found == {("blue", "green", "red")}
