"""The quality gate: the generated Great Expectations suite, and whole releases it must block."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpriv import actions, cli, synthesizers
from synthpriv.domain import TableCodec
from synthpriv.errors import InputError
from synthpriv.gates import quality
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec, parse_spec
from synthpriv.store import LocalStore
from tests.conftest import DEMO_SPEC, REPO, demo_spec_dict

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


def test_a_table_that_never_emits_a_declared_category_fails(good):
    dropped = good.assign(segment=good["segment"].replace("premium", "retail"))
    assert _failed(dropped) == {"expect_column_distinct_values_to_contain_set[segment]", "great_expectations_checkpoint"}


def test_an_extra_column_such_as_a_leaked_identifier_fails(good):
    leaked = good.assign(email="someone@example.com")
    assert "expect_table_columns_to_match_set" in _failed(leaked)


def test_identifier_columns_the_released_spec_carries_as_tokens_are_expected():
    raw = demo_spec_dict()
    raw["pii"]["allow"] = ["customer_id"]
    spec = parse_spec(raw)
    column_set = quality.suite_dict(spec)["expectations"][0]["kwargs"]["column_set"]
    assert column_set == ["customer_id", *RELEASED]
    assert quality.released_columns(SPEC) == RELEASED  # the demo spec releases no identifier


def test_committed_suite_matches_the_spec():
    committed = json.loads((REPO / "expectations" / "demo_customers.json").read_text())
    assert committed == quality.suite_dict(SPEC)


def test_a_named_suite_that_cannot_be_read_is_an_input_error(tmp_path):
    spec = SPEC.model_copy(update={"gates": SPEC.gates.model_copy(
        update={"quality": SPEC.gates.quality.model_copy(update={"suite": "nope.json"})})})
    with pytest.raises(InputError, match="gates.quality.suite"):
        quality.load_suite(spec, tmp_path / "spec.yaml")


# ----------------------------------------------------------------------- whole releases


class _ColumnShuffler:
    """A stand-in synthesizer: each column drawn independently from the training rows' codes.

    It keeps every marginal and destroys every association; `drop` maps one category onto
    another, so the release never holds it. It never copies a row, so the privacy gate passes.
    """

    def __init__(self, model_path: str, drop: tuple[str, str, str] | None) -> None:
        workspace = Path(model_path).parent
        self.spec = actions.read_released_spec(workspace / actions.RELEASED_SPEC_FILE)
        self.training = pd.read_parquet(workspace / "training.parquet")
        self.drop = drop

    def sample(self, rows: int) -> pd.DataFrame:
        codec = TableCodec.from_columns(list(self.spec.columns))
        codes = codec.encode(self.training)[0]
        rng = np.random.default_rng(5)
        out = pd.DataFrame({c: rng.choice(codes[c].to_numpy(), rows) for c in codes.columns})
        if self.drop:
            column, gone, kept = self.drop
            labels = list(self.spec.column(column).categories)
            out[column] = out[column].replace(labels.index(gone), labels.index(kept))
        return out

    def sample_batches(self, rows: int) -> list[pd.DataFrame]:
        return [self.sample(rows)]


def _release_with(monkeypatch, capsys, spec_path: Path, drop=None) -> dict:
    from synthpriv import stages

    monkeypatch.setattr(stages, "train", lambda ctx: {"stubbed": True})
    monkeypatch.setattr(synthesizers.Synthesizer, "load", lambda path: _ColumnShuffler(path, drop))
    code = cli.main(["release", str(spec_path), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 3 and out["status"] == "blocked", out
    return out


def _blocked_with_review(out: dict, settings) -> str:
    assert "quality gate failed" in out["reason"] and "review.html" in out["reason"]
    assert LocalStore(settings.store).datasets() == []
    review = (Path(out["workspace"]) / "review.html").read_text()
    assert "Blocked:" in review and review.count("data:image/png;base64,") == len(RELEASED) + 2
    return out["reason"]


@pytest.mark.slow
def test_a_column_shuffling_synthesizer_is_blocked_by_correlation_stability(home, write_spec, settings, monkeypatch, capsys):
    reason = _blocked_with_review(_release_with(monkeypatch, capsys, write_spec(rows=20_000)), settings)
    assert "quality.field_correlation_stability" in reason
    assert "field_distribution_stability" not in reason and "expect_" not in reason  # marginals are intact


@pytest.mark.slow
def test_a_synthesizer_that_drops_a_category_is_blocked_by_the_suite(home, write_spec, settings, monkeypatch, capsys):
    spec = write_spec(lambda raw: raw["gates"]["quality"].update(every_category_up_to=12), rows=3000)
    out = _release_with(monkeypatch, capsys, spec, drop=("segment", "premium", "retail"))
    reason = _blocked_with_review(out, settings)
    assert "expect_column_distinct_values_to_contain_set[segment]" in reason
    gates = json.loads((Path(out["workspace"]) / "gates.json").read_text())
    assert all(r["passed"] for r in gates["privacy"])  # it got past the privacy gate: quality stopped it


def test_a_long_category_list_tolerates_rare_misses_but_not_a_collapse(good):
    zips = [z for z in SPEC.column("zip").categories]
    rare_missing = good.assign(zip=good["zip"].replace(dict.fromkeys(zips[:3], zips[3])))
    assert _failed(rare_missing) == set()
    collapsed = good.assign(zip=good["zip"].map(lambda z: zips[zips.index(z) % 10] if z in zips else z))
    assert _failed(collapsed) == {"expect_column_unique_value_count_to_be_between[zip]", "great_expectations_checkpoint"}
