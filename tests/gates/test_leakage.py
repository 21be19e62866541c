"""The leakage gate blocks copied and lightly jittered training rows and passes an honest generator."""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np
import pandas as pd
import pytest

from synthpriv.gates import leakage
from synthpriv.gates.leakage import encode, nearest_distances
from synthpriv.sample_data import generate_customers
from synthpriv.spec import NUMERIC_TYPES, ColumnType, load_spec
from tests.conftest import DEMO_SPEC
from tests.gates import stand_ins

SPEC = load_spec(DEMO_SPEC)
RELEASED = [c.name for c in SPEC.modelled_columns]
ROWS = 2_000


@cache
def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout: two equal halves of one real table."""
    real = generate_customers(2 * ROWS, seed=7)[RELEASED]
    return real.iloc[:ROWS].reset_index(drop=True), real.iloc[ROWS:].reset_index(drop=True)


def _copier() -> pd.DataFrame:
    return _split()[0].sample(frac=1.0, random_state=1).reset_index(drop=True)


def _noisy_copier() -> pd.DataFrame:
    return stand_ins.jittered(_copier())


def _honest() -> pd.DataFrame:
    return stand_ins.honest(ROWS, RELEASED)


def _results(synthetic: pd.DataFrame, **kwargs) -> dict[str, object]:
    training, holdout = _split()
    return {r.metric: r for r in leakage.run(synthetic, training, holdout, SPEC, **kwargs)}


def test_a_synthesizer_that_copies_training_rows_is_blocked_by_every_metric():
    r = _results(_copier())
    assert [m for m, res in r.items() if res.passed] == []
    assert r["dcr_excess"].value == 1.0 and r["membership_auc"].value == 1.0 and r["nndr_mean"].value == 0.0


def test_copies_with_a_little_noise_are_still_blocked():
    r = _results(_noisy_copier())
    assert not r["dcr_excess"].passed and r["dcr_excess"].value > 0.9
    assert not r["membership_auc"].passed and r["membership_auc"].value > 0.95
    assert not r["nndr_mean"].passed


def test_an_honest_generator_passes_every_metric():
    r = _results(_honest())
    assert all(res.passed for res in r.values()), [res.describe() for res in r.values()]
    assert abs(r["dcr_excess"].value) < 0.1 and abs(r["membership_auc"].value - 0.5) < 0.05
    assert r["nndr_mean"].value > leakage.LeakageThresholds().min_nndr_mean + 0.15


def test_a_subsample_reports_an_interval_around_the_full_value():
    training, holdout = _split()
    full = leakage.dcr_excess(_honest(), training, holdout, SPEC)
    part = leakage.dcr_excess(_honest(), training, holdout, SPEC, max_rows=500)
    assert (full.rows, full.low, full.high) == (ROWS, full.value, full.value)
    assert part.rows == 500 and part.of == ROWS and part.low < full.value < part.high


def test_dcr_is_measured_against_chance_when_training_outnumbers_the_holdout():
    training, holdout = _split()
    small_holdout = holdout.iloc[: ROWS // 4]
    assert abs(leakage.dcr_excess(_honest(), training, small_holdout, SPEC).value) < 0.1
    copies = training.sample(n=ROWS // 2, random_state=3)  # copies of only some training rows
    assert leakage.dcr_excess(copies, training, small_holdout, SPEC).value > 0.95


def test_a_metric_that_errors_fails_closed_without_quoting_data():
    results = leakage.run(_honest().drop(columns=["zip"]), *_split(), SPEC)
    assert [r.metric for r in results] == ["dcr_excess", "nndr_mean", "membership_auc"]
    assert all(r.gate == "privacy" and not r.passed and r.value is None for r in results)
    assert all("errored (KeyError)" in r.detail for r in results)


def _row(**changes) -> pd.DataFrame:
    base = {
        "birth_date": "1980-05-01", "zip": "10001", "sex": "F", "income": 50_000.0,
        "credit_score": 700, "diagnosis": "asthma", "segment": "retail", "signup_date": "2020-01-01",
    }
    return pd.DataFrame([{**base, **changes}])


def _distance(a: pd.DataFrame, b: pd.DataFrame) -> float:
    return float(nearest_distances(encode(a, SPEC), encode(b, SPEC), k=1)[0, 0])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, 0.0),
        ({"birth_date": dt.date(1980, 5, 1), "credit_score": "700"}, 0.0),  # same values, other types
        ({"zip": "94103"}, 1 / 8),
        ({"credit_score": 850}, (150 / 550) / 8),
        ({"income": 900_000.0}, (350_000 / 400_000) / 8),  # clipped to the public upper bound first
        ({"income": None}, 1 / 8),
        ({"diagnosis": None}, 1 / 8),
        ({"zip": "00000", "sex": "M"}, 2 / 8),
    ],
)
def test_gower_distance_of_two_rows(changes, expected):
    assert _distance(_row(), _row(**changes)) == pytest.approx(expected, abs=1e-6)


def test_a_null_matches_a_null():
    assert _distance(_row(income=None, diagnosis=None), _row(income=np.nan, diagnosis=None)) == 0.0


def _messy(rows: int, seed: int) -> pd.DataFrame:
    """Demo rows with nulls in every column, values outside the declared domain and duplicates."""
    rng = np.random.default_rng(seed)
    t = generate_customers(rows, seed=seed)[RELEASED].astype(object)
    for col in RELEASED:
        t.loc[rng.random(rows) < 0.1, col] = None
    t.loc[rng.random(rows) < 0.05, "zip"] = "00000"
    t.iloc[1::9] = t.iloc[0:-1:9].to_numpy()
    return t


def _brute_force(query: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Gower distances straight from the definition, one cell at a time."""

    def cell(col, a, b) -> float:
        if pd.isna(a) or pd.isna(b):
            return float(pd.isna(a) != pd.isna(b))
        if col.type not in NUMERIC_TYPES:
            known = set(col.categories)
            return float((a if a in known else "OTHER") != (b if b in known else "OTHER"))
        lo, hi = col.bounds
        if col.type is ColumnType.DATE:
            a, b, lo, hi = (pd.Timestamp(v).toordinal() for v in (a, b, lo, hi))
        a, b = (min(max(float(v), lo), hi) for v in (a, b))
        return abs(a - b) / (hi - lo)

    cols = SPEC.modelled_columns
    return np.array([
        [np.mean([cell(c, q[c.name], r[c.name]) for c in cols]) for r in reference.to_dict("records")]
        for q in query.to_dict("records")
    ])


@pytest.mark.parametrize("tiles", [(256, 256), (8, 16)])
def test_nearest_distances_agree_with_brute_force(monkeypatch, tiles):
    monkeypatch.setattr(leakage, "_TILE_QUERY", tiles[0])
    monkeypatch.setattr(leakage, "_TILE_REFERENCE", tiles[1])
    query, reference = _messy(40, seed=3), _messy(120, seed=4)
    expected = np.sort(_brute_force(query, reference), axis=1)[:, :3]
    got = nearest_distances(encode(query, SPEC), encode(reference, SPEC), k=3, workers=2)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_excluding_self_matches_finds_the_nearest_other_row(monkeypatch):
    monkeypatch.setattr(leakage, "_TILE_REFERENCE", 16)
    table = _messy(60, seed=5)
    full = _brute_force(table, table)
    np.fill_diagonal(full, np.inf)
    e = encode(table, SPEC)
    np.testing.assert_allclose(nearest_distances(e, e, k=2, exclude_self=True), np.sort(full, axis=1)[:, :2], atol=1e-6)
    assert (nearest_distances(e, e, k=1)[:, 0] == 0).all()


def test_auc_counts_ties_as_half():
    pos, neg = np.array([3.0, 2.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.5])
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    assert leakage._auc(pos, neg, len(pos), len(neg)).value == pytest.approx(np.mean(pairs))
