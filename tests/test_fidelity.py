"""Fidelity metrics and the "quality" gate, calibrated on the demo customer table."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpriv import fidelity
from synthpriv.domain import TableCodec
from synthpriv.sample_data import generate_customers
from synthpriv.spec import ColumnType, load_spec

SPEC = load_spec(Path(__file__).resolve().parents[1] / "synthpriv" / "specs" / "demo_customers.yaml")
NAMES = [c.name for c in SPEC.modelled_columns]
ROWS = 10_000


def _honest(rows: int, seed: int) -> pd.DataFrame:
    """A fresh sample of the generator with numerics clipped to the public bounds: a perfect synthesizer."""
    table = generate_customers(rows, seed=seed)[NAMES].copy()
    for c in SPEC.modelled_columns:
        if c.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            table[c.name] = table[c.name].clip(*c.bounds)
    return table


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return generate_customers(ROWS, seed=7)[NAMES]


@pytest.fixture(scope="module")
def honest() -> pd.DataFrame:
    table = _honest(ROWS, seed=11)
    table["signup_date"] = [dt.date.fromisoformat(v) for v in table["signup_date"]]  # date objects, not strings
    return table


@pytest.fixture(scope="module")
def shuffled(honest: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({c: honest[c].to_numpy()[rng.permutation(len(honest))] for c in honest.columns})


@pytest.fixture(scope="module")
def dropped(honest: pd.DataFrame) -> pd.DataFrame:
    table = honest.copy()
    table["segment"] = table["segment"].replace("premium", "retail")
    return table


def _by_metric(results: list) -> dict:
    return {r.metric: r for r in results}


# ----------------------------------------------------------------------- the three generators


def test_honest_sample_passes_every_gate(real, honest):
    results = fidelity.run(real, honest, SPEC, fidelity.FidelityThresholds(), target="segment", protected=["segment", "sex"])
    assert len(results) == 8
    assert all(r.gate == "quality" for r in results)
    failed = [r.describe() for r in results if not r.passed]
    assert not failed, failed


def test_shuffled_columns_keep_distributions_but_lose_correlations(real, shuffled):
    res = _by_metric(fidelity.run(real, shuffled, SPEC, target="segment"))
    assert res["field_distribution_stability"].passed
    assert not res["field_correlation_stability"].passed
    assert not res["tstr_gap"].passed


def test_dropped_category_fails(real, dropped):
    res = _by_metric(fidelity.run(real, dropped, SPEC, protected=["segment"]))
    assert not res["field_distribution_stability"].passed
    assert "segment" in res["field_distribution_stability"].detail
    assert not res["subgroup_coverage[segment]"].passed
    cov = fidelity.subgroup_coverage(real, dropped, SPEC, ["segment"])["segment"]
    assert cov["flagged"] == ["premium"]
    assert cov["categories"]["premium"]["synthetic"] == 0.0


# ----------------------------------------------------------------------- basic properties


def test_identical_tables_score_perfectly(real):
    assert all(v == pytest.approx(1.0) for v in fidelity.field_distribution_stability(real, real, SPEC).values())
    assert fidelity.field_correlation_stability(real, real, SPEC) == pytest.approx(1.0)
    assert fidelity.deep_structure_stability(real, real, SPEC) == pytest.approx(1.0)
    assert fidelity.marginal_error(real, real, SPEC, 2) == pytest.approx(0.0)
    assert fidelity.marginal_error(real, real, SPEC, 3) == pytest.approx(0.0)


def test_association_of_dependent_and_independent_columns():
    rng = np.random.default_rng(0)
    n = 4000
    seg = rng.choice(["student", "retail", "premium", "business"], n)
    sex = rng.choice(["F", "M", "X"], n)
    credit = rng.integers(300, 851, n)
    table = generate_customers(n, seed=5)[NAMES].copy()
    table["segment"] = seg
    table["diagnosis"] = np.where(seg == "student", "none", np.where(seg == "retail", "asthma", "migraine"))  # function of segment
    table["sex"] = sex
    table["credit_score"] = credit
    table["income"] = (credit - 300) * 500.0  # linear in credit score
    table["signup_date"] = rng.choice(pd.date_range("2015-01-01", "2025-12-31").strftime("%Y-%m-%d"), n)
    m = fidelity.association_matrix(table, SPEC)
    assert m.loc["income", "credit_score"] == pytest.approx(1.0, abs=1e-9)  # Pearson
    assert m.loc["segment", "diagnosis"] > 0.95  # Cramér's V, perfectly dependent (3 of 4 levels)
    assert abs(m.loc["sex", "segment"]) < 0.05  # Cramér's V, independent
    assert m.loc["segment", "credit_score"] < 0.06  # eta, independent
    assert abs(m.loc["signup_date", "credit_score"]) < 0.05  # Pearson on dates, independent
    eta = fidelity.association_matrix(table.assign(credit_score=np.where(seg == "premium", 800, 400)), SPEC)
    assert eta.loc["segment", "credit_score"] == pytest.approx(1.0)  # eta of a function of the category
    assert np.allclose(m.to_numpy(), m.to_numpy().T)


def test_nulls_and_out_of_bounds_are_handled(real):
    messy = real.copy()
    messy.loc[messy.index[:50], "income"] = 5_000_000.0  # out of bounds: clipped
    messy.loc[messy.index[50:3000], "credit_score"] = np.nan
    m = fidelity.association_matrix(messy, SPEC)
    assert np.isfinite(m.to_numpy()).all()
    assert 0 <= fidelity.field_correlation_stability(real, messy, SPEC) <= 1


def test_tstr_is_deterministic_and_close_for_an_honest_sample(real, honest):
    train, test = real.iloc[: ROWS // 2], real.iloc[ROWS // 2 :]
    first = fidelity.tstr(train, test, honest, SPEC, "segment")
    assert first == fidelity.tstr(train, test, honest, SPEC, "segment")
    assert set(first) == {"tstr", "trtr", "gap"}
    assert first["gap"] == pytest.approx(first["trtr"] - first["tstr"])
    assert abs(first["gap"]) < 0.05
    with pytest.raises(ValueError):
        fidelity.tstr(train, test, honest, SPEC, "income")  # not categorical


def test_readiness_warnings_hold_no_data_values():
    small = generate_customers(300, seed=1)[NAMES].copy()
    small.loc[small.index[:150], "income"] = np.nan
    warnings = fidelity.readiness(small, SPEC, synthetic_rows=1000)
    assert len(warnings) == 3
    assert any("'income'" in w and "missing" in w for w in warnings)
    text = " ".join(warnings)
    for column in ("zip", "segment", "birth_date"):
        assert not any(str(v) in text for v in small[column].dropna().unique()[:20] if len(str(v)) > 3)
    assert fidelity.readiness(generate_customers(1500, seed=1)[NAMES], SPEC, synthetic_rows=20_000) == []


def test_a_metric_that_raises_fails_closed(real, honest, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("value 12345 leaked")

    monkeypatch.setattr(fidelity, "field_correlation_stability", boom)
    res = _by_metric(fidelity.run(real, honest, SPEC))
    bad = res["field_correlation_stability"]
    assert not bad.passed and bad.value is None and "RuntimeError" in bad.detail and "12345" not in bad.detail
    assert res["field_distribution_stability"].passed  # the others still run
    missing = _by_metric(fidelity.run(real, honest.drop(columns=["zip"]), SPEC))
    assert not any(r.passed for r in missing.values())


# ----------------------------------------------------------------------- SDMetrics cross-check


def test_cross_check_against_sdmetrics(real, honest):
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import TVComplement

    r = real.iloc[:4000].reset_index(drop=True)
    s = honest.iloc[:4000].reset_index(drop=True)
    codec = TableCodec.from_columns(list(SPEC.columns))
    rc, sc = codec.encode(r)[0].astype(str), codec.encode(s)[0].astype(str)

    # 1 - TVD per column on the codec's bins == SDMetrics TVComplement on the same codes
    ours = fidelity.field_distribution_stability(r, s, SPEC)
    for name in NAMES:
        assert ours[name] == pytest.approx(TVComplement.compute(rc[name], sc[name]), abs=1e-9)

    # mean 2-way TVD == 1 - mean ContingencySimilarity over all pairs
    theirs = np.mean([ContingencySimilarity.compute(rc[[a, b]], sc[[a, b]]) for a, b in itertools.combinations(NAMES, 2)])
    assert fidelity.marginal_error(r, s, SPEC, 2) == pytest.approx(1 - theirs, abs=1e-9)

    # Pearson entries: CorrelationSimilarity = 1 - |r_real - r_synth| / 2
    a_r, a_s = fidelity.association_matrix(r, SPEC), fidelity.association_matrix(s, SPEC)
    pair = ["income", "credit_score"]
    theirs_corr = CorrelationSimilarity.compute(r[pair], s[pair])
    ours_corr = 1 - abs(a_r.loc["income", "credit_score"] - a_s.loc["income", "credit_score"]) / 2
    assert ours_corr == pytest.approx(theirs_corr, abs=1e-6)
