"""The scan flags direct identifiers by value, not only by column name, and never uses the network."""

from __future__ import annotations

import socket

import pytest

from synthpriv.sample_data import generate_customers
from synthpriv.scan import scan_table

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
