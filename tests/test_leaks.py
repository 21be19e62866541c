"""Nothing real leaves the private workspace: not in logs, output, the ledger or the store."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from synthpriv import cli
from synthpriv.sample_data import generate_customers
from synthpriv.settings import Settings
from synthpriv.stages import prune_workspaces

IDENTIFIERS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]


@pytest.mark.slow
def test_the_demo_release_with_every_log_level_on_writes_no_identifier_outside_the_workspace(tmp_path):
    home = tmp_path / "home"
    env = {"SYNTHPRIV_HOME": str(home), "SYNTHPRIV_LOG_LEVEL": "DEBUG", "SYNTHPRIV_KEEP_WORKSPACE": "1",
           "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.run([str(Path(sys.executable).parent / "synthpriv"), "demo", "--json"],
                          capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DEBUG" in proc.stderr  # the debug level really was on
    result = json.loads(proc.stdout)
    published = pd.read_parquet(Path(result["uri"]) / "data.parquet")
    assert len(published) == 20_000 and not set(IDENTIFIERS) & set(published.columns)

    outside = [proc.stdout, proc.stderr, published.astype(str).to_csv()]
    for path in home.rglob("*"):
        if path.is_file() and "workspace" not in path.relative_to(home).parts and path.suffix != ".parquet":
            outside.append(path.read_bytes().decode("utf-8", errors="replace"))
    written = "\n".join(outside)
    source = generate_customers(20_000)
    values = set(source[IDENTIFIERS].astype(str).to_numpy().ravel())
    leaked = [v for v in values if v in written]
    assert leaked == [], f"{len(leaked)} identifier values found outside the workspace"


def test_failed_run_keeps_a_private_workspace_and_retention_prunes_old_ones(home, write_spec, monkeypatch):
    from synthpriv import stages

    for name in ("train", "sample", "check_privacy", "check_quality"):
        monkeypatch.setattr(stages, name, lambda ctx: {"stubbed": True})
    spec = write_spec(lambda raw: raw["approval"].update(required=True))
    assert cli.main(["release", str(spec), "--json"]) == 3

    settings = Settings.from_env()
    runs = list((settings.workspace_root / "demo_customers").iterdir())
    assert len(runs) == 1
    assert stat.S_IMODE(runs[0].stat().st_mode) == 0o700
    assert (runs[0] / "source.parquet").exists()  # kept for diagnosis
    assert prune_workspaces(settings) == []
    assert prune_workspaces(settings, now=time.time() + 8 * 86_400) == runs
    assert not runs[0].exists()
