"""The scan flags direct identifiers by value, not only by column name, and never uses the network."""

from __future__ import annotations

import re
import socket

import numpy as np
import pandas as pd
import pytest

from synthpriv.sample_data import generate_customers
from synthpriv.scan import DeclaredRecognizer, analyzer, scan_column, scan_table

DIRECT = {"customer_id", "full_name", "email", "phone", "ssn", "street_address"}


@pytest.fixture(scope="module")
def verdicts_named_and_anonymous():
    def no_network(*_a, **_k):
        raise OSError("network access attempted during a scan")

    original = socket.socket.connect
    socket.socket.connect = no_network
    try:
        df = generate_customers(1_000)
        anon = df.rename(columns={c: f"c{i}" for i, c in enumerate(df.columns)})
        return df.columns.tolist(), scan_table(df, 150), scan_table(anon, 150)
    finally:
        socket.socket.connect = original


def test_direct_identifiers_are_flagged_under_meaningful_and_meaningless_names(verdicts_named_and_anonymous):
    names, named, anon = verdicts_named_and_anonymous
    for verdicts in (named, anon):
        roles = {names[i]: v.role for i, v in enumerate(verdicts)}
        assert {n for n, r in roles.items() if r == "direct_identifier"} == DIRECT
        assert roles["notes"] == "free_text"


def test_entities_and_quasi_identifiers(verdicts_named_and_anonymous):
    names, named, _ = verdicts_named_and_anonymous
    by = {v.name: v for v in named}
    assert by["email"].entity == "EMAIL_ADDRESS"
    assert by["ssn"].entity == "US_SSN"
    assert by["customer_id"].entity == "ROW_ID"
    assert by["zip"].role == "quasi_identifier"
    assert by["birth_date"].role == "quasi_identifier"
    assert by["income"].role == "sensitive" and by["segment"].role == "attribute"
    assert [v.name for v in named] == names


def test_verdicts_carry_no_values(verdicts_named_and_anonymous):
    _, named, _ = verdicts_named_and_anonymous
    for v in named:
        assert set(v.to_dict()) == {"name", "entity", "role", "score"}


def _employee_codes(rows: int) -> pd.Series:
    """Codes shaped like nothing Presidio knows, repeated (so no uniqueness rule can fire)."""
    rng = np.random.default_rng(3)
    return pd.Series([f"EMP#{a:02d}/{b:03d}" for a, b in zip(rng.integers(0, 99, rows // 4), rng.integers(0, 999, rows // 4))] * 4)


def test_declared_regex_recognizer_flags_a_column_with_a_meaningless_name():
    table = pd.DataFrame({"c07": _employee_codes(400), "c08": np.arange(400) % 7})
    plain = {v.name: v for v in scan_table(table, 100)}
    assert plain["c07"].entity is None
    declared = DeclaredRecognizer(name="employee code", entity="EMPLOYEE_ID", patterns=(r"EMP#\d{2}/\d{3}",))
    by = {v.name: v for v in scan_table(table, 100, recognizers=(declared,))}
    assert (by["c07"].entity, by["c07"].role) == ("EMPLOYEE_ID", "direct_identifier")
    assert by["c07"].score >= 0.5
    assert by["c08"].role == "attribute"


def test_declared_deny_list_recognizer_takes_its_declared_role():
    wards = ("Bluebell Ward", "Juniper Ward", "Hawthorn Ward", "Rowan Ward")
    values = pd.Series([wards[i % 4] for i in range(300)])
    declared = DeclaredRecognizer(name="hospital wards", entity="WARD", deny_list=wards, role="sensitive")
    verdict = scan_column("c03", values, 100, recognizers=(declared,))
    assert (verdict.entity, verdict.role) == ("WARD", "sensitive")


def test_the_analyzer_is_cached_per_set_of_declared_recognizers():
    a = DeclaredRecognizer(name="a", entity="A_CODE", patterns=(r"A\d{4}",))
    assert analyzer((a,)) is analyzer((DeclaredRecognizer(name="a", entity="A_CODE", patterns=(r"A\d{4}",)),))
    assert analyzer((a,)) is not analyzer(())
    assert "a" in {r.name for r in analyzer((a,)).registry.recognizers}
    assert "a" not in {r.name for r in analyzer(()).registry.recognizers}


@pytest.mark.parametrize("kwargs, message", [
    ({"patterns": (r"EMP(\d+",)}, "'broken': pattern 1 is not a valid regular expression"),
    ({}, "'broken': needs at least one pattern or a deny_list"),
    ({"patterns": ("x",), "role": "secret"}, "'broken': role must be one of"),
])
def test_a_bad_declared_recognizer_is_refused_with_its_name(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        DeclaredRecognizer(name="broken", entity="THING", **kwargs)


def test_a_declared_name_that_is_already_registered_is_refused():
    with pytest.raises(ValueError, match="'Street address': the name is already taken"):
        analyzer((DeclaredRecognizer(name="Street address", entity="X", patterns=("x",)),))


def test_a_column_of_unique_prefixed_codes_is_a_row_identifier_with_full_confidence():
    verdict = scan_column("segment", pd.Series([f"seg-{i}" for i in range(300)]), 50)
    assert (verdict.entity, verdict.role) == ("ROW_ID", "direct_identifier") and verdict.score >= 0.95
