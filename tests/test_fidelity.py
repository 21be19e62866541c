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
ROWS = 20_000  # the demo's size: below ~10,000 rows an honest DP release at epsilon 1 keeps no more
#                association than a column shuffle (docs/quality.md), so the bars cannot tell them apart


def _with_quality(**update) -> object:
    return SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"quality": SPEC.gates.quality.model_copy(update=update)})})


def _honest(rows: int, seed: int) -> pd.DataFrame:
    """A fresh sample of the generator with numerics clipped to the public bounds: a perfect synthesizer."""
    table = generate_customers(rows, seed=seed)[NAMES].copy()
    for c in SPEC.modelled_columns:
        if c.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            table[c.name] = table[c.name].clip(*c.bounds)
    return table


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows of one real table, 80/20 as the protect stage splits them."""
    real = generate_customers(ROWS, seed=7)[NAMES]
    cut = int(ROWS * 0.8)
    return real.iloc[:cut].reset_index(drop=True), real.iloc[cut:].reset_index(drop=True)


@pytest.fixture(scope="module")
def real(split) -> pd.DataFrame:
    return split[0]


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


def _run(split, synthetic, spec=SPEC) -> dict:
    return _by_metric(fidelity.run(split[0], split[1], synthetic, spec))


# ----------------------------------------------------------------------- the three generators


def test_honest_sample_passes_every_gate(split, honest):
    results = fidelity.run(*split, honest, _with_quality(target="segment", protected=["segment", "sex"]))
    assert len(results) == 2 * len(NAMES) + 2 + 4 + 1 + 2  # readiness, per-column fields, 4 structural, tstr, 2 groups
    assert all(r.gate == "quality" for r in results)
    failed = [r.describe() for r in results if not r.passed]
    assert not failed, failed


def test_shuffled_columns_keep_distributions_but_lose_correlations(split, shuffled):
    res = _run(split, shuffled, _with_quality(target="segment"))
    assert all(res[f"field_distribution_stability[{n}]"].passed for n in NAMES)
    assert not res["field_correlation_stability"].passed
    assert not res["tstr_gap"].passed


def test_dropped_category_fails(split, dropped):
    res = _run(split, dropped, _with_quality(protected=["segment"]))
    assert [m for m, r in res.items() if m.startswith("field_distribution") and not r.passed] == [
        "field_distribution_stability[segment]"]
    assert not res["subgroup_coverage[segment]"].passed and "premium" in res["subgroup_coverage[segment]"].detail
    cov = fidelity.subgroup_coverage(split[0], dropped, SPEC, ["segment"])["segment"]
    assert cov["flagged"] == ["premium"]
    assert cov["categories"]["premium"]["synthetic"] == 0.0


def test_bars_follow_the_noise_floor_of_the_table_size(split, honest):
    """The same generator is held to a stricter bar on a large table than on a small one."""
    big = _run(split, honest)
    small = _run((split[0].iloc[:2000], split[1].iloc[:500]), honest.iloc[:2000])
    for metric in ("two_way_marginal_error", "three_way_marginal_error"):
        assert small[metric].threshold > 1.5 * big[metric].threshold
        assert "noise floor" in big[metric].detail
    assert small["field_correlation_stability"].threshold < big["field_correlation_stability"].threshold


def test_past_max_rows_the_metrics_use_a_sample_and_still_tell_honest_from_broken(split, honest, shuffled):
    """A table above `max_rows` is measured on a uniform sample, its floor drawn at the sample's size."""
    capped = _with_quality(target="segment", max_rows=10_000)
    sampled = _run(split, honest, capped)
    assert all(r.passed for r in sampled.values()), [r.describe() for r in sampled.values() if not r.passed]
    assert not _run(split, shuffled, capped)["tstr_gap"].passed
    # the bars are those of a 10,000-row table, looser than the 20,000-row ones
    whole = _run(split, honest)
    assert sampled["two_way_marginal_error"].threshold > whole["two_way_marginal_error"].threshold
    assert sampled["synthetic_rows"].detail == ""  # readiness counts every synthetic row, not the sample


def test_readiness_warns_without_blocking_and_blocks_on_too_few_rows(split, honest):
    res = _run((split[0].iloc[:400], split[1].iloc[:100]), honest.iloc[:1000])
    assert res["synthetic_rows"].passed and res["synthetic_rows"].detail.startswith("warning:")
    assert not res["rows_available"].passed and res["rows_available"].detail == "fewer than 500 training rows"
    assert res["rows_available"].value is None  # the source's row count is never in a gate result
    assert _run(split, honest)["synthetic_rows"].detail == ""


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
    results = _by_metric(fidelity.readiness(small, SPEC, synthetic_rows=1000))
    assert results["missing_share[income]"].detail.startswith("warning:") and results["missing_share[income]"].passed
    assert all(r.value is None for m, r in results.items() if m.startswith("missing_share"))  # real statistics
    assert results["missing_share[zip]"].detail == ""
    text = " ".join(r.detail for r in results.values())
    for column in ("zip", "segment", "birth_date"):
        assert not any(str(v) in text for v in small[column].dropna().unique()[:20] if len(str(v)) > 3)


def test_a_metric_that_raises_fails_closed(split, honest, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("value 12345 leaked")

    monkeypatch.setattr(fidelity, "_deep_loss", boom)
    res = _run(split, honest)
    bad = res["deep_structure_stability"]
    assert not bad.passed and bad.value is None and "RuntimeError" in bad.detail and "12345" not in bad.detail
    assert res["rows_available"].passed  # readiness does not depend on it
    missing = _run(split, honest.drop(columns=["zip"]))
    assert not any(r.passed for m, r in missing.items() if not m.startswith(("missing_share", "rows_", "synthetic_")))
    wrong_target = _run(split, honest, _with_quality(target="income"))["tstr_gap"]
    assert not wrong_target.passed and "ValueError" in wrong_target.detail


# ----------------------------------------------------------------------- SDMetrics cross-check


def test_cross_check_against_sdmetrics(real, honest):
    from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity
    from sdmetrics.single_column import TVComplement

    r = real.iloc[:4000].reset_index(drop=True)
    r = r.assign(income=r["income"].clip(upper=400_000))  # ours clips to the public bounds, SDMetrics does not
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
