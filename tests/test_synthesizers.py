"""Synthesizers see only declared code spaces, declare their spend, and their privacy noise is not seedable."""

from __future__ import annotations

import random
import typing

import numpy as np
import pandas as pd
import pytest
import snsynth.mwem
import snsynth.utils
import torch

from synthpriv import synthesizers
from synthpriv.errors import SpecError
from synthpriv.ledger import Ledger
from synthpriv.spec import Privacy, load_spec, parse_spec
from synthpriv.stages import RunContext, reserve

from .conftest import demo_spec_dict

CARDINALITIES = [4, 6, 5]


def _codes(n: int = 600) -> pd.DataFrame:
    """Codes that never use the top code of any column: a data-derived domain would shrink."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({"a": rng.integers(0, 3, n), "b": rng.integers(0, 5, n), "c": rng.integers(0, 4, n)})


def test_registry_spec_choices_and_option_tables_agree():
    literal = typing.get_args(Privacy.model_fields["synthesizer"].annotation)
    assert set(synthesizers.REGISTRY) == set(literal) == set(Privacy.OPTIONS)


def test_aim_is_the_default_synthesizer():
    assert Privacy(epsilon=1.0, budget={"epsilon": 2.0}).synthesizer == "aim"


def test_unknown_or_mistyped_options_are_refused_by_name():
    raw = demo_spec_dict()
    raw["privacy"]["synthesizer"] = "aim"
    raw["privacy"]["options"] = {"degre": 2, "rounds": 1.5}
    with pytest.raises(SpecError) as err:
        parse_spec(raw)
    text = str(err.value)
    assert "options.degre: unknown option for aim" in text and "options.rounds: aim needs an int" in text
    with pytest.raises(ValueError, match="options.sigma: unknown option for mst"):
        synthesizers.create("mst", 1.0, 1e-9, {"sigma": 1.0})
    with pytest.raises(ValueError, match=r"options.merge_mass: must be >= 0 \(0 keeps every bin\)"):
        synthesizers.create("aim", 1.0, 1e-9, {"merge_mass": -1.0})
    with pytest.raises(ValueError, match="options.rounds: must be > 0"):
        synthesizers.create("aim", 1.0, 1e-9, {"rounds": 0})


def test_patectgan_needs_an_explicit_opt_in_to_its_data_dependent_accountant():
    with pytest.raises(ValueError, match="accept_data_dependent_accounting"):
        synthesizers.create("patectgan", 1.0, 1e-9)
    assert synthesizers.create("patectgan", 1.0, 1e-9, {"accept_data_dependent_accounting": True}).spend().epsilon == 1.0


def test_spend_is_declared_by_each_mechanism():
    mst = synthesizers.create("mst", 0.5, 1e-8).spend()
    assert (mst.epsilon, mst.delta) == (0.5, 1e-8) and "mst" in mst.mechanism and mst.rho > 0
    mwem = synthesizers.create("mwem", 0.5, 1e-8).spend()  # pure DP: no delta, rho = eps^2 / 2 per part
    assert mwem.epsilon == pytest.approx(0.5) and mwem.delta == 0.0
    assert mwem.rho == pytest.approx(0.025 ** 2 / 2 + 0.475 ** 2 / 2)
    assert "row count" in mwem.mechanism


def test_unknown_synthesizer_and_duplicate_registration_are_refused():
    with pytest.raises(ValueError, match="unknown synthesizer"):
        synthesizers.create("gan-of-doom", 1.0, 1e-9)
    with pytest.raises(ValueError, match="already registered"):
        synthesizers.register(synthesizers.MST)


@pytest.mark.parametrize("draw", [
    lambda: snsynth.utils.exponential_mechanism(np.zeros(10_000), 1.0),
    lambda: synthesizers._MarginalMST().exponential_mechanism(np.zeros(10_000), 1.0, 1.0),
    lambda: int(snsynth.mwem.random.random() * 10_000),
])
def test_selection_draws_ignore_numpy_and_python_seeds(draw):
    picks = set()
    for _ in range(3):
        np.random.seed(0)
        random.seed(0)
        picks.add(int(draw()))
    assert len(picks) > 1


def test_pate_vote_noise_ignores_seeds():
    teachers = [lambda x: torch.ones(len(x), 1)] * 5 + [lambda x: torch.zeros(len(x), 1)] * 5  # a tie
    outcomes = set()
    for _ in range(3):
        np.random.seed(0)
        torch.manual_seed(0)
        labels, _votes = synthesizers._os_pate(torch.zeros(200, 3), teachers, lap_scale=1.0)
        outcomes.add(tuple(labels.squeeze().tolist()))
    assert len(outcomes) > 1


def test_mst_never_hands_its_estimator_the_exact_row_count(monkeypatch):
    """The row count is not covered by MST's measurements; the library passes it as a known total."""
    totals: list[float] = []
    estimate = synthesizers.estimation.mirror_descent

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        totals.append(kwargs.get("known_total"))
        return estimate(*args, **kwargs)

    monkeypatch.setattr(synthesizers.estimation, "mirror_descent", spy)
    codes = _codes(2000)
    synthesizers.create("mst", 1.0, 1e-9).fit(codes, CARDINALITIES)
    assert totals and all(t is not None and t != len(codes) and abs(t - len(codes)) < 0.05 * len(codes)
                          for t in totals)


def test_aim_focus_adds_every_three_way_marginal_holding_the_predicted_column():
    from synthpriv.marginals import Marginals

    model = synthesizers._MarginalAIM(epsilon=1.0, delta=1e-9, focus="col1")
    data = Marginals.of(pd.DataFrame({f"x{i}": [0, 1] for i in range(4)}), [2, 2, 2, 2])
    assert model._focused(data) == [("col1", "col0", "col2"), ("col1", "col0", "col3"), ("col1", "col2", "col3")]
    assert synthesizers._MarginalAIM(epsilon=1.0, delta=1e-9)._focused(data) == []


def test_aim_focuses_on_the_quality_gates_target_unless_told_otherwise():
    raw = demo_spec_dict()
    raw["privacy"]["synthesizer"] = "aim"
    raw["gates"] = {"quality": {"target": "segment"}}
    assert synthesizers.plan(parse_spec(raw)).synthesizer.options["focus"] == "segment"
    raw["privacy"]["options"] = {"focus": "sex"}
    assert synthesizers.plan(parse_spec(raw)).synthesizer.options["focus"] == "sex"
    raw["privacy"]["options"] = {"focus": "nope"}
    with pytest.raises(SpecError, match="privacy.options.focus must name a released column: nope"):
        parse_spec(raw)
    raw["privacy"]["options"] = {"focus": 3}
    with pytest.raises(SpecError, match="options.focus: aim needs a str"):
        parse_spec(raw)


def test_aim_estimates_with_the_einsum_oracle_only_once_a_junction_tree_clique_passes_a_million_cells():
    from mbi import Domain, marginal_oracles

    domain = Domain(["a", "b", "c", "d"], [100, 100, 100, 100])
    chain = [("a",), ("a", "b"), ("b", "c"), ("c", "d")]
    assert synthesizers.marginal_oracle_for(domain, chain) is marginal_oracles.message_passing_stable
    # a cycle a-b-c-d-a triangulates into two 3-way junction-tree cliques of 1,000,000 cells: still small
    cycle = [*chain, ("a", "d")]
    assert synthesizers.marginal_oracle_for(domain, cycle) is marginal_oracles.message_passing_stable
    # one 4-way marginal makes a 100M-cell junction-tree clique
    assert synthesizers.marginal_oracle_for(domain, [*chain, ("a", "b", "c", "d")]) is marginal_oracles.message_passing_fast


def test_aim_measures_no_marginal_that_would_grow_its_junction_tree_past_the_size_limit():
    from types import SimpleNamespace

    from mbi import Domain
    from snsynth.aim import aim as library

    model = SimpleNamespace(domain=Domain(["a", "b", "c", "d"], [10, 10, 10, 10]),
                            cliques=[("a", "b"), ("b", "c"), ("c", "d")])
    candidates = {("a", "d"): 1.0, ("a", "c"): 1.0, ("b", "c"): 1.0}
    tight, limit = 1_500 * 8 / 2 ** 20, 10_000 * 8 / 2 ** 20  # megabytes for 1,500 and 10,000 cells
    # closing the cycle a-b-c-d-a triangulates into two 1,000-cell cliques, though the pairs sum to 400 cells
    assert ("a", "d") in library.filter_candidates(candidates, model, tight)
    assert set(synthesizers._MarginalAIM._affordable(candidates, model, tight)) == {("a", "c"), ("b", "c")}
    # a pair already inside the model is measurable at any limit; everything is within a loose one
    assert set(synthesizers._MarginalAIM._affordable(candidates, model, 0.0)) == {("b", "c")}
    assert set(synthesizers._MarginalAIM._affordable(candidates, model, limit)) == set(candidates)


def test_an_aim_fit_keeps_its_junction_tree_within_max_model_size():
    from mbi import junction_tree

    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, 3000)
    b = (a + rng.integers(0, 2, 3000)) % 6
    dependent = pd.DataFrame({"a": a, "b": b, "c": (a + b + rng.integers(0, 2, 3000)) % 5})
    # all three pairs sum to 74 cells, within the limit, but their junction tree is one 120-cell clique
    limit = 100 * 8 / 2 ** 20
    bounded = synthesizers.create("aim", 10.0, 1e-9, {"rounds": 12, "round_iters": 20, "final_iters": 20,
                                                      "max_model_size": limit})
    bounded.fit(dependent, CARDINALITIES)
    fitted = bounded._model.synthesizer
    assert junction_tree.hypothetical_model_size(fitted.domain, fitted.cliques) <= limit
    assert len(fitted.cliques) == 2, "the dependent pairs are still measured, up to the bound"


def test_aim_hands_each_estimate_the_oracle_its_model_size_calls_for(monkeypatch):
    chosen: list[tuple[tuple[str, ...], ...]] = []
    pick = synthesizers.marginal_oracle_for

    def spy(domain, cliques):  # noqa: ANN001, ANN202
        chosen.append(tuple(cliques))
        return pick(domain, cliques)

    monkeypatch.setattr(synthesizers, "marginal_oracle_for", spy)
    synthesizers.create("aim", 3.0, 1e-9, {"rounds": 3, "round_iters": 20, "final_iters": 20}).fit(
        _codes(), CARDINALITIES)
    assert len(chosen) >= 3 and set(chosen[0]) == {("col0",), ("col1",), ("col2",)} and len(chosen[-1]) > 3


def test_aim_with_a_focus_fits_and_samples_over_the_declared_codes():
    model = synthesizers.create("aim", 3.0, 1e-9, {"focus": "b", "rounds": 4, "round_iters": 50, "final_iters": 100})
    model.fit(_codes(), CARDINALITIES)
    assert model._model.focus == "col1"
    out = model.sample(300)
    assert list(out.columns) == ["a", "b", "c"] and (out.max() < CARDINALITIES).all()
    with pytest.raises(ValueError, match="options.focus: 'zz' is not among the modelled columns"):
        synthesizers.create("aim", 3.0, 1e-9, {"focus": "zz"}).fit(_codes(), CARDINALITIES)


def _sparse_ordered(n: int = 4000) -> pd.DataFrame:
    """An 'age' of 60 ordered bins, most of them sparse, and a label that depends on it."""
    rng = np.random.default_rng(11)
    age = np.minimum(rng.geometric(0.08, n) - 1, 59)
    return pd.DataFrame({"age": age, "label": (age + rng.integers(0, 10, n) > 15).astype(int)})


def test_aim_models_sparse_ordered_bins_as_runs_and_samples_every_bin_back():
    codes = _sparse_ordered()
    model = synthesizers.create("aim", 3.0, 1e-9, {"round_iters": 50, "final_iters": 100})
    model.fit(codes, [60, 2], [60, 0])
    fitted = model._model
    assert set(fitted.splitters) == {"col0"}  # the label's codes are not ordered
    runs_kept = fitted.synthesizer.domain["col0"]
    assert 2 <= runs_kept < 60  # the sparse tail is merged
    out = model.sample(20_000)
    assert out["age"].between(0, 59).all() and out["age"].nunique() > runs_kept
    real = np.bincount(codes["age"], minlength=60) / len(codes)
    synth = np.bincount(out["age"], minlength=60) / len(out)
    assert 0.5 * np.abs(real - synth).sum() < 0.1
    assert abs(out.groupby("label")["age"].mean().diff().iloc[-1]
               - codes.groupby("label")["age"].mean().diff().iloc[-1]) < 3


def test_aim_keeps_every_bin_of_the_focus_and_of_columns_it_is_told_to_keep_whole():
    codes = _sparse_ordered()
    options = {"rounds": 4, "round_iters": 50, "final_iters": 100}
    focused = synthesizers.create("aim", 3.0, 1e-9, {**options, "focus": "age"})
    focused.fit(codes, [60, 2], [60, 0])
    assert focused._model.splitters == {} and focused._model.synthesizer.domain["col0"] == 60
    whole = synthesizers.create("aim", 3.0, 1e-9, {**options, "merge_mass": 0.0})
    whole.fit(codes, [60, 2], [60, 0])
    assert whole._model.splitters == {} and whole._model.synthesizer.domain["col0"] == 60
    unordered = synthesizers.create("aim", 3.0, 1e-9, options)
    unordered.fit(codes, [60, 2])
    assert unordered._model.splitters == {}


def test_mwem_sizes_histograms_from_declared_cardinalities_and_keeps_no_real_data():
    model = synthesizers.create("mwem", 2.0, 1e-9, {"iterations": 5})
    model.fit(_codes(), CARDINALITIES)
    hists = model._model.synthetic_histograms
    assert [h.shape for h, _, _ in hists] == [tuple(CARDINALITIES)]
    assert all(real is None for _, real, _ in hists) and model._model.histograms is None
    out = model.sample(400)
    assert list(out.columns) == ["a", "b", "c"] and (out.max() < CARDINALITIES).all()


def test_mwem_splits_wide_domains_into_independent_groups():
    assert synthesizers._splits([10, 10, 10, 10], max_cells=150) == [[0, 1], [2, 3]]
    assert synthesizers._splits([1000, 2], max_cells=10) == [[0], [1]]


def test_gan_one_hot_widths_come_from_the_spec_not_the_data():
    encoders = [synthesizers.DeclaredOneHot(k) for k in CARDINALITIES]
    assert [e.output_width for e in encoders] == CARDINALITIES and all(e.fit_complete for e in encoders)
    assert encoders[0].transform([3]) == [(0, 0, 0, 1)]


def test_dpctgan_trains_only_the_epochs_its_budget_pays_for():
    model = synthesizers.create("dpctgan", 1.0, 1e-6)
    epochs = model.affordable_epochs(rows=5000, batch=500, sigma=5.0, requested=10_000)
    assert 0 < epochs < 10_000
    assert model._epsilon_after(epochs, 5000, 500, 5.0) <= 1.0 < model._epsilon_after(epochs + 1, 5000, 500, 5.0)
    with pytest.raises(ValueError, match="does not pay for one epoch"):
        synthesizers.create("dpctgan", 0.01, 1e-9).affordable_epochs(rows=1000, batch=500, sigma=0.5, requested=5)


@pytest.mark.slow
def test_dpctgan_fits_on_declared_codes_and_keeps_no_training_rows():
    model = synthesizers.create("dpctgan", 3.0, 1e-6, {"epochs": 1, "batch_size": 100, "embedding_dim": 16})
    model.fit(_codes(400), CARDINALITIES)
    assert model._model._data_sampler._data is None
    out = model.sample(300)
    assert out.shape == (300, 3) and (out.min() >= 0).all() and (out.max() < CARDINALITIES).all()


@pytest.mark.parametrize("name, options", [("mst", {}), ("aim", {}), ("mwem", {})])
def test_the_ledger_reserves_exactly_what_the_mechanisms_declare(name, options, write_spec, settings):
    def edit(raw: dict) -> None:
        raw["privacy"].update(synthesizer=name, options=options)

    path = write_spec(edit)
    ctx = RunContext(str(path), "run-1", settings)
    reserve(ctx)
    entry = Ledger(settings.ledger_url).get(ctx.spec.publish.dataset, "run-1")
    total = synthesizers.plan(load_spec(path)).total
    assert (entry.epsilon, entry.delta, entry.rho) == pytest.approx((total.epsilon, total.delta, total.rho))


def test_a_plan_with_dp_estimation_splits_the_release_budget_exactly():
    raw = demo_spec_dict()
    for col in raw["columns"]:
        if col["name"] == "income":
            col.update(bounds="estimate", estimate_epsilon=0.1)
        if col["name"] == "segment":
            col.update(categories="estimate", estimate_epsilon=0.05)
    plan = synthesizers.plan(parse_spec(raw))
    parts = [*plan.estimation, plan.synthesizer.spend()]
    assert [s.epsilon for s in plan.estimation] == pytest.approx([0.1, 0.05])
    assert plan.total.epsilon == pytest.approx(raw["privacy"]["epsilon"])
    assert plan.total.delta == pytest.approx(sum(s.delta for s in parts)) and plan.total.delta <= raw["privacy"]["delta"]
    assert plan.total.rho is None  # key discovery is (epsilon, delta)-DP only
    assert plan.synthesizer.epsilon == pytest.approx(raw["privacy"]["epsilon"] - 0.15)


def test_mst_joins_the_dependent_columns_in_its_spanning_tree():
    """MST's selection (scored on numpy marginals of its independent model) must still find the
    pair that carries the dependence, and return a tree over every column."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 20_000)
    codes = pd.DataFrame({"a": a, "b": a, "c": rng.integers(0, 4, 20_000), "d": rng.integers(0, 3, 20_000)})
    model = synthesizers.create("mst", 5.0, 1e-9)
    model.fit(codes, [4, 4, 4, 3])
    pairs = [set(cl) for cl in model._model.synthesizer.potentials.cliques if len(cl) == 2]
    assert len(pairs) == 3 and {"col0", "col1"} in pairs  # the mechanism sees a, b, c, d as col0..col3
    assert set().union(*pairs) == {"col0", "col1", "col2", "col3"}
    sample = model.sample(5_000)
    assert (sample["a"] == sample["b"]).mean() > 0.9
