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


def test_pii_actions_take_every_action_and_generalize_levels():
    raw = demo_spec_dict()
    raw["pii"]["actions"] = {"direct_identifier": "drop", "ROW_ID": "pseudonymize", "EMAIL_ADDRESS": "fake",
                             "free_text": "redact", "DATE_TIME": {"generalize": "month"}, "AGE": {"generalize": 5},
                             "US_ZIP_CODE": "generalize"}
    pii = parse_spec(raw).pii
    assert pii.actions["DATE_TIME"].generalize == "month" and pii.actions["AGE"].generalize == 5
    assert pii.needs_pseudonym_key
    assert not parse_spec(demo_spec_dict()).pii.needs_pseudonym_key


def test_bad_pii_action_keys_and_values_are_each_named():
    raw = demo_spec_dict()
    raw["pii"]["actions"] = {"direct_identifer": "drop", "EMAIL_ADDRESS": "hide", "DATE_TIME": {"generalize": "week"},
                             "AGE": {"generalize": 1}}
    problems = _problems(raw)
    assert any(p.startswith("pii.actions.direct_identifer") and "neither a role" in p for p in problems)
    for key in ("EMAIL_ADDRESS", "DATE_TIME", "AGE"):
        assert any(p.startswith(f"pii.actions.{key}") and "an action is drop, pseudonymize" in p for p in problems)


def test_declared_recognizers_are_validated_and_named_in_errors():
    raw = demo_spec_dict()
    raw["pii"]["recognizers"] = [
        {"name": "employee number", "entity": "EMPLOYEE_ID", "regex": "E-(\\d{6}"},
        {"name": "ward", "entity": "ward_code", "deny_list": ["ICU"]},
        {"name": "nothing", "entity": "NOTHING"},
        {"name": "badge", "entity": "BADGE", "regex": ["B\\d+", "["], "score": 1.5},
    ]
    problems = _problems(raw)
    assert any(p.startswith("pii.recognizers[employee number].regex") and "invalid regular expression" in p
               for p in problems)
    assert any(p.startswith("pii.recognizers[ward].entity") for p in problems)
    assert any(p.startswith("pii.recognizers[nothing]") and "'regex' or a 'deny_list'" in p for p in problems)
    assert any(p.startswith("pii.recognizers[badge].regex") and "item 1" in p for p in problems)
    assert any(p.startswith("pii.recognizers[badge].score") for p in problems)


def test_declared_recognizers_reach_the_scan_in_its_form():
    raw = demo_spec_dict()
    raw["pii"]["recognizers"] = [
        {"name": "employee number", "entity": "EMPLOYEE_ID", "regex": "^E-\\d{6}$", "context": ["employee"]},
        {"name": "wards", "entity": "WARD", "deny_list": ["ICU", "B2"], "role": "quasi_identifier", "score": 0.9},
    ]
    employee, wards = parse_spec(raw).pii.declared_recognizers()
    assert employee.patterns == ("^E-\\d{6}$",) and employee.context == ("employee",)
    assert employee.role == "direct_identifier" and employee.score == 0.6
    assert wards.deny_list == ("ICU", "B2") and wards.patterns == () and wards.role == "quasi_identifier"
    raw["pii"]["recognizers"].append(dict(raw["pii"]["recognizers"][0]))
    assert any("duplicate names: employee number" in p for p in _problems(raw))


def test_a_reader_team_must_be_a_plain_name():
    raw = demo_spec_dict()
    raw["publish"]["readers"] = ["analytics", "*"]
    assert any(p.startswith("publish.readers[1]") for p in _problems(raw))


def test_the_quality_target_must_be_a_released_categorical_column():
    raw = demo_spec_dict()
    raw["gates"] = {"quality": {"target": "income", "protected": ["sex", "email"]}}
    problems = _problems(raw)
    assert any("gates.quality.target" in p and "email, income" in p for p in problems), problems


def test_linkability_columns_must_be_released_columns():
    raw = demo_spec_dict()
    raw["gates"]["privacy"]["linkability_columns"] = [["zip", "sex"], ["email"]]
    assert any("linkability_columns must name released columns: email" in p for p in _problems(raw))


def test_the_readme_example_spec_is_valid():
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme[readme.index("```yaml\nname: patients") + len("```yaml\n"):]
    spec = parse_spec(yaml.safe_load(block[:block.index("```")]), "README.md")
    assert spec.pii.recognizers and spec.gates.quality.target == "ward"
