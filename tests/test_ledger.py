"""The ledger never lets a dataset pass its cap, and a retry never spends twice."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from synthpriv.errors import BudgetExceededError
from synthpriv.ledger import Ledger


def _reserve(args: tuple[str, int]) -> str:
    url, i = args
    try:
        Ledger(url).reserve("ds", f"run-{i}", 1.0, 0.0, 5.0, 1e-6, "test")
        return "ok"
    except BudgetExceededError:
        return "refused"


def test_reserve_spend_release_and_summary(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.reserve("ds", "a", 1.0, 1e-9, 3.0, 1e-6, "mst")
    ledger.spend("ds", "a")
    ledger.reserve("ds", "b", 1.0, 1e-9, 3.0, 1e-6, "mst")
    ledger.release("ds", "b")
    ledger.reserve("ds", "c", 1.5, 1e-9, 3.0, 1e-6, "mst")
    s = ledger.summary("ds")
    assert (s["spent"], s["reserved"], s["remaining"]) == (1.0, 1.5, 0.5)
    assert [e["state"] for e in s["entries"]] == ["spent", "released", "reserved"]


def test_retry_with_the_same_key_returns_the_same_reservation(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    first = ledger.reserve("ds", "run-1", 2.0, 0.0, 2.0, 1e-6, "mst")
    again = ledger.reserve("ds", "run-1", 2.0, 0.0, 2.0, 1e-6, "mst")
    assert first == again
    assert ledger.summary("ds")["reserved"] == 2.0


def test_a_reservation_past_the_cap_is_refused_with_what_is_left(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.reserve("ds", "a", 2.5, 0.0, 3.0, 1e-6, "mst")
    with pytest.raises(BudgetExceededError, match="remaining epsilon 0.5") as info:
        ledger.reserve("ds", "b", 1.0, 0.0, 3.0, 1e-6, "mst")
    assert info.value.exit_code == 3


def test_spent_budget_is_never_given_back(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.reserve("ds", "a", 1.0, 0.0, 3.0, 1e-6, "mst")
    ledger.spend("ds", "a")
    assert ledger.release("ds", "a").state == "spent"


def test_concurrent_processes_never_overspend_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    Ledger(url)
    with mp.get_context("spawn").Pool(8) as pool:
        outcomes = pool.map(_reserve, [(url, i) for i in range(24)])
    assert outcomes.count("ok") == 5
    s = Ledger(url).summary("ds")
    assert s["reserved"] == 5.0 and len(s["entries"]) == 5
