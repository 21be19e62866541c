"""Rows drawn from a fitted Private-PGM model follow the model, as mbi's own sampler's do."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from synthpriv import synthesizers
from synthpriv.mrf_sampling import RowSampler, _flat_cdfs, _pick


@pytest.fixture(scope="module")
def model():
    """A fitted AIM model over four dependent columns (epsilon 10, so it has 2-way cliques)."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 20_000)
    b = (a + rng.integers(0, 2, a.size)) % 5
    c = (b * 2 + rng.integers(0, 3, a.size)) % 7
    d = rng.integers(0, 3, a.size)
    fitted = synthesizers.create("aim", 10.0, 1e-9, {"rounds": 8, "round_iters": 100, "final_iters": 300})
    fitted.fit(pd.DataFrame({"a": a, "b": b, "c": c, "d": d}), [5, 5, 7, 3])
    return fitted._model.synthesizer


def _share(rows: dict[str, np.ndarray], clique: tuple[str, ...], sizes: list[int]) -> np.ndarray:
    keys = np.ravel_multi_index([rows[c] for c in clique], sizes)
    return np.bincount(keys, minlength=int(np.prod(sizes))) / keys.size


def test_drawn_rows_follow_every_marginal_the_model_holds(model):
    rows = RowSampler(model).draw(400_000, np.random.default_rng(1))
    assert list(rows) == list(model.domain.attrs)
    assert any(len(cl) > 1 for cl in model.cliques)
    for clique in model.cliques:
        expected = np.asarray(model.marginals.project(clique).datavector())
        drawn = _share(rows, clique, [model.domain[c] for c in clique])
        assert 0.5 * np.abs(drawn - expected / expected.sum()).sum() < 0.01, clique


def test_drawn_rows_match_mbis_own_sampler_on_every_pair(model):
    ours = RowSampler(model).draw(200_000, np.random.default_rng(2))
    library = model.synthetic_data(rows=200_000, method="sample").to_dict()
    for pair in itertools.combinations(model.domain.attrs, 2):
        sizes = [model.domain[c] for c in pair]
        assert 0.5 * np.abs(_share(ours, pair, sizes) - _share(library, pair, sizes)).sum() < 0.02, pair


def test_each_group_draws_from_its_own_conditional_and_an_empty_group_draws_the_last_code():
    joint = np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 0.0], [0.3, 0.3, 0.4]])
    cdfs = _flat_cdfs(joint)
    assert np.all(np.diff(cdfs) >= 0)
    u = np.random.default_rng(3).random(300_000)
    group = np.repeat([0, 1, 2], 100_000)
    codes = _pick(cdfs, group, 3, u)
    assert np.allclose(np.bincount(codes[:100_000], minlength=3) / 100_000, [0.2, 0.8, 0.0], atol=0.01)
    assert set(codes[100_000:200_000]) == {2}
    assert np.allclose(np.bincount(codes[200_000:], minlength=3) / 100_000, [0.3, 0.3, 0.4], atol=0.01)


def test_a_saved_model_leaves_its_sampler_behind_and_samples_after_loading(tmp_path):
    codes = pd.DataFrame({"x": np.arange(3000) % 4, "y": np.arange(3000) % 3})
    fitted = synthesizers.create("mst", 3.0, 1e-9)
    fitted.fit(codes, [4, 3])
    first = fitted.sample(1000)
    fitted.save(str(tmp_path / "model.pkl"))
    loaded = synthesizers.Synthesizer.load(str(tmp_path / "model.pkl"))
    assert loaded._sampler is None
    again = loaded.sample(1000)
    assert list(again.columns) == list(first.columns) == ["x", "y"]
    assert again["x"].between(0, 3).all() and again["y"].between(0, 2).all()
