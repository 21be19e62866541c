"""The ledger never lets a dataset pass its cap, a retry never spends twice, and the history stays."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp

import pytest
from sqlalchemy import inspect

from synthpriv.accounting import rho_for
from synthpriv.errors import BlockedError, BudgetExceededError
from synthpriv.ledger import Cap, Charge, Ledger

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MST1 = Charge(1.0, 1e-9, "mst", rho_for(1.0, 1e-9))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


def test_reserve_spend_release_and_summary(url):
    ledger = Ledger(url)
    cap = Cap(3.0, 1e-6)
    ledger.reserve("ds", "a", MST1, cap)
    ledger.spend("ds", "a")
    ledger.reserve("ds", "b", MST1, cap)
    ledger.release("ds", "b")
    ledger.reserve("ds", "c", Charge(1.5, 1e-9, "mst", rho_for(1.5, 1e-9)), cap)
    s = ledger.summary("ds")
    assert (s["spent"], s["reserved"], s["remaining"]) == (1.0, 1.5, 0.5)
    assert [e["state"] for e in s["entries"]] == ["spent", "released", "reserved"]
    assert s["cap"] == {"epsilon": 3.0, "delta": 1e-6, "renewal_days": None, "composition": "basic"}


def test_retry_with_the_same_key_returns_the_same_reservation_even_when_spent(url):
    ledger = Ledger(url)
    first = ledger.reserve("ds", "run-1", MST1, Cap(1.0, 1e-6))
    assert ledger.reserve("ds", "run-1", MST1, Cap(1.0, 1e-6)) == first
    ledger.spend("ds", "run-1")
    again = ledger.reserve("ds", "run-1", MST1, Cap(1.0, 1e-6))
    assert again.state == "spent" and len(ledger.summary("ds")["entries"]) == 1


def test_refusal_says_what_is_left_and_that_there_is_no_renewal(url):
    ledger = Ledger(url)
    ledger.reserve("ds", "a", Charge(2.5, 0.0, "laplace"), Cap(3.0, 1e-6))
    with pytest.raises(BudgetExceededError, match="remaining epsilon 0.5") as info:
        ledger.reserve("ds", "b", MST1, Cap(3.0, 1e-6))
    assert info.value.exit_code == 3 and "no renewal period" in str(info.value)


def test_spent_budget_is_never_given_back(url):
    ledger = Ledger(url)
    ledger.reserve("ds", "a", MST1, Cap(3.0, 1e-6))
    ledger.spend("ds", "a")
    assert ledger.release("ds", "a").state == "spent"


def test_renewal_window_frees_budget_and_the_refusal_says_when(url):
    clock = Clock()
    ledger = Ledger(url, clock=clock)
    cap = Cap(2.0, 1e-6, renewal_days=30)
    for i, day in enumerate((0, 10)):
        clock.now = T0 + dt.timedelta(days=day)
        ledger.reserve("ds", f"r{i}", MST1, cap)
        ledger.spend("ds", f"r{i}")
    clock.now = T0 + dt.timedelta(days=20)
    with pytest.raises(BudgetExceededError, match="starts renewing on 2026-01-31"):
        ledger.reserve("ds", "r2", MST1, cap)
    clock.now = T0 + dt.timedelta(days=31)
    ledger.reserve("ds", "r2", MST1, cap)
    s = ledger.summary("ds")
    assert [e["in_window"] for e in s["entries"]] == [False, True, True] and s["remaining"] == 0.0


def test_zcdp_composition_is_reported_and_enforced_when_declared(url):
    ledger = Ledger(url)
    basic, zcdp = Cap(4.0, 1e-6), Cap(4.0, 1e-6, composition="zcdp")
    for i in range(4):
        ledger.reserve("basic", f"r{i}", MST1, basic)
    with pytest.raises(BudgetExceededError):
        ledger.reserve("basic", "r4", MST1, basic)
    for i in range(12):  # a year of monthly epsilon-1 MST releases
        ledger.reserve("tight", f"r{i}", MST1, zcdp)
    s = ledger.summary("tight")
    assert s["composition"]["basic"]["epsilon"] == 12.0
    assert 3.0 < s["composition"]["zcdp"]["epsilon"] < 4.0
    assert ledger.summary("basic")["composition"]["zcdp"]["epsilon"] < 4.0


def test_a_non_zcdp_entry_falls_back_to_basic_composition(url):
    ledger = Ledger(url)
    cap = Cap(3.0, 1e-6, composition="zcdp")
    ledger.reserve("ds", "a", Charge(2.0, 0.0, "laplace"), cap)
    with pytest.raises(BudgetExceededError):
        ledger.reserve("ds", "b", Charge(1.5, 1e-9, "mst", rho_for(1.5, 1e-9)), cap)
    assert ledger.summary("ds")["composition"]["zcdp"] is None


def test_an_abandoned_reservation_expires_and_cannot_be_spent_after(url):
    clock = Clock()
    ledger = Ledger(url, clock=clock, ttl=dt.timedelta(hours=1))
    cap = Cap(1.0, 1e-6)
    ledger.reserve("ds", "dead-run", MST1, cap)
    clock.now = T0 + dt.timedelta(hours=2)
    assert ledger.summary("ds")["reserved"] == 0.0
    ledger.reserve("ds", "next-run", MST1, cap)
    assert ledger.get("ds", "dead-run").state == "released"
    with pytest.raises(BlockedError, match="released and cannot become spent"):
        ledger.spend("ds", "dead-run")


def test_schema_comes_from_migrations_and_migrating_again_is_a_no_op(url):
    Ledger(url)
    ledger = Ledger(url)
    tables = set(inspect(ledger.engine).get_table_names())
    assert {"budget_caps", "budget_reservations", "synthpriv_ledger_version"} <= tables


def _race(args: tuple[str, int]) -> str:
    url, i = args
    try:
        Ledger(url).reserve("ds", f"run-{i}", Charge(1.0, 1e-9, "mst", 0.01), Cap(5.0, 1e-6))
        return "ok"
    except BudgetExceededError:
        return "refused"


def _assert_race_never_overspends(url: str) -> None:
    with mp.get_context("spawn").Pool(8) as pool:
        outcomes = pool.map(_race, [(url, i) for i in range(40)])
    s = Ledger(url).summary("ds")
    assert outcomes.count("ok") == 5 and outcomes.count("refused") == 35
    assert s["reserved"] == 5.0 and len(s["entries"]) == 5


def test_concurrent_processes_never_overspend_on_sqlite(url):
    _assert_race_never_overspends(url)


@pytest.mark.slow
def test_concurrent_processes_never_overspend_on_postgresql(postgres_url):
    _assert_race_never_overspends(postgres_url)
