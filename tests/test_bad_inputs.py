"""Every bad input stops with the right exit code, names the field or column and the rule,
spends no budget before training, publishes nothing, and never echoes a value."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from synthpriv import cli
from synthpriv.ledger import Ledger
from synthpriv.sample_data import generate_customers
from synthpriv.settings import Settings
from synthpriv.store import LocalStore
from tests.bad_inputs.cases import CASES, Case
from tests.conftest import demo_spec_dict, loosen_quality_gate

IDENTIFIERS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]


def _release(spec: dict, source, tmp_path, capsys) -> tuple[int, dict]:
    spec_path = tmp_path / "spec.yaml"
    raw = spec.pop("__raw__", None)
    spec_path.write_text(raw if raw is not None else yaml.safe_dump(spec, sort_keys=False))
    argv = ["release", str(spec_path), "--json"] + (["--source", str(source)] if source else [])
    code = cli.main(argv)
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_its_outcome(case: Case, home, tmp_path, capsys, monkeypatch):
    df = generate_customers(300)
    spec = demo_spec_dict(rows=300)
    spec["pii"]["sample_size"] = 50
    source = case.build(df, spec, tmp_path, monkeypatch)
    code, out = _release(spec, source, tmp_path, capsys)

    assert code == case.exit_code, out
    for words in case.says:
        assert words in out["reason"], out["reason"]
    secrets = set(df[IDENTIFIERS].astype(str).to_numpy().ravel())
    assert not any(s in out["reason"] for s in secrets)

    settings = Settings.from_env()
    assert LocalStore(settings.store).datasets() == []
    if (home / "ledger.sqlite").exists():
        entries = Ledger(settings.ledger_url).summary("demo_customers")["entries"]
        used = [e for e in entries if e["state"] != "released"]
        assert [e["state"] for e in used] == (["spent"] if case.spends else [])


def test_corpus_is_large_enough():
    assert len(CASES) >= 25 and len({c.name for c in CASES}) == len(CASES)


def _several_date_formats(df: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(df["signup_date"])
    formats = ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y", "%Y-%m-%dT%H:%M:%S"]
    df = df.copy()
    df["signup_date"] = [d.strftime(formats[i % 4]) for i, d in enumerate(dates)]
    return df


def _unicode_categories(spec: dict, df: pd.DataFrame) -> pd.DataFrame:
    labels = ["Zürich 🏔", "東京", "São Paulo", "Montréal"]
    next(c for c in spec["columns"] if c["name"] == "segment")["categories"] = labels
    return df.assign(segment=[labels[i % 4] for i in range(len(df))])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["constant column", "dates in several formats", "Unicode and emoji"])
def test_awkward_but_valid_input_is_released(name, home, tmp_path, capsys):
    df = generate_customers(300)
    spec = demo_spec_dict(rows=300)
    spec["pii"]["sample_size"] = 50
    # these cases are about input handling; on 300 rows the leakage and fidelity metrics are too noisy to gate on
    spec["gates"]["privacy"].update(max_dcr_excess=0.9, min_nndr_mean=0.1, max_membership_auc=0.9,
                                    max_singling_out_risk=0.9, max_linkability_risk=0.9, max_inference_risk=0.9)
    spec["gates"]["quality"]["min_training_rows"] = 100
    loosen_quality_gate(spec)
    if name == "constant column":
        df = df.assign(segment="retail")
    elif name == "dates in several formats":
        df = _several_date_formats(df)
    else:
        df = _unicode_categories(spec, df)
    source = tmp_path / "source.csv"
    df.to_csv(source, index=False)
    code, out = _release(spec, source, tmp_path, capsys)
    assert code == 0, out
    published = pd.read_parquet(f"{out['uri']}/data.parquet")
    if name == "constant column":
        assert set(published["segment"]) <= {"retail", "student", "premium", "business", "OTHER"}
    elif name == "dates in several formats":
        assert published["signup_date"].notna().all()
    else:
        assert set(published["segment"]) <= set(_unicode_categories(demo_spec_dict(), df)["segment"]) | {"OTHER"}
