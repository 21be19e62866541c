"""The spec is validated before any data is read, and every error names its field."""

from __future__ import annotations

import pytest

from synthpriv.errors import SpecError
from synthpriv.spec import load_spec, parse_spec
from tests.conftest import DEMO_SPEC, demo_spec_dict


def _problems(raw: dict) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(raw, "x.yaml")
    assert info.value.exit_code == 2
    return info.value.problems


def test_demo_spec_is_valid():
    spec = load_spec(DEMO_SPEC)
    assert spec.publish.dataset == "demo_customers"
    assert {c.name for c in spec.modelled_columns} >= {"zip", "income", "birth_date"}
    assert all(not c.modelled for c in spec.columns if c.type.value in ("identifier", "text"))


def test_typo_in_a_field_is_named():
    raw = demo_spec_dict()
    raw["privacy"]["epsilom"] = 1.0
    assert any(p.startswith("privacy.epsilom") and "unknown field" in p for p in _problems(raw))


@pytest.mark.parametrize("eps", [0, -1.0])
def test_epsilon_must_be_positive(eps):
    raw = demo_spec_dict()
    raw["privacy"]["epsilon"] = eps
    assert any(p.startswith("privacy.epsilon") for p in _problems(raw))


def test_large_epsilon_needs_explicit_override():
    raw = demo_spec_dict()
    raw["privacy"]["epsilon"] = 11.0
    raw["privacy"]["budget"]["epsilon"] = 100.0
    assert any("allow_large_epsilon" in p for p in _problems(raw))
    raw["privacy"]["allow_large_epsilon"] = True
    assert parse_spec(raw).privacy.epsilon == 11.0


def test_every_problem_is_reported_at_once_with_column_names():
    raw = demo_spec_dict()
    raw["privacy"]["epsilon"] = 0
    income = next(c for c in raw["columns"] if c["name"] == "income")
    del income["bounds"]
    zip_col = next(c for c in raw["columns"] if c["name"] == "zip")
    zip_col["categories"] = []
    problems = _problems(raw)
    assert any(p.startswith("privacy.epsilon") for p in problems)
    assert any(p.startswith("columns[income]") and "bounds" in p for p in problems)
    assert any(p.startswith("columns[zip]") and "categories" in p for p in problems)


def test_bounds_must_be_ordered_and_dates_for_date_columns():
    raw = demo_spec_dict()
    next(c for c in raw["columns"] if c["name"] == "credit_score")["bounds"] = [850, 300]
    next(c for c in raw["columns"] if c["name"] == "birth_date")["bounds"] = [1, 2]
    problems = _problems(raw)
    assert any(p.startswith("columns[credit_score]") and "lower < upper" in p for p in problems)
    assert any(p.startswith("columns[birth_date]") and "date bounds" in p for p in problems)


def test_unreadable_and_non_mapping_specs(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="mapping"):
        load_spec(bad)
