"""The OpenDP dp.mbi reference: what it is told is the declared domain, and what it reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import opendp_mbi
from bench.synthesis import Table

VENV_PYTHON = opendp_mbi.ROOT / ".venv-opendp-mbi" / "bin" / "python"
needs_venv = pytest.mark.skipif(not VENV_PYTHON.exists(),
                                reason="run bench/opendp_mbi_env.sh to create .venv-opendp-mbi")


def _table(rows: int = 400) -> Table:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, rows)
    codes = pd.DataFrame({"a": a, "b": (a + rng.integers(0, 2, rows)) % 4, "y": a % 2})
    # the declared domain is wider than anything in the rows: b has 6 codes, y has 3
    return Table("tiny", codes, [3, 6, 3], "y", codes, lambda out: out)


def test_the_worker_is_told_the_declared_domain_not_the_data(tmp_path: Path) -> None:
    table = _table()
    opendp_mbi.write_inputs(table, tmp_path)
    assert json.loads((tmp_path / "domain.json").read_text()) == {"a": 3, "b": 6, "y": 3}
    assert pd.read_parquet(tmp_path / "train.parquet").equals(table.train)

    command = opendp_mbi.worker_command(Path("/venv/python"), tmp_path, "mst", 1.0, 1e-9, len(table.train))
    flags = dict(zip(command[2::2], command[3::2]))
    assert command[:2] == ["/venv/python", str(opendp_mbi.WORKER)]
    assert flags["--domain"] == str(tmp_path / "domain.json")
    assert (flags["--algorithm"], float(flags["--epsilon"]), float(flags["--delta"])) == ("mst", 1.0, 1e-9)
    assert int(flags["--rows"]) == len(table.train)


def test_a_failure_is_reported_by_its_type_never_its_message() -> None:
    stderr = ('Traceback (most recent call last):\n  File "w.py", line 1\n'
              'opendp.mod.OpenDPException: \n  FFI("row 42: alice")\n')
    assert opendp_mbi.failure_reason(stderr) == "OpenDPException"
    assert opendp_mbi.failure_reason("Killed\n") == "worker failed without a traceback"


def test_rows_outside_the_declared_domain_are_dropped_and_counted() -> None:
    table = _table()
    synth = table.train.astype("float64")
    synth.loc[: len(synth) // 4 - 1, "b"] = np.nan
    stats = {"fit_seconds": 1.0, "fit_cpu_seconds": 1.0, "sample_seconds": 0.1, "epsilon_declared": 1.0,
             "rho": 0.01, "marginals_measured": {"1-way": 3}}
    measured = opendp_mbi.measure(table, synth, stats)
    assert measured["null_row_share"] == pytest.approx(0.25, abs=0.01)
    assert measured["tvd_1way"] < 0.1  # the kept rows are real rows: close to the test marginals


@needs_venv
def test_mst_budget_split_workaround_only_lowers_rho() -> None:
    code = ("import sys; sys.path.insert(0, 'bench'); import opendp_mbi_worker as w; "
            "rho = w.rho_for(1.0, 1e-9); print(rho, w.mst_rho(rho, 14), w.mst_rho(0.1, 14))")
    done = subprocess.run([str(VENV_PYTHON), "-c", code], cwd=opendp_mbi.ROOT, capture_output=True, text=True,
                          check=True)
    rho, lowered, untouched = map(float, done.stdout.split())
    assert rho - 1e-15 < lowered < rho  # rho at epsilon 1 trips OpenDP's split on 14 columns
    assert untouched == 0.1


@needs_venv
def test_the_worker_samples_inside_the_declared_domain_at_the_declared_loss(tmp_path: Path) -> None:
    table = _table()
    opendp_mbi.write_inputs(table, tmp_path)
    command = opendp_mbi.worker_command(VENV_PYTHON, tmp_path, "mst", 1.0, 1e-9, 300)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    out = pd.read_parquet(command[command.index("--output") + 1])
    assert len(out) == stats["rows"] == 300
    assert stats["epsilon_declared"] <= 1.0 and stats["delta_declared"] <= 1e-9
    inside = out.dropna()
    assert len(out) - len(inside) == stats["null_rows"]
    assert all(inside[c].between(0, size - 1).all() for c, size in zip(table.train.columns, table.sizes))
