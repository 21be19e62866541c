"""The Great Expectations suite generated from the spec blocks tables that break the metadata."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthpriv.errors import InputError
from synthpriv.gates import quality
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec
from tests.conftest import DEMO_SPEC, REPO

SPEC = load_spec(DEMO_SPEC)
RELEASED = [c.name for c in SPEC.modelled_columns]


def _synthetic_like() -> pd.DataFrame:
    df = generate_customers(SPEC.synthesis.rows, seed=11)[RELEASED].copy()
    for col in ("birth_date", "signup_date"):
        df[col] = pd.to_datetime(df[col]).dt.date
    df["credit_score"] = df["credit_score"].astype("Int64")
    df["income"] = df["income"].clip(upper=400_000)  # the source has outliers; a release never does
    return df


def _failed(table: pd.DataFrame) -> set[str]:
    return {r.metric for r in quality.run(table, SPEC, quality.suite_dict(SPEC)) if not r.passed}


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return _synthetic_like()


def test_a_table_within_the_metadata_passes(good):
    assert _failed(good) == set()


def test_unknown_category_out_of_range_date_and_wrong_row_count_fail(good):
    bad = good.copy()
    bad.loc[0, "segment"] = "vip"
    bad.loc[1, "birth_date"] = pd.Timestamp("1900-01-01").date()
    assert _failed(bad) >= {"expect_column_values_to_be_in_set[segment]",
                            "expect_column_values_to_be_between[birth_date]", "great_expectations_checkpoint"}
    assert "expect_table_row_count_to_equal" in _failed(good.head(10))


def test_an_extra_column_such_as_a_leaked_identifier_fails(good):
    leaked = good.assign(email="someone@example.com")
    assert "expect_table_columns_to_match_set" in _failed(leaked)


def test_committed_suite_matches_the_spec():
    committed = json.loads((REPO / "expectations" / "demo_customers.json").read_text())
    assert committed == quality.suite_dict(SPEC)


def test_a_named_suite_that_cannot_be_read_is_an_input_error(tmp_path):
    spec = SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"quality": SPEC.gates.quality.model_copy(update={"suite": "nope.json"})})})
    with pytest.raises(InputError, match="gates.quality.suite"):
        quality.load_suite(spec, tmp_path / "spec.yaml")
