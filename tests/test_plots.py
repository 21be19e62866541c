"""Report figures are embeddable base64 PNG data URIs; the public ones read the synthetic table only."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from synthpriv import plots
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec

SPEC = load_spec(Path(__file__).resolve().parents[1] / "synthpriv" / "specs" / "demo_customers.yaml")
NAMES = [c.name for c in SPEC.modelled_columns]
PREFIX = "data:image/png;base64,"


def _is_png(uri: str) -> bool:
    assert uri.startswith(PREFIX)
    data = base64.b64decode(uri[len(PREFIX):], validate=True)
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 500


@pytest.fixture(scope="module")
def tables():
    real = generate_customers(1500, seed=7)[NAMES]
    synthetic = generate_customers(1200, seed=8)[NAMES].copy()
    synthetic["birth_date"] = [dt.date.fromisoformat(v) for v in synthetic["birth_date"]]
    return real, synthetic


def test_column_distributions(tables):
    real, synthetic = tables
    figures = plots.column_distributions(real, synthetic, SPEC)
    assert list(figures) == NAMES
    assert all(_is_png(uri) for uri in figures.values())


def test_public_column_distributions_need_no_real_table(tables):
    _, synthetic = tables
    figures = plots.column_distributions(None, synthetic, SPEC)
    assert list(figures) == NAMES
    assert all(_is_png(uri) for uri in figures.values())


def test_correlation_matrices_and_principal_components(tables):
    real, synthetic = tables
    assert _is_png(plots.correlation_matrices(real, synthetic, SPEC))
    assert _is_png(plots.principal_components(real, synthetic, SPEC))


def test_public_association_matrix_and_components_need_no_real_table(tables, monkeypatch):
    _, synthetic = tables
    seen = []
    original = plots.fidelity.association_matrix
    monkeypatch.setattr(plots.fidelity, "association_matrix", lambda t, s: seen.append(len(t)) or original(t, s))
    assert _is_png(plots.correlation_matrices(None, synthetic, SPEC))
    assert seen == [len(synthetic)]  # one panel, drawn from the synthetic table alone
    fitted = []
    original_fit = plots.fidelity.fit_pca
    monkeypatch.setattr(plots.fidelity, "fit_pca", lambda t, s, k: fitted.append(t) or original_fit(t, s, k))
    assert _is_png(plots.principal_components(None, synthetic, SPEC))
    assert len(fitted) == 1 and fitted[0] is synthetic  # axes of the synthetic table itself
