"""Synthesizers see only declared code spaces, and their selection noise is not seedable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import snsynth.utils

from synthpriv import synthesizers
from synthpriv.domain import TableCodec
from synthpriv.spec import Column

COLUMNS = [
    Column(name="colour", type="categorical", categories=["red", "green", "blue"]),
    Column(name="size", type="integer", bounds=(0, 100), bins=5),
]


def _table(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], n), "size": rng.integers(0, 101, n)})


@pytest.mark.slow
def test_a_record_with_a_new_value_or_outlier_changes_nothing_in_the_output_domain():
    codec = TableCodec.from_columns(COLUMNS)
    base = _table()
    extra = pd.concat([base, pd.DataFrame({"colour": ["ultraviolet-unique"], "size": [10**9]})], ignore_index=True)
    for table in (base, extra):
        codes, _ = codec.encode(table)
        for _ in range(2):
            model = synthesizers.create("mst", 1.0, 1e-9)
            model.fit(codes, codec.cardinalities)
            out = codec.decode(model.sample(300), np.random.default_rng())
            assert list(out.columns) == ["colour", "size"]
            assert set(out["colour"]) <= {"red", "green", "blue", "OTHER"}
            assert "ultraviolet-unique" not in set(out["colour"])
            assert out["size"].between(0, 100).all()


def test_spend_is_declared_by_the_mechanism():
    model = synthesizers.create("mst", 0.5, 1e-8)
    spend = model.spend()
    assert (spend.epsilon, spend.delta) == (0.5, 1e-8) and "mst" in spend.mechanism


def test_unknown_synthesizer_and_duplicate_registration_are_refused():
    with pytest.raises(ValueError, match="unknown synthesizer"):
        synthesizers.create("gan-of-doom", 1.0, 1e-9)
    with pytest.raises(ValueError, match="already registered"):
        synthesizers.register(synthesizers.MST)


@pytest.mark.parametrize("draw", [
    lambda: snsynth.utils.exponential_mechanism(np.zeros(10_000), 1.0),
    lambda: synthesizers._OsRandomMST().exponential_mechanism(np.zeros(10_000), 1.0, 1.0),
])
def test_selection_draws_ignore_numpy_seeds(draw):
    picks = set()
    for _ in range(3):
        np.random.seed(0)
        picks.add(int(draw()))
    assert len(picks) > 1
