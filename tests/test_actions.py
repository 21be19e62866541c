"""The PII policy's actions: each one on its own, the policy resolved per column, and a release using them."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import synthpriv
from synthpriv import actions, sample_data
from synthpriv.actions import Fakes
from synthpriv.errors import InputError
from synthpriv.ledger import Ledger
from synthpriv.pipeline import run_release
from synthpriv.scan import ColumnVerdict
from synthpriv.settings import Settings
from synthpriv.spec import Column, parse_spec
from tests.conftest import demo_spec_dict, loosen_quality_gate

KEY = b"k" * 32
OTHER_KEY = b"j" * 32
HEX32 = re.compile(r"^[0-9a-f]{32}$")
IDENTIFIERS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]


def _shape(value: str) -> str:
    return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", value)))


def _spec(actions_: dict | None = None, **pii):
    raw = demo_spec_dict(500)
    if actions_ is not None:
        raw["pii"]["actions"] = actions_
    raw["pii"].update(pii)
    return parse_spec(raw)


def _verdicts(**overrides: tuple[str | None, str, float]) -> list[ColumnVerdict]:
    """What the scan says about the demo table, with some columns' verdicts replaced."""
    found = {
        "customer_id": ("ROW_ID", "direct_identifier", 1.0), "full_name": ("PERSON", "direct_identifier", 0.8),
        "email": ("EMAIL_ADDRESS", "direct_identifier", 0.75), "phone": ("PHONE_NUMBER", "direct_identifier", 0.64),
        "ssn": ("US_SSN", "direct_identifier", 0.85), "street_address": ("STREET_ADDRESS", "direct_identifier", 0.95),
        "birth_date": ("DATE_TIME", "quasi_identifier", 0.95), "zip": ("US_ZIP_CODE", "quasi_identifier", 0.75),
        "income": (None, "sensitive", 0.0), "credit_score": (None, "sensitive", 0.0),
        "diagnosis": (None, "sensitive", 0.0),
        "signup_date": ("DATE_TIME", "quasi_identifier", 0.95), "notes": ("PERSON", "free_text", 0.29),
        **overrides,
    }
    return [ColumnVerdict(name, *v) for name, v in found.items()]


# --- pseudonymize -------------------------------------------------------------------------------

def test_pseudonym_is_deterministic_per_key_and_differs_across_keys():
    token = actions.pseudonymize("C-100042", KEY)
    assert token == actions.pseudonymize("C-100042", KEY)
    assert token != actions.pseudonymize("C-100042", OTHER_KEY)
    assert token != actions.pseudonymize("C-100043", KEY)
    assert HEX32.match(token) and "100042" not in token


def test_fresh_tokens_have_the_pseudonym_format_and_repeat_nothing():
    tokens = actions.fresh_tokens(1000)
    assert all(HEX32.match(t) for t in tokens) and len(set(tokens)) == 1000


def test_key_is_required_only_when_the_policy_pseudonymizes():
    assert actions.pseudonym_key(_spec(), None) is None
    spec = _spec({"ROW_ID": "pseudonymize"})
    with pytest.raises(InputError, match="SYNTHPRIV_PSEUDONYM_KEY is not set") as missing:
        actions.pseudonym_key(spec, None)
    assert missing.value.exit_code == 2
    with pytest.raises(InputError, match="shorter than 32 bytes") as short:
        actions.pseudonym_key(spec, "s3cret-but-short")
    assert "s3cret" not in str(short.value)
    assert actions.pseudonym_key(spec, "x" * 32) == b"x" * 32


def test_pseudonymized_category_becomes_its_token_in_domain_and_training_copy():
    spec = _spec({"direct_identifier": "drop", "free_text": "drop", "US_ZIP_CODE": "pseudonymize"})
    protection = actions.protect_columns(spec, _verdicts(), KEY)
    zip_col = protection.released_spec.column("zip")
    declared = spec.column("zip").categories
    assert zip_col.categories == [actions.pseudonymize(c, KEY) for c in declared]
    source = sample_data.generate_customers(300)
    copy = protection.training_copy(source)
    assert set(copy["zip"]) <= set(zip_col.categories)
    assert not set(copy["zip"]) & set(declared)
    again = actions.protect_columns(spec, _verdicts(), KEY).released_spec.column("zip")
    assert again.categories == zip_col.categories  # the same key joins across runs


def test_mapped_training_copy_keeps_nulls_and_unmapped_values_and_ignores_padding():
    source = Column(name="zip", type="categorical", categories=["10001", "94105"])
    action = actions.ColumnProtection(source, "pseudonymize", mapping={"10001": "tok-a", "94105": "tok-b"})
    values = pd.Series([" 10001", "94105 ", None, "99999", "10001", float("nan")], index=[5, 4, 3, 2, 1, 0])
    out = action.transform(values)
    assert list(out.index) == [5, 4, 3, 2, 1, 0]
    assert list(out) == ["tok-a", "tok-b", None, "99999", "tok-a", None]
    assert list(action.transform(pd.Series([None, None], dtype=object))) == [None, None]


# --- fake ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, entity, pattern", [
    ("julia.webb805@corp.example.net", "EMAIL_ADDRESS", r"^[^@\s]+@example\.(com|org|net)$"),
    ("Julia Webb", "PERSON", r"^\S+ \S+$"),
    ("123-45-6789", "US_SSN", r"^\d{3}-\d{2}-\d{4}$"),
    ("192.168.10.4", "IP_ADDRESS", r"^\d+\.\d+\.\d+\.\d+$"),
    ("1987-03-12", "DATE_OF_BIRTH", r"^\d{4}-\d{2}-\d{2}$"),
])
def test_fake_keeps_the_format_of_its_entity(value, entity, pattern):
    fake = Fakes().like(value, entity)
    assert re.match(pattern, fake) and fake != value


@pytest.mark.parametrize("value, entity", [
    ("(617) 555-0142", "PHONE_NUMBER"), ("+1 617 555 0142", "PHONE_NUMBER"), ("617.555.0142", "PHONE_NUMBER"),
    ("E-004512", "ROW_ID"), ("AB12-cd/9", None),
])
def test_fake_keeps_the_digit_pattern_and_punctuation(value, entity):
    fake = Fakes().like(value, entity)
    assert _shape(fake) == _shape(value) and fake != value
    if value.startswith("+1 "):
        assert fake.startswith("+1 ")


def test_fake_is_consistent_within_a_run_and_drawn_afresh_per_run():
    run = Fakes()
    values = [f"person{i}@example.com" for i in range(20)]
    first = [run.like(v, "EMAIL_ADDRESS") for v in values]
    assert first == [run.like(v, "EMAIL_ADDRESS") for v in values]
    assert first != [Fakes().like(v, "EMAIL_ADDRESS") for v in values]


def test_faked_categories_are_distinct_and_none_is_a_declared_category():
    spec = _spec({"direct_identifier": "drop", "free_text": "drop", "SEGMENT": "fake"})
    verdicts = _verdicts(segment=("SEGMENT", "quasi_identifier", 0.9))
    released = actions.protect_columns(spec, verdicts, None).released_spec.column("segment")
    declared = spec.column("segment").categories
    assert len(set(released.categories)) == len(declared)
    assert not set(released.categories) & set(declared)


class _TwoFakes(Fakes):
    """Draws alternate between two values, so the redraw rule is observable."""

    def __init__(self) -> None:
        super().__init__()
        self._next = 0

    def new(self, entity: str) -> str:
        self._next += 1
        return ("real@example.com", "fake@example.com")[self._next % 2]


def test_identifier_fakes_equal_to_a_real_value_are_drawn_again():
    spec = _spec({"ROW_ID": "pseudonymize", "EMAIL_ADDRESS": "fake", "direct_identifier": "drop", "free_text": "drop"})
    protection = actions.protect_columns(spec, _verdicts(), KEY)
    entities = {v.name: v.entity for v in _verdicts()}
    out = actions.replacement_columns(protection.released_spec, protection.actions(), entities, 50,
                                      frozenset({"real@example.com"}), _TwoFakes())
    assert out["email"] == ["fake@example.com"] * 50
    assert all(HEX32.match(t) for t in out["customer_id"])


def test_fake_of_an_identifier_needs_an_entity_with_a_generator():
    spec = _spec({"ROW_ID": "fake", "direct_identifier": "drop", "free_text": "drop"})
    with pytest.raises(InputError, match="customer_id.*no fake generator for entity ROW_ID"):
        actions.protect_columns(spec, _verdicts(), None)


# --- generalize ---------------------------------------------------------------------------------

def _generalize(column: Column, level, values: list):
    spec_raw = demo_spec_dict(500)
    spec_raw["columns"] = [column.model_dump(mode="json", exclude_defaults=True)]
    spec_raw["pii"]["actions"] = {"AGE": {"generalize": level}}
    spec = parse_spec(spec_raw)
    protection = actions.protect_columns(spec, [ColumnVerdict(column.name, "AGE", "quasi_identifier", 1.0)], None)
    released = protection.released_spec.column(column.name)
    out = protection.training_copy(pd.DataFrame({column.name: values}))[column.name]
    return released, out.tolist()


def test_dates_generalize_to_year_or_month_within_the_declared_bounds():
    col = Column(name="dob", type="date", bounds=("1990-01-01", "1992-06-30"), nullable=True)
    released, out = _generalize(col, "year", ["1991-05-17", None, "1980-02-02", "not a date"])
    assert released.type.value == "categorical" and released.categories == ["1990", "1991", "1992"]
    assert out == ["1991", None, "1990", "OTHER"]
    released, out = _generalize(col, "month", ["1991-05-17", "1999-01-01"])
    assert released.categories[0] == "1990-01" and released.categories[-1] == "1992-06" and len(released.categories) == 30
    assert out == ["1991-05", "1992-06"]


def test_numbers_generalize_to_bands_from_the_declared_bounds():
    col = Column(name="age", type="integer", bounds=(0, 99))
    released, out = _generalize(col, 4, [0, 24, 25, 99, 140])
    assert released.categories == ["0-24", "25-49", "50-74", "75-99"]
    assert out == ["0-24", "0-24", "25-49", "75-99", "75-99"]
    released, out = _generalize(Column(name="w", type="float", bounds=(0, 100)), 2, [10.5, 100.0])
    assert released.categories == ["[0, 50)", "[50, 100]"] and out == ["[0, 50)", "[50, 100]"]


def test_zip_codes_generalize_to_three_digits():
    col = Column(name="zip", type="categorical", categories=["02108", "02139", "10001"])
    released, out = _generalize(col, "zip3", ["02139", "10001", "99999"])
    assert released.categories == ["021", "100"]
    assert out[:2] == ["021", "100"]


@pytest.mark.parametrize("column, level, reason", [
    (Column(name="age", type="integer", bounds=(0, 99)), "year", "numbers generalize to a number of bands"),
    (Column(name="dob", type="date", bounds=("1990-01-01", "1992-06-30")), 5, "dates generalize to year or month"),
    (Column(name="seg", type="categorical", categories=["a", "b"]), "zip3", "must start with 3 digits"),
    (Column(name="kids", type="integer", bounds=(0, 3)), 10, "fewer than 10 bands"),
])
def test_generalize_level_must_fit_the_column(column, level, reason):
    with pytest.raises(InputError, match=reason):
        _generalize(column, level, [])


# --- redact -------------------------------------------------------------------------------------

def test_redact_removes_names_and_emails_from_text():
    text = "Julia Webb disputed the statement; follow up by email julia.webb805@corp.example.net."
    (out,) = actions.redact([text])
    assert "Julia" not in out and "Webb" not in out and "julia.webb805" not in out
    assert "<PERSON>" in out and "<EMAIL_ADDRESS>" in out and "disputed the statement" in out


def test_redacted_text_stays_private_and_is_not_released():
    spec = _spec({"direct_identifier": "drop", "free_text": "redact"})
    protection = actions.protect_columns(spec, _verdicts(), None)
    assert protection.actions()["notes"] == "redact" and protection.redacted == ["notes"]
    assert "notes" not in [c.name for c in protection.released_spec.columns]
    source = pd.DataFrame({"notes": ["Julia Webb disputed the statement; call her back.", None]})
    copy = protection.redacted_copy(source)["notes"].tolist()
    assert pd.isna(copy[1]) and "Julia" not in copy[0]


# --- the policy per column ----------------------------------------------------------------------

def test_entity_key_wins_over_role_key_and_allow_exempts():
    spec = _spec({"direct_identifier": "drop", "free_text": "drop", "EMAIL_ADDRESS": "fake",
                  "quasi_identifier": "drop", "US_ZIP_CODE": {"generalize": "zip3"}}, allow=["signup_date"])
    applied = actions.protect_columns(spec, _verdicts(), None).actions()
    assert applied["email"] == "fake" and applied["full_name"] == "drop"
    assert applied["zip"] == "generalize" and applied["birth_date"] == "drop"
    assert applied["signup_date"] == "keep" and applied["sex"] == "keep"
    assert applied["notes"] == "drop"  # free text matches by its role, whatever its score


def test_a_doubtful_entity_triggers_no_action():
    spec = _spec({"direct_identifier": "drop", "free_text": "drop", "DATE_TIME": "drop"})
    applied = actions.protect_columns(spec, _verdicts(birth_date=("DATE_TIME", "quasi_identifier", 0.4)), None).actions()
    assert applied["birth_date"] == "keep" and applied["signup_date"] == "drop"


def test_released_spec_lists_exactly_the_released_columns():
    spec = _spec({"ROW_ID": "pseudonymize", "EMAIL_ADDRESS": "fake", "direct_identifier": "drop",
                  "free_text": "drop", "DATE_TIME": "drop"})
    released = actions.protect_columns(spec, _verdicts(), KEY).released_spec
    names = [c.name for c in released.columns]
    assert names[:2] == ["customer_id", "email"] and "birth_date" not in names and "full_name" not in names
    assert released.pii.allow == ["customer_id", "email"]
    assert [c.name for c in released.modelled_columns] == ["zip", "sex", "income", "credit_score", "diagnosis", "segment"]


@pytest.mark.parametrize("policy, message", [
    ({"sensitive": "pseudonymize"}, "income resolves to pseudonymize"),
    ({"free_text": "fake"}, "notes resolves to fake.*free text"),
    ({"ROW_ID": "generalize"}, "customer_id resolves to generalize"),
])
def test_an_action_that_does_not_fit_its_column_is_an_input_error(policy, message):
    with pytest.raises(InputError, match=message):
        actions.protect_columns(_spec(policy), _verdicts(), KEY)


def test_an_action_needs_a_declared_not_an_estimated_domain():
    raw = demo_spec_dict(500)
    zip_col = next(c for c in raw["columns"] if c["name"] == "zip")
    zip_col.update(categories="estimate", estimate_epsilon=0.1)
    raw["pii"]["actions"] = {"US_ZIP_CODE": {"generalize": "zip3"}}
    with pytest.raises(InputError, match="zip resolves to generalize.*estimated"):
        actions.protect_columns(parse_spec(raw), _verdicts(), None)
    raw["pii"]["actions"] = {"direct_identifier": "drop"}
    assert actions.protect_columns(parse_spec(raw), _verdicts(), None).actions()["zip"] == "keep"


def test_a_policy_that_leaves_nothing_to_model_is_an_input_error():
    everything = {"quasi_identifier": "drop", "sensitive": "drop", "attribute": "drop"}
    verdicts = _verdicts(sex=(None, "attribute", 0.0), segment=(None, "attribute", 0.0))
    with pytest.raises(InputError, match="no column would be released"):
        actions.protect_columns(_spec(everything), verdicts, None)


# --- through a release --------------------------------------------------------------------------

def test_missing_key_exits_2_before_any_budget(home, write_spec, settings, monkeypatch):
    monkeypatch.delenv("SYNTHPRIV_PSEUDONYM_KEY", raising=False)
    spec = write_spec(lambda raw: raw["pii"]["actions"].update(ROW_ID="pseudonymize"), rows=300)
    with pytest.raises(InputError, match="SYNTHPRIV_PSEUDONYM_KEY") as info:
        run_release(str(spec), Settings.from_env())
    assert info.value.exit_code == 2
    assert Ledger(settings.ledger_url).summary("demo_customers")["entries"] == []


@pytest.mark.slow
def test_release_with_pseudonyms_fakes_and_generalized_dates_publishes_no_real_identifier(
        home, write_spec, monkeypatch):
    monkeypatch.setenv("SYNTHPRIV_PSEUDONYM_KEY", "0123456789abcdef" * 4)
    monkeypatch.setenv("SYNTHPRIV_KEEP_WORKSPACE", "1")

    def policy(raw):
        raw["pii"]["actions"] = {"direct_identifier": "drop", "free_text": "drop", "ROW_ID": "pseudonymize",
                                 "EMAIL_ADDRESS": "fake", "DATE_OF_BIRTH": {"generalize": "year"},
                                 "DATE_TIME": {"generalize": "year"}}
        loosen_quality_gate(raw)

    outcome = run_release(str(write_spec(policy, rows=2000)), Settings.from_env())
    assert outcome.stages["protect"]["actions"]["customer_id"] == "pseudonymize"
    workspace = home / "workspace" / "demo_customers" / outcome.run_id
    recorded = json.loads((workspace / actions.PROTECTION_FILE).read_text())
    assert recorded["email"] == "fake" and recorded["birth_date"] == "generalize" and recorded["ssn"] == "drop"

    published = synthpriv.read("demo_customers")
    source = sample_data.generate_customers(2000)
    assert list(published.columns[:2]) == ["customer_id", "email"]
    assert not {"full_name", "phone", "ssn", "street_address", "notes"} & set(published.columns)
    assert published["customer_id"].map(lambda t: bool(HEX32.match(t))).all()
    assert published["email"].str.fullmatch(r"[^@\s]+@example\.(com|org|net)").all()
    assert set(published["birth_date"]) <= {str(y) for y in range(1935, 2008)} | {"OTHER"}
    real = set(source[IDENTIFIERS].astype(str).stack())
    assert not set(published.astype(str).stack()) & real
