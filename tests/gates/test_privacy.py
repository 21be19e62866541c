"""The privacy gate blocks copies of training rows and values outside the public domain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpriv.gates import privacy
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec
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
