"""A run killed at any point leaves the ledger exactly as its semantics say, and publishes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from synthpriv.ledger import Ledger
from synthpriv.settings import Settings
from synthpriv.store import LocalStore
from tests.conftest import REPO, loosen_quality_gate

pytestmark = pytest.mark.slow


def _run(spec, run_id: str, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.fault_runner", str(spec), run_id, mode],
                          cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=600)


@pytest.fixture
def small_spec(write_spec):
    """A small release whose leakage and fidelity bars are loose on purpose: these tests are
    about the ledger, and on 1,000 rows an honest release at epsilon 1 sits near the defaults."""

    def edit(raw):
        raw["pii"].update(sample_size=50)
        raw["gates"]["privacy"].update(max_dcr_excess=0.6, min_nndr_mean=0.2, max_membership_auc=0.75)
        loosen_quality_gate(raw)

    return write_spec(edit, rows=1000)


def _entries(settings: Settings) -> list[dict]:
    return Ledger(settings.ledger_url).summary("demo_customers")["entries"]


def test_killed_between_reservation_and_training(home, settings, small_spec):
    proc = _run(small_spec, "run-a", "kill_before_train")
    assert proc.returncode == -signal.SIGKILL
    assert [(e["run_id"], e["state"]) for e in _entries(settings)] == [("run-a", "reserved")]
    assert LocalStore(settings.store).datasets() == []
    retry = _run(small_spec, "run-a", "none")
    assert retry.returncode == 0, retry.stderr[-2000:]
    assert [(e["run_id"], e["state"]) for e in _entries(settings)] == [("run-a", "spent")]
    assert LocalStore(settings.store).versions("demo_customers") == ["v1"]


def test_killed_between_training_and_publish_keeps_the_spend_and_never_refits(home, settings, small_spec):
    proc = _run(small_spec, "run-b", "kill_before_gates")
    assert proc.returncode == -signal.SIGKILL
    assert [(e["run_id"], e["state"]) for e in _entries(settings)] == [("run-b", "spent")]
    assert LocalStore(settings.store).datasets() == []
    retry = _run(small_spec, "run-b", "forbid_fit")
    assert retry.returncode == 0, retry.stderr[-2000:]
    entries = _entries(settings)
    assert [(e["run_id"], e["state"]) for e in entries] == [("run-b", "spent")]
    assert Ledger(settings.ledger_url).summary("demo_customers")["spent"] == 1.0
    assert LocalStore(settings.store).versions("demo_customers") == ["v1"]


def test_killed_during_training_refuses_to_spend_again_on_retry(home, settings, small_spec):
    proc = _run(small_spec, "run-c", "kill_in_fit")
    assert proc.returncode == -signal.SIGKILL
    assert [(e["run_id"], e["state"]) for e in _entries(settings)] == [("run-c", "spent")]
    retry = _run(small_spec, "run-c", "none")
    assert retry.returncode == 3 and "already spent its reservation" in retry.stderr
    assert [(e["run_id"], e["state"]) for e in _entries(settings)] == [("run-c", "spent")]
    assert LocalStore(settings.store).datasets() == []
