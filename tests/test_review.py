"""The private review page: real against synthetic, every verdict, and never an identifier value."""

from __future__ import annotations

import stat

import pytest

from synthpriv import review
from synthpriv.gates import GateResult
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec
from tests.conftest import DEMO_SPEC

SPEC = load_spec(DEMO_SPEC)
RELEASED = [c.name for c in SPEC.modelled_columns]
IDENTIFIERS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address", "notes"]


@pytest.fixture(scope="module")
def tables():
    source = generate_customers(1500, seed=7)
    synthetic = generate_customers(1500, seed=8)[RELEASED].copy()
    synthetic["income"] = synthetic["income"].clip(upper=400_000)
    return source, synthetic


def _gates(passed: bool) -> dict:
    return {
        "privacy": [GateResult("privacy", "exact_match_rate", True, 0.0, 0.0).to_dict()],
        "quality": [
            GateResult("quality", "field_correlation_stability", passed, 0.9, 0.95, "noise floor 0.01").to_dict(),
            GateResult("quality", "synthetic_rows", True, 1500.0, 5000.0, "warning: fewer than 5,000 rows asked").to_dict(),
        ],
    }


def test_review_compares_real_and_synthetic_and_names_every_failed_check(tables):
    source, synthetic = tables
    html = review.render(SPEC, "run-1", source, synthetic, _gates(passed=False))
    # one figure per column, the two association matrices, the principal components
    assert html.count("data:image/png;base64,") == len(RELEASED) + 2
    assert "Blocked:" in html and "quality.field_correlation_stability" in html
    assert "warning: fewer than 5,000 rows asked" in html and "Private." in html
    assert "All checks passed." in review.render(SPEC, "run-1", source, synthetic, _gates(passed=True))


def test_review_never_carries_identifier_values_even_when_handed_them(tables, tmp_path):
    source, synthetic = tables  # the whole source, identifier and free-text columns included
    path = review.write(tmp_path / "review.html", SPEC, "run-1", source, synthetic, _gates(passed=True))
    html = path.read_text()
    values = source[IDENTIFIERS].astype(str).to_numpy().ravel()
    assert not [v for v in values if v in html]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_protected_subgroups_are_tabulated_with_both_shares(tables):
    source, synthetic = tables
    spec = SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"quality": SPEC.gates.quality.model_copy(update={"protected": ["segment"]})})})
    html = review.render(spec, "run-1", source, synthetic, _gates(passed=True))
    assert "Protected subgroups" in html and all(f"<td>{c}</td>" in html for c in spec.column("segment").categories)


def test_past_max_rows_plots_use_a_sample_but_the_page_counts_every_row(tables):
    source, synthetic = tables
    capped = SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"quality": SPEC.gates.quality.model_copy(update={"max_rows": 1_000})})})
    html = review.render(capped, "run-1", source, synthetic, _gates(passed=True))
    assert html.count("data:image/png;base64,") == len(RELEASED) + 2
    assert "<td>training rows</td><td>1500</td>" in html and "<td>synthetic rows</td><td>1500</td>" in html
