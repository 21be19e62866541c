"""Shared fixtures: an isolated synthpriv home per test and small variants of the demo spec."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from synthpriv.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DEMO_SPEC = REPO / "synthpriv" / "specs" / "demo_customers.yaml"


def demo_spec_dict(rows: int = 3000) -> dict:
    """The demo spec with a smaller sample, so end-to-end tests stay quick."""
    raw = yaml.safe_load(DEMO_SPEC.read_text())
    raw["source"]["rows"] = rows
    raw["synthesis"]["rows"] = rows
    return raw


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private synthpriv home (store, ledger, workspace) for one test."""
    h = tmp_path / "home"
    monkeypatch.setenv("SYNTHPRIV_HOME", str(h))
    for var in ("SYNTHPRIV_STORE", "SYNTHPRIV_WORKSPACE", "SYNTHPRIV_LEDGER_URL", "SYNTHPRIV_KEEP_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    return h


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.from_env()


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a (possibly edited) copy of the small demo spec and return its path."""

    def _write(edit=None, rows: int = 3000, name: str = "spec.yaml") -> Path:
        raw = copy.deepcopy(demo_spec_dict(rows))
        if edit:
            edit(raw)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return _write
