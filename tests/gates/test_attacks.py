"""The Anonymeter-style attacks block copiers, pass an honest generator, and count what they claim."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from synthpriv.gates import attacks
from synthpriv.gates.leakage import encode, nearest_rows
from synthpriv.sample_data import generate_customers
from synthpriv.spec import PrivacyGate, load_spec
from tests.conftest import DEMO_SPEC
from tests.gates import stand_ins

SPEC = load_spec(DEMO_SPEC)
RELEASED = [c.name for c in SPEC.modelled_columns]
ROWS = 2_500
LIMITS = PrivacyGate()


@cache
def _split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout, 80/20 as a release splits them."""
    real = generate_customers(ROWS, seed=7)[RELEASED]
    cut = int(ROWS * 0.8)
    return real.iloc[:cut].reset_index(drop=True), real.iloc[cut:].reset_index(drop=True)


def _copier() -> pd.DataFrame:
    """Training rows drawn with replacement: some repeated, some left out."""
    return _split()[0].sample(ROWS, replace=True, random_state=1).reset_index(drop=True)


def _noisy_copier() -> pd.DataFrame:
    return stand_ins.jittered(_copier())


def _honest() -> pd.DataFrame:
    return stand_ins.honest(ROWS, RELEASED)


def _results(synthetic: pd.DataFrame, limits: PrivacyGate = LIMITS) -> dict[str, object]:
    training, holdout = _split()
    return {r.metric: r for r in attacks.run(synthetic, training, holdout, SPEC, limits)}


def test_wilson_interval_matches_the_textbook_values():
    half = attacks.success_rate(100, 50)
    assert half.value == pytest.approx(0.5) and half.error == pytest.approx(0.0962, abs=1e-4)  # [0.4038, 0.5962]
    none = attacks.success_rate(10, 0)
    assert none.value - none.error == pytest.approx(0.0, abs=1e-12)
    assert none.value + none.error == pytest.approx(0.2775, abs=1e-4)  # Wilson's upper end for 0 of 10


def test_risk_is_the_excess_over_the_control_scaled_to_the_room_left():
    assert attacks.Risk.of(500, 200, 500, 200, 10).value == pytest.approx(0.0, abs=1e-12)
    r = attacks.Risk.of(500, 350, 500, 200, 10)
    assert r.value == pytest.approx((0.7 - 0.4) / 0.6, abs=0.01) and r.low < r.value < r.high
    assert attacks.Risk.of(500, 100, 500, 300, 10).value == 0.0  # better on the holdout: no risk, clamped
    few, many = attacks.Risk.of(50, 35, 50, 20, 1), attacks.Risk.of(5_000, 3_500, 5_000, 2_000, 10)
    assert few.high - few.low > 3 * (many.high - many.low)


def test_a_synthesizer_that_copies_training_rows_is_blocked_by_every_attack():
    r = _results(_copier())
    assert [m for m, res in r.items() if res.passed] == []
    assert all(res.value > 0.6 for res in r.values()), [res.describe() for res in r.values()]


def test_copies_with_a_little_noise_are_blocked_by_inference_and_linkability():
    r = _results(_noisy_copier())
    assert not r["inference_risk"].passed and r["inference_risk"].value > 0.6
    assert not r["linkability_risk"].passed and r["linkability_risk"].value > 0.2


def test_an_honest_generator_passes_every_attack():
    r = _results(_honest())
    assert all(res.passed for res in r.values()), [res.describe() for res in r.values()]
    assert all(res.value < 0.1 for res in r.values())


def test_the_detail_names_the_worst_secret_column_and_every_column():
    detail = _results(_copier())["inference_risk"].detail
    assert "worst secret column" in detail and all(f"{c} " in detail for c in RELEASED)


def test_the_gate_judges_the_upper_end_of_the_interval():
    training, holdout = _split()
    first = {x.metric: x for x in attacks.run(_honest(), training, holdout.head(100), SPEC, LIMITS)}["inference_risk"]
    low, high = (float(v) for v in first.detail.split("CI [")[1].split("]")[0].split(", "))
    between = PrivacyGate(max_inference_risk=(first.value + high) / 2)
    again = {x.metric: x for x in attacks.run(_honest(), training, holdout.head(100), SPEC, between)}["inference_risk"]
    assert first.value < between.max_inference_risk < high and not again.passed


def test_an_attack_that_errors_fails_closed_without_quoting_data():
    results = attacks.run(_honest().drop(columns=["zip"]), *_split(), SPEC, LIMITS)
    assert [r.metric for r in results] == ["singling_out_risk", "linkability_risk", "inference_risk"]
    assert all(not r.passed and r.value is None and "errored (KeyError)" in r.detail for r in results)


def test_linkability_columns_from_the_spec_are_used_and_checked():
    halves = (["zip", "sex", "birth_date"], ["segment", "diagnosis", "income"])
    r = _results(_copier(), PrivacyGate(linkability_columns=halves))["linkability_risk"]
    assert "zip + sex + birth_date | segment + diagnosis + income" in r.detail and not r.passed
    with pytest.raises(ValueError, match="must not share"):
        PrivacyGate(linkability_columns=(["zip"], ["zip", "sex"]))


def test_linked_records_include_ties_so_duplicated_copies_still_link():
    training = encode(_split()[0].head(200), SPEC)
    doubled = encode(pd.concat([_split()[0].head(200)] * 2, ignore_index=True), SPEC)
    halves = attacks.default_halves(RELEASED)
    assert attacks._linked(training, doubled, halves).all()


def test_main_and_control_targets_linked_in_one_search_are_those_linked_apart():
    main, control = (encode(_split()[i].head(150), SPEC) for i in (0, 1))
    synthetic = encode(pd.concat([_honest().head(400), _split()[0].head(60)], ignore_index=True), SPEC)
    halves = attacks.default_halves(RELEASED)
    apart = np.concatenate([attacks._linked(t, synthetic, halves) for t in (main, control)])
    assert apart[:60].all() and not apart.all()  # the copied targets link, not every target does
    np.testing.assert_array_equal(attacks._linked(attacks._stacked(main, control), synthetic, halves), apart)


def test_a_record_held_twice_is_one_record_to_single_out():
    rows = _split()[0].head(300)
    once, twice = (attacks._Table.of(encode(t, SPEC)) for t in (rows, pd.concat([rows, rows], ignore_index=True)))
    assert len(twice) == len(once) and len(once) > 250
    np.testing.assert_array_equal(np.unique(twice.values, axis=1), np.unique(once.values, axis=1))


def _brute_counts(p: attacks._Predicates, table: attacks._Table) -> np.ndarray:
    """Rows matched by each predicate, every condition evaluated on every row."""
    out = []
    for cols, ops, consts in zip(p.columns, p.ops, p.constants):
        match = np.ones(len(table), bool)
        for c, o, v in zip(cols, ops, consts):
            x = table.values[c]
            ok = attacks._COMPARE[o](x, v)
            match &= ok if o == attacks.EQ else ok & (x != table.null[c])
        out.append(match.sum())
    return np.array(out)


@pytest.mark.parametrize("chunk", [attacks._COUNT_CHUNK, 7])
def test_predicate_counts_agree_with_evaluating_every_row(chunk, monkeypatch):
    """Exact, or capped where only "one or more than one" matters; rows are checked a chunk at a
    time, and a small chunk puts chunk boundaries inside every slice."""
    monkeypatch.setattr(attacks, "_COUNT_CHUNK", chunk)
    rng = np.random.default_rng(0)
    t = generate_customers(1_500, seed=3)[RELEASED].astype(object)
    for col in RELEASED:
        t.loc[rng.random(len(t)) < 0.1, col] = None
    table = attacks._Table.of(encode(t, SPEC))
    columns = np.argsort(rng.random((300, len(table.null))), axis=1)[:, :3]
    from_records = attacks._from_records(table, attacks._medians(table), rng.integers(len(table), size=300), columns)
    for p in (attacks._random(table, 300, 2, rng), from_records, attacks._univariate(table)):
        np.testing.assert_array_equal(p.counts(table), _brute_counts(p, table))
        np.testing.assert_array_equal(p.counts(table, at_most=2), np.minimum(_brute_counts(p, table), 2))
    assert (from_records.counts(table) >= 1).all()  # a predicate from a record matches at least that record


def test_the_holdout_is_scaled_to_the_training_size_before_it_is_compared():
    """Predicates written on 3,000 synthetic rows single out fewer of 600 real rows than of 2,400:
    the correction predicts the larger table's count from the smaller one."""
    real = encode(generate_customers(3_000, seed=5)[RELEASED], SPEC)
    small, large = attacks._Table.of(real.take(np.arange(600))), attacks._Table.of(real.take(np.arange(600, 3_000)))
    syn = attacks._Table.of(encode(generate_customers(3_000, seed=6)[RELEASED], SPEC))
    queries = attacks._singling_out_predicates(syn, 500, 3, np.random.default_rng(0))
    counts = queries.counts(small)
    predicted = (counts == 1).sum() * attacks._size_correction(counts, len(small), len(large))
    observed = (queries.counts(large) == 1).sum()
    raw = (counts == 1).sum()
    assert raw < 0.75 * observed  # uncorrected, the control would look too hard to single out in
    assert abs(predicted - observed) < abs(raw - observed) and predicted == pytest.approx(observed, rel=0.4)


@pytest.mark.parametrize("columns", [RELEASED, ["zip", "sex", "segment"], ["income", "zip"]])
def test_the_nearest_synthetic_row_found_is_at_the_nearest_distance(columns):
    """The inference attacker's guess comes from `nearest_rows`: the row it names must be a nearest one."""
    query = encode(generate_customers(200, seed=1)[RELEASED], SPEC).select(columns)
    reference = encode(generate_customers(1_500, seed=2)[RELEASED], SPEC).select(columns)
    distances, rows = nearest_rows(query, reference, k=2)
    full = np.zeros((len(query), len(reference)))
    for x, y in zip(query.numeric, reference.numeric):
        full += np.minimum(np.abs(x[:, None] - y[None]), 1)
    for x, y in zip(query.codes, reference.codes):
        full += x[:, None] != y[None]
    full /= len(columns)
    np.testing.assert_allclose(np.take_along_axis(full, rows, axis=1), distances, atol=1e-6)
    np.testing.assert_allclose(np.sort(full, axis=1)[:, :2], distances, atol=1e-6)
    assert (rows[:, 0] != rows[:, 1]).all()


def test_results_are_plain_json_values_for_the_manifest():
    """A numpy bool would be written to the manifest as the string "False", which reads as true."""
    for r in attacks.run(_copier(), *_split(), SPEC, LIMITS):
        assert type(r.passed) is bool and type(r.value) is float


def test_a_constant_column_is_no_secret_to_infer():
    training, holdout = _split()
    constant = {"segment": "retail"}
    results = attacks.run(_honest().assign(**constant), training.assign(**constant), holdout.assign(**constant),
                          SPEC, LIMITS)
    inference_result = next(r for r in results if r.metric == "inference_risk")
    attacked, skipped = inference_result.detail.split("not attacked")
    assert inference_result.passed and "segment" not in attacked and "segment" in skipped


def test_a_number_all_records_share_at_the_guess_tolerance_is_no_secret_to_infer():
    """A DP-estimated range far wider than the data (a small `estimate_epsilon` on a small table)
    puts every credit score within 5% of the range of every other: every guess is right on
    training and holdout alike, and the risk is 0/0 with an interval of [0, 1]. That column is
    not attacked, and the detail says so."""
    wide = [c.model_copy(update={"bounds": (-1e9, 1e9)}) if c.name == "credit_score" else c for c in SPEC.columns]
    spec = SPEC.model_copy(update={"columns": wide})
    results = attacks.run(_honest(), *_split(), spec, LIMITS)
    inference_result = next(r for r in results if r.metric == "inference_risk")
    assert inference_result.passed, inference_result.detail
    attacked, skipped = inference_result.detail.split("not attacked")
    assert "credit_score" in skipped and "credit_score" not in attacked and "income" in attacked
