"""The catalog shows what the Releases page and the reviewer rely on: versions, verdicts, budget, never rows."""

from __future__ import annotations

import pandas as pd
import pytest

from synthpriv import catalog
from synthpriv.ledger import Cap, Charge, Ledger
from synthpriv.store import LocalStore

GATES = {
    "privacy": [{"gate": "privacy", "metric": "exact_match_rate", "passed": True, "value": 0.0, "threshold": 0.0,
                 "detail": ""},
                {"gate": "privacy", "metric": "membership_auc", "passed": False, "value": 0.71, "threshold": 0.6,
                 "detail": "a | b"}],
    "quality": [{"gate": "quality", "metric": "expect_column_values_to_be_between(age)", "passed": True,
                 "value": None, "threshold": None, "detail": ""}],
}


def _publish(settings, tmp_path, dataset: str, run_id: str, approver: str) -> None:
    data, report = tmp_path / "d.parquet", tmp_path / "r.html"
    pd.DataFrame({"a": [1, 2]}).to_parquet(data)
    report.write_text("<html></html>")
    LocalStore(settings.store).publish(dataset, run_id, data, report, {
        "epsilon": 1.0, "delta": 1e-9, "rows": 2, "synthesizer": {"name": "mst"}, "approved_by": approver,
        "gates": GATES,
    })


def test_an_empty_home_lists_nothing_and_creates_no_ledger(settings):
    assert catalog.releases(settings) == []
    assert not (settings.home / "ledger.sqlite").exists()


def test_releases_list_versions_newest_first_with_verdicts_and_the_ledger_budget(settings, tmp_path):
    _publish(settings, tmp_path, "patients", "run-1", "alice")
    _publish(settings, tmp_path, "patients", "run-2", "bob")
    ledger = Ledger(settings.ledger_url)
    for run_id in ("run-1", "run-2", "run-3"):
        ledger.reserve("patients", run_id, Charge(1.0, 1e-9, "mst"), Cap(5.0, 1e-6))
    ledger.spend("patients", "run-1")
    ledger.spend("patients", "run-2")
    ledger.reserve("refused", "run-9", Charge(2.0, 1e-9, "mst"), Cap(3.0, 1e-6))
    ledger.engine.dispose()

    patients, refused = catalog.releases(settings)
    assert [v.version for v in patients.versions] == ["v2", "v1"]
    assert [v.latest for v in patients.versions] == [True, False]
    assert [v.approved_by for v in patients.versions] == ["bob", "alice"]
    assert not patients.versions[0].passed
    assert patients.budget == catalog.Budget(cap=5.0, spent=2.0, reserved=1.0, remaining=2.0, composition="basic")
    assert refused.name == "refused" and refused.versions == () and refused.budget.reserved == 2.0


def test_review_summary_lists_every_check_and_where_the_review_is():
    text = catalog.review_summary("patients", 1.0, GATES, "/ws/patients/run-1/review.html")
    assert "**1 gate check(s) failed**" in text
    assert "| privacy | membership_auc | 0.71 | 0.6 | FAILED |" in text
    assert "| quality | expect_column_values_to_be_between(age) | - | - | passed |" in text
    assert "`/ws/patients/run-1/review.html`" in text
    assert "a | b" not in text  # free-text details stay out: only aggregates and thresholds


@pytest.mark.parametrize("gates, verdict", [({}, "all 0 gate checks passed"), ({"privacy": GATES["privacy"][:1]},
                                                                                 "all 1 gate checks passed")])
def test_review_summary_headline(gates, verdict):
    assert verdict in catalog.review_summary("patients", 0.5, gates, "review.html")
