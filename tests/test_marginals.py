"""MST and AIM see the data only as marginal counts, streamed from a file or a frame."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import polars as pl
import pytest

from synthpriv import synthesizers
from synthpriv.marginals import Marginals

SIZES = [3, 4, 5]


def _codes(n: int = 5_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(0, 2, n)) % 4  # b depends on a: a pair worth modelling
    c = rng.choice(5, n, p=[0.5, 0.3, 0.19, 0.01, 0.0])  # a rare code and an absent one
    return pd.DataFrame({"a": a, "b": b, "c": c})


def _bincount(codes: pd.DataFrame, cols: list[int]) -> np.ndarray:
    dims = [SIZES[i] for i in cols]
    flat = np.ravel_multi_index(tuple(codes.iloc[:, i].to_numpy() for i in cols), dims)
    return np.bincount(flat, minlength=int(np.prod(dims))).reshape(dims)


@pytest.fixture
def on_disk(tmp_path) -> pl.LazyFrame:
    path = tmp_path / "codes.parquet"
    _codes().astype(np.uint16).to_parquet(path, index=False, row_group_size=700)
    return pl.scan_parquet(path)


@pytest.mark.parametrize("source", ["frame", "parquet"])
def test_every_clique_counts_exactly_what_the_rows_hold(source, on_disk):
    codes = _codes()
    marginals = Marginals.of(codes if source == "frame" else on_disk, SIZES)
    for way in (1, 2, 3):
        for cols in itertools.combinations(range(3), way):
            got = marginals.project([f"col{i}" for i in cols]).datavector(flatten=False)
            assert np.array_equal(got, _bincount(codes, list(cols)))


def test_compression_merges_codes_in_the_counts_as_the_library_merges_them_in_the_rows():
    codes = _codes()
    supports = {"col0": np.array([True, True, True]), "col1": np.array([True, False, True, False]),
                "col2": np.array([True, True, False, False, False])}
    merged = Marginals.of(codes, SIZES).compressed(supports)
    assert merged.domain.shape == (3, 3, 3)
    rewritten = codes.copy()
    rewritten["b"] = rewritten["b"].map({0: 0, 1: 2, 2: 1, 3: 2})
    rewritten["c"] = rewritten["c"].map({0: 0, 1: 1, 2: 2, 3: 2, 4: 2})
    expected = np.zeros((3, 3), dtype=float)
    np.add.at(expected, (rewritten["b"], rewritten["c"]), 1)
    assert np.array_equal(merged.project(("col1", "col2")).datavector(flatten=False), expected)


def test_a_merged_domain_sums_counts_through_its_mapping_and_merges_again_from_the_merged_codes():
    codes = _codes()
    marginals = Marginals.of(codes, SIZES, ordered=[3, 0, 5])
    assert marginals.ordered == {"col0": 3, "col1": 0, "col2": 5}
    merged = marginals.merged({"col2": np.array([0, 0, 1, 1, 2])})
    assert merged.domain.shape == (3, 4, 3)
    expected = np.zeros((4, 3))
    np.add.at(expected, (codes["b"], codes["c"].map({0: 0, 1: 0, 2: 1, 3: 1, 4: 2})), 1)
    assert np.array_equal(merged.project(("col1", "col2")).datavector(flatten=False), expected)
    twice = merged.merged({"col2": np.array([0, 0, 1])})
    assert np.array_equal(twice.project("col2").datavector(), [(codes["c"] < 4).sum(), (codes["c"] == 4).sum()])
    with pytest.raises(ValueError, match="col2: a mapping of 4 codes for a domain of 3"):
        merged.merged({"col2": np.array([0, 0, 1, 1])})


def test_codes_beyond_the_declared_cardinalities_are_refused():
    with pytest.raises(ValueError, match="outside the declared cardinalities"):
        Marginals.of(pd.DataFrame({"a": [0, 3]}), [3]).project("col0")
    with pytest.raises(ValueError, match="3 coded columns but 2 cardinalities"):
        Marginals.of(_codes(), [3, 4])
    with pytest.raises(ValueError, match="ordered: one count per column"):
        Marginals.of(_codes(), SIZES, ordered=[4, 0, 0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mst", "aim"])
def test_mst_and_aim_train_from_a_parquet_scan_and_keep_the_dependence(name, on_disk):
    model = synthesizers.create(name, 20.0, 1e-6, {"rounds": 6} if name == "aim" else {})
    model.fit(on_disk, SIZES)
    out = model.sample(20_000)
    assert list(out.columns) == ["a", "b", "c"]
    assert all(out[c].between(0, k - 1).all() for c, k in zip(out.columns, SIZES))
    real = _bincount(_codes(), [0, 1]) / 5_000
    synth = _bincount(out, [0, 1]) / 20_000
    assert 0.5 * np.abs(real - synth).sum() < 0.05  # the a->b dependence survives; independence gives ~0.4
    assert (out["c"] == 4).mean() < 0.01  # a code no row holds stays (almost) absent
