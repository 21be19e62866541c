"""The privacy gate blocks copies of training rows, values outside the public domain and planted canaries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpriv.domain import TableCodec
from synthpriv.gates import privacy
from synthpriv.sample_data import generate_customers
from synthpriv.spec import PrivacyGate, load_spec
from tests.conftest import DEMO_SPEC

SPEC = load_spec(DEMO_SPEC)
RELEASED = [c.name for c in SPEC.modelled_columns]


def _training() -> pd.DataFrame:
    return generate_customers(2_000)[RELEASED]


def _by_metric(results):
    return {r.metric: r for r in results}


def test_a_synthesizer_that_copies_training_rows_is_blocked():
    training = _training()
    copied = training.sample(500, random_state=1).reset_index(drop=True)
    r = _by_metric(privacy.run(copied, training, SPEC))["exact_match_rate"]
    assert not r.passed and r.value == 1.0 and r.threshold == 0.0


def test_copies_with_one_column_changed_are_not_exact_matches_but_mixed_output_is_caught():
    training = _training()
    fresh = generate_customers(500, seed=99)[RELEASED]
    mixed = pd.concat([fresh, training.head(5)], ignore_index=True)
    r = _by_metric(privacy.run(mixed, training, SPEC))["exact_match_rate"]
    assert not r.passed and np.isclose(r.value, 5 / 505, atol=1e-4)


def test_copies_are_found_across_the_hashing_chunks(monkeypatch):
    monkeypatch.setattr(privacy, "_CHUNK_ROWS", 7)
    training = _training()
    fresh = generate_customers(500, seed=99)[RELEASED]
    mixed = pd.concat([fresh, training.tail(5)], ignore_index=True)
    assert privacy.exact_match_rate(mixed, training, SPEC) == pytest.approx(5 / 505)


def test_a_copy_is_a_copy_whatever_types_the_tables_were_read_back_with():
    """Dates as text or timestamps, integers as floats, nullable number types, padded text: the
    synthetic table may come back from a file in other types than the training copy."""
    training = _training()
    training.loc[:9, "income"] = None
    copied = training.head(50).copy()
    for col in SPEC.modelled_columns:
        if col.type.value == "date":
            copied[col.name] = pd.to_datetime(copied[col.name])
        elif col.type.value == "integer":
            copied[col.name] = copied[col.name].astype(float)
        elif col.type.value == "float":
            copied[col.name] = copied[col.name].astype("Float64")
        else:
            copied[col.name] = copied[col.name].astype("string") + " "
    assert privacy.exact_match_rate(copied, training, SPEC) == 1.0
    assert privacy.exact_match_rate(generate_customers(50, seed=99)[RELEASED], training, SPEC) == 0.0


def test_one_copy_in_ten_million_rows_is_reported_as_such_not_as_zero(monkeypatch):
    monkeypatch.setattr(privacy, "exact_match_rate", lambda *_a: 1e-7)
    r = _by_metric(privacy.run(_training(), _training(), SPEC))["exact_match_rate"]
    assert not r.passed and r.value == 1e-7 and "= 1e-07" in r.describe()


def test_values_outside_the_public_domain_are_blocked():
    synthetic = generate_customers(300, seed=5)[RELEASED]
    synthetic.loc[0, "zip"] = "00000"
    r = _by_metric(privacy.run(synthetic, _training(), SPEC))["out_of_domain_rate"]
    assert not r.passed and r.value > 0


def test_a_metric_that_errors_fails_closed_without_quoting_data():
    synthetic = generate_customers(300, seed=5)[RELEASED].drop(columns=["zip"])
    r = _by_metric(privacy.run(synthetic, _training(), SPEC))
    for metric in ("exact_match_rate", "out_of_domain_rate"):
        assert not r[metric].passed and r[metric].detail.startswith("errored (KeyError)")


def test_rescan_blocks_a_release_that_carries_an_identifier_column_or_copied_values():
    training = _training()
    synthetic = generate_customers(300, seed=5)[RELEASED].copy()
    source = generate_customers(300)
    leaked = synthetic.assign(zip=source["email"].to_numpy())  # emails where zips should be
    ids = frozenset(source["email"])
    r = _by_metric(privacy.run(leaked, training, SPEC, ids))
    assert not r["pii_columns_on_rescan"].passed and r["pii_columns_on_rescan"].value == 1
    assert not r["identifier_values_copied"].passed and r["identifier_values_copied"].value == 300
    clean = _by_metric(privacy.run(synthetic, training, SPEC, ids))
    assert clean["pii_columns_on_rescan"].passed and clean["identifier_values_copied"].passed


CANARY = "zq-canary-7f3a91"


def _with_canary(table: pd.DataFrame) -> pd.DataFrame:
    """The canary planted in one row's segment, a category the spec does not declare."""
    out = table.copy()
    out.loc[17, "segment"] = f"{CANARY} premium"
    return out


def test_a_copier_that_carries_a_planted_canary_is_blocked_without_naming_it():
    training = _with_canary(_training())
    spec = SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"privacy": SPEC.gates.privacy.model_copy(update={"canaries": [CANARY, "never-planted-9x"]})})})
    r = _by_metric(privacy.run(training.sample(frac=1.0, random_state=3), training, spec))["canaries_found"]
    assert not r.passed and r.value == 1 and r.threshold == 0
    assert CANARY not in r.describe()


def test_a_canary_in_an_undeclared_category_can_never_come_out_of_the_public_domain():
    """What a synthesizer samples is decoded from codes over the declared domain: the planted
    value became the 'other' code on the way in, so no code decodes back to it."""
    training = _with_canary(_training())
    codec = TableCodec.from_columns(SPEC.modelled_columns)
    codes, outside = codec.encode(training)
    decoded = codec.decode(codes.sample(frac=1.0, replace=True, random_state=4), np.random.default_rng(4))
    assert outside["segment"] == 1
    assert privacy.canaries_found(decoded, [CANARY]) == 0
    assert privacy.canaries_found(training, [CANARY]) == 1


def test_canaries_are_found_inside_any_cell_of_any_type():
    table = pd.DataFrame({"a": [1.5, None], "b": [None, f"x{CANARY}y"], "c": pd.to_datetime(["2020-01-01", None])})
    assert privacy.canaries_found(table, [CANARY]) == 1
    assert privacy.canaries_found(table, ["2020-01-01", "1.5", "absent"]) == 2
    assert privacy.canaries_found(table, []) == 0


def test_a_canary_shorter_than_four_characters_is_rejected_by_the_spec():
    """A short canary would match by chance (a digit, a common word) and block honest releases."""
    with pytest.raises(ValueError, match="at least 4 characters"):
        PrivacyGate(canaries=["abc"])


@pytest.mark.slow
def test_an_honest_mst_release_of_a_source_with_a_planted_canary_passes_the_privacy_gate(
    settings, write_spec, tmp_path
):
    """End to end on 2,000 rows at epsilon 1: every privacy metric passes, canary check included."""
    from synthpriv.pipeline import run_release

    source = generate_customers(2_000, seed=21)
    source.loc[5, "segment"] = CANARY
    source.loc[6, "notes"] = f"call back {CANARY}"
    path = tmp_path / "customers.csv"
    source.to_csv(path, index=False)

    def edit(raw: dict) -> None:
        raw["source"] = {"path": str(path)}
        raw["gates"]["privacy"]["canaries"] = [CANARY]

    outcome = run_release(str(write_spec(edit, rows=2_000)), settings, run_id="canary-run")
    manifest = outcome.published
    store_manifest = json.loads((Path(manifest["uri"]) / "manifest.json").read_text())
    results = {r["metric"]: r for r in store_manifest["gates"]["privacy"]}
    assert all(r["passed"] for r in results.values()), [r for r in results.values() if not r["passed"]]
    assert {"canaries_found", "singling_out_risk", "linkability_risk", "inference_risk"} <= set(results)
    assert results["canaries_found"]["value"] == 0
