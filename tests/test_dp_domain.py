"""DP domain estimation: opted into per column, paid from the release's budget, never quoting data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from synthpriv import dp_domain
from synthpriv.errors import SpecError
from synthpriv.spec import Column, parse_spec

from .conftest import demo_spec_dict

RNG = np.random.default_rng(0)


def _table(n: int = 20_000) -> pd.DataFrame:
    return pd.DataFrame({
        "income": RNG.normal(50_000, 10_000, n),
        "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(RNG.integers(0, 1000, n), unit="D"),
        "plan": RNG.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
    })


def test_estimating_a_domain_is_an_explicit_opt_in_with_its_own_epsilon():
    with pytest.raises(ValueError, match="needs 'estimate_epsilon'"):
        Column(name="x", type="float", bounds="estimate")
    with pytest.raises(ValueError, match="applies only to"):
        Column(name="x", type="float", bounds=(0, 1), estimate_epsilon=0.1)
    raw = demo_spec_dict()
    raw["columns"][9].pop("bounds")  # income: no bounds and no opt-in is refused, as before
    with pytest.raises(SpecError, match=r"columns\[income\].*needs public 'bounds'"):
        parse_spec(raw)


def test_declared_spends_are_what_the_opendp_mechanisms_map_to():
    cols = [Column(name="income", type="float", bounds="estimate", estimate_epsilon=0.2),
            Column(name="plan", type="categorical", categories="estimate", estimate_epsilon=0.1)]
    bounds, keys = dp_domain.estimation_spends(cols, delta=1e-8)
    assert bounds.epsilon == pytest.approx(0.2) and bounds.delta == 0.0 and bounds.rho == pytest.approx(0.02)
    assert keys.epsilon == pytest.approx(0.1) and 0 < keys.delta <= dp_domain.KEY_DISCOVERY_DELTA_SHARE * 1e-8
    assert keys.rho is None


def test_estimated_bounds_cover_the_bulk_and_keep_the_public_bin_count():
    cols = [Column(name="income", type="float", bounds="estimate", estimate_epsilon=1.0, bins=20),
            Column(name="joined", type="date", bounds="estimate", estimate_epsilon=1.0)]
    income, joined = dp_domain.resolve(cols, _table(), delta=1e-9)
    lo, hi = income.bounds
    assert lo <= 40_000 and 60_000 <= hi and hi - lo < 1_000_000
    assert income.bins == 20 and joined.bins == 32 and income.estimate_epsilon is None
    assert joined.bounds[0] <= dt.date(2020, 3, 1) and joined.bounds[1] >= dt.date(2022, 6, 1)


def test_key_discovery_keeps_frequent_categories_and_never_a_unique_one():
    table = _table(5_000)
    table.loc[0, "plan"] = "one-customer-only"
    col = Column(name="plan", type="categorical", categories="estimate", estimate_epsilon=0.5)
    for _ in range(5):
        (resolved,) = dp_domain.resolve([col], table, delta=1e-9)
        assert resolved.categories == ["basic", "plus", "pro"]


def test_key_discovery_that_finds_nothing_refuses_without_quoting_a_value():
    table = pd.DataFrame({"plan": [f"value-{i}" for i in range(300)]})
    col = Column(name="plan", type="categorical", categories="estimate", estimate_epsilon=0.5)
    with pytest.raises(dp_domain.EstimationError, match=r"columns\[plan\]") as err:
        dp_domain.resolve([col], table, delta=1e-9)
    assert "value-" not in str(err.value)


def test_resolved_domains_round_trip_into_the_spec():
    raw = demo_spec_dict()
    raw["columns"][9].update(bounds="estimate", estimate_epsilon=0.5)
    spec = parse_spec(raw)
    resolved = [c.model_copy(update={"bounds": (0.0, 1000.0), "bins": 32, "estimate_epsilon": None})
                if c.name == "income" else c for c in spec.columns]
    applied = dp_domain.apply(spec, dp_domain.to_json([c for c in resolved if c.name == "income"]))
    assert applied.column("income").bounds == (0.0, 1000.0) and not applied.column("income").estimated
    assert [c.name for c in applied.columns] == [c.name for c in spec.columns]


def test_noisy_count_declares_its_epsilon():
    count, spend = dp_domain.noisy_count(1000, 0.5)
    assert spend.epsilon == pytest.approx(0.5) and spend.delta == 0.0
    assert abs(count - 1000) < 200


@pytest.mark.slow
def test_a_release_with_estimated_domains_spends_exactly_what_it_reserved(home, write_spec, settings, monkeypatch, capsys):
    import json

    from synthpriv import actions, cli, read
    from synthpriv.ledger import Ledger

    def edit(raw: dict) -> None:
        # 6,000 rows at 0.3 is in the regime where the DP quantiles find the data (docs/synthesis.md);
        # at 0.1, 2 runs in 15 drew a range so wide that the release was blocked (fail closed).
        for col in raw["columns"]:
            if col["name"] == "income":
                col.update(bounds="estimate", estimate_epsilon=0.3)
            if col["name"] == "segment":
                col.update(categories="estimate", estimate_epsilon=0.1)
        # Training gets the 0.6 left of 1.0, so a correlation error above the default bar now and
        # then blocked this test of accounting (fail closed, seen in a fresh-clone rehearsal).
        raw["gates"]["quality"]["field_correlation"] = {"factor": 8.0, "margin": 0.1}

    monkeypatch.setenv("SYNTHPRIV_KEEP_WORKSPACE", "1")
    code = cli.main(["release", str(write_spec(edit, rows=6000)), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, out
    entry = Ledger(settings.ledger_url).summary("demo_customers")["entries"][0]
    assert entry["state"] == "spent" and entry["epsilon"] == pytest.approx(1.0) == out["epsilon"]
    released = actions.read_released_spec(settings.workspace_root / "demo_customers" / out["run_id"]
                                          / actions.RELEASED_SPEC_FILE)
    income, segment = released.column("income"), released.column("segment")
    assert not income.estimated and not segment.estimated
    table = read("demo_customers")
    assert table["income"].dropna().between(*income.bounds).all()
    assert set(table["segment"].dropna()) <= {*segment.categories, segment.other_label}
