"""The bundled sample table is realistic enough to exercise every stage, and deterministic."""

from __future__ import annotations

import pandas as pd

from synthpriv.sample_data import DEMO_ZIPS, customer_batches, generate_customers


def test_deterministic_and_large_enough():
    a = generate_customers(20_000)
    assert len(a) == 20_000
    assert a.equals(generate_customers(20_000))
    assert not a.equals(generate_customers(20_000, seed=8))


def test_has_identifiers_quasi_identifiers_sensitive_free_text_and_missing_values():
    df = generate_customers(5_000)
    for col in ("customer_id", "full_name", "email", "phone", "ssn", "street_address"):
        assert df[col].notna().all()
    assert df["customer_id"].is_unique and df["email"].is_unique
    assert set(df["zip"]) <= set(DEMO_ZIPS)
    assert df["income"].isna().any() and df["diagnosis"].isna().any()
    notes = df["notes"].dropna()
    assert notes.str.contains("@").any() and (~notes.str.contains("@")).any()
    # a synthesizer worth its budget should find this association
    medians = df.groupby("segment")["income"].median()
    assert medians["business"] > medians["premium"] > medians["retail"] > medians["student"]


def test_batches_add_up_to_unique_customers_and_one_batch_is_the_plain_table():
    batches = list(customer_batches(2_500, batch_rows=1_000))
    assert [len(b) for b in batches] == [1_000, 1_000, 500]
    assert pd.concat(batches)["customer_id"].is_unique
    (single,) = customer_batches(800, batch_rows=1_000)
    pd.testing.assert_frame_equal(single, generate_customers(800))
