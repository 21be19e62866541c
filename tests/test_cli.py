"""The CLI's contract: exit codes, JSON output, and what a release leaves in the store and ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthpriv import cli, load, sample_data
from synthpriv.accounting import rho_for
from synthpriv.domain import TableCodec
from synthpriv.ledger import Cap, Charge, Ledger
from synthpriv.spec import load_spec
from synthpriv.store import LocalStore

DIRECT = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


@pytest.fixture
def no_data_access(monkeypatch):
    def forbidden(*_a, **_k):
        raise AssertionError("data was read")

    from synthpriv import stages

    monkeypatch.setattr(load, "read_table", forbidden)
    monkeypatch.setattr(load, "read_batches", forbidden)
    monkeypatch.setattr(stages, "read_batches", forbidden)
    monkeypatch.setattr(sample_data, "customer_batches", forbidden)
    monkeypatch.setattr(sample_data, "generate_customers", forbidden)


@pytest.mark.parametrize("edit, field", [
    (lambda raw: raw["privacy"].update(epsilom=1.0), "privacy.epsilom"),
    (lambda raw: raw["privacy"].update(epsilon=0), "privacy.epsilon"),
    (lambda raw: raw["privacy"].update(epsilon=-2), "privacy.epsilon"),
    (lambda raw: raw.update(colums=[]), "colums"),
])
def test_bad_spec_exits_2_names_the_field_reads_no_data_spends_no_budget(
        capsys, home, write_spec, no_data_access, edit, field):
    code, out = _run(capsys, "release", str(write_spec(edit)))
    assert code == 2 and out["status"] == "error"
    assert field in out["reason"]
    assert not (home / "ledger.sqlite").exists()
    assert not (home / "store").exists()


def test_undeclared_source_column_exits_2_before_budget(capsys, home, write_spec, tmp_path, settings):
    src = tmp_path / "src.csv"
    sample_data.generate_customers(200).assign(loyalty_tier="gold").to_csv(src, index=False)
    code, out = _run(capsys, "release", str(write_spec()), "--source", str(src))
    assert code == 2 and "loyalty_tier" in out["reason"]
    assert Ledger(settings.ledger_url).summary("demo_customers")["entries"] == []


def test_released_column_that_holds_direct_identifiers_blocks_with_exit_3(capsys, home, write_spec, settings):
    def release_email(raw):
        col = next(c for c in raw["columns"] if c["name"] == "email")
        col.update(type="categorical", categories=["a@example.com"])

    code, out = _run(capsys, "release", str(write_spec(release_email)))
    assert code == 3 and out["status"] == "blocked"
    assert "email (EMAIL_ADDRESS)" in out["reason"] and "@" not in out["reason"].replace("a@example.com", "")
    assert Ledger(settings.ledger_url).summary("demo_customers")["entries"] == []
    assert LocalStore(settings.store).datasets() == []


def test_exhausted_budget_blocks_with_exit_3_and_says_what_is_left(capsys, home, write_spec, settings):
    spec = write_spec(lambda raw: raw["privacy"]["budget"].update(epsilon=1.5))
    ledger = Ledger(settings.ledger_url)
    ledger.reserve("demo_customers", "earlier-run", Charge(1.0, 1e-9, "mst", rho_for(1.0, 1e-9)), Cap(1.5, 1e-6))
    ledger.spend("demo_customers", "earlier-run")
    code, out = _run(capsys, "release", str(spec))
    assert code == 3 and "remaining epsilon 0.5" in out["reason"] and "no renewal period" in out["reason"]
    summary = ledger.summary("demo_customers")
    assert [e["run_id"] for e in summary["entries"]] == ["earlier-run"] and summary["spent"] == 1.0


def test_approval_required_without_approver_blocks_and_keeps_spent_budget(capsys, home, write_spec, settings, monkeypatch):
    from synthpriv import stages

    for name in ("train", "sample", "check_privacy", "check_quality"):
        monkeypatch.setattr(stages, name, lambda ctx, _n=name: {"stubbed": _n})
    spec = write_spec(lambda raw: raw["approval"].update(required=True))
    code, out = _run(capsys, "release", str(spec))
    assert code == 3 and "approval" in out["reason"]
    assert LocalStore(settings.store).datasets() == []
    # the stubbed train never spent: the reservation was given back
    assert Ledger(settings.ledger_url).summary("demo_customers")["entries"][0]["state"] == "released"


def test_scan_json_shape(capsys, tmp_path):
    src = tmp_path / "t.csv"
    sample_data.generate_customers(300)[["email", "segment"]].to_csv(src, index=False)
    assert cli.main(["scan", str(src), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in out["columns"]] == ["email", "segment"]
    assert out["columns"][0] == {"name": "email", "entity": "EMAIL_ADDRESS", "role": "direct_identifier",
                                 "score": out["columns"][0]["score"]}
    assert all(set(c) == {"name", "entity", "role", "score"} for c in out["columns"])


def test_a_failed_fit_keeps_its_trace_private_and_leaves_no_codes_behind(capsys, home, write_spec, settings,
                                                                         monkeypatch):
    from synthpriv import stages, synthesizers

    told: list[list[int]] = []

    def broken(self, codes, cardinalities, ordered=None):  # noqa: ANN001, ANN202
        told.append(ordered)
        raise RuntimeError("library failure")

    monkeypatch.setattr(synthesizers.MST, "fit", broken)
    spec = write_spec()
    code, out = _run(capsys, "release", str(spec))
    assert code == 3 and "the mst synthesizer failed (RuntimeError); its budget is spent" in out["reason"]
    # the stage tells the synthesizer which codes are ordered bins, from the spec
    assert told == [TableCodec.from_columns(list(load_spec(spec).modelled_columns)).ordered_codes]
    assert any(told[0]) and not all(told[0])
    workspace = settings.workspace_root / "demo_customers" / out["run_id"]
    assert (workspace / stages.TRAIN_ERROR).exists() and not (workspace / stages.CODES).exists()
    assert "library failure" not in json.dumps(out)


@pytest.mark.slow
def test_release_publishes_new_versions_with_manifest_and_spends_budget(capsys, home, write_spec, settings):
    spec = write_spec()
    code, first = _run(capsys, "release", str(spec))
    assert code == 0, first
    v1 = Path(first["uri"])
    assert first["version"] == "v1" and {p.name for p in v1.iterdir()} >= {"data.parquet", "report.html", "manifest.json"}
    manifest_bytes = (v1 / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert manifest["epsilon"] == 1.0 and manifest["delta"] == 1e-9
    assert manifest["synthesizer"]["name"] == "mst"
    assert {g["metric"] for g in manifest["gates"]["privacy"]} == {
        "exact_match_rate", "out_of_domain_rate", "pii_columns_on_rescan", "identifier_values_copied",
        "dcr_excess", "nndr_mean", "membership_auc", "canaries_found", "singling_out_risk", "linkability_risk",
        "inference_risk"}
    assert all(g["passed"] for rs in manifest["gates"].values() for g in rs)
    assert manifest["source_fingerprint"].startswith("sha256:")
    assert not any(p.exists() for p in (settings.workspace_root / "demo_customers").iterdir())

    code, second = _run(capsys, "release", str(spec))
    assert code == 0 and second["version"] == "v2"
    assert (v1 / "manifest.json").read_bytes() == manifest_bytes
    assert cli.main(["budget", "demo_customers", "--json"]) == 0
    budget = json.loads(capsys.readouterr().out)
    assert budget["spent"] == 2.0 and budget["remaining"] == 10.0 and len(budget["entries"]) == 2
    assert budget["composition"]["zcdp"]["epsilon"] < budget["composition"]["basic"]["epsilon"] == 2.0
    assert manifest["rho"] == pytest.approx(rho_for(1.0, 1e-9))
    assert cli.main(["catalog", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)["releases"]
    assert [(r["version"], r["latest"]) for r in catalog] == [("v1", False), ("v2", True)]


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_a_synthesizer_that_copies_training_rows_is_blocked_by_the_privacy_gate(
        capsys, home, write_spec, settings, monkeypatch, noise):
    from synthpriv import stages

    def copy_training(ctx):
        rows = pd.read_parquet(ctx.path(stages.TRAINING)).sample(n=ctx.spec.synthesis.rows, replace=True)
        if noise:
            rows["income"] = rows["income"].astype(float) * (1 + noise)
        rows.reset_index(drop=True).to_parquet(ctx.path(stages.SYNTHETIC), index=False)
        return {"rows": len(rows)}

    monkeypatch.setattr(stages, "train", lambda ctx: {"stubbed": True})
    monkeypatch.setattr(stages, "sample", copy_training)
    code, out = _run(capsys, "release", str(write_spec()))
    assert code == 3 and "privacy gate failed" in out["reason"]
    for metric in ("dcr_excess", "membership_auc", "nndr_mean"):
        assert f"privacy.{metric} = " in out["reason"]
    assert LocalStore(settings.store).datasets() == []


def test_undeclared_column_holding_personal_data_blocks_unless_the_spec_drops_such_columns(
        capsys, home, write_spec, tmp_path, settings, monkeypatch):
    src = tmp_path / "src.csv"
    df = sample_data.generate_customers(300)
    df.assign(backup_contact=df["email"].sample(frac=1, random_state=2).to_numpy()).to_csv(src, index=False)
    code, out = _run(capsys, "release", str(write_spec()), "--source", str(src))
    assert code == 3 and "backup_contact (EMAIL_ADDRESS)" in out["reason"] and "undeclared_columns" in out["reason"]
    assert Ledger(settings.ledger_url).summary("demo_customers")["entries"] == []

    from synthpriv import stages

    for name in ("train", "sample", "check_privacy", "check_quality"):
        monkeypatch.setattr(stages, name, lambda ctx: {"stubbed": True})
    dropping = write_spec(lambda raw: raw["pii"].update(undeclared_columns="drop"), name="dropping.yaml")
    code, out = _run(capsys, "release", str(dropping), "--source", str(src))
    assert code == 3 and "gates missing" in out["reason"]  # got past the scan; the stubbed gates stop it


def test_public_report_shows_synthetic_plots_and_no_real_values(tmp_path):
    from synthpriv import report
    from synthpriv.spec import load_spec
    from tests.conftest import DEMO_SPEC

    spec = load_spec(DEMO_SPEC)
    real = sample_data.generate_customers(500)
    synthetic = sample_data.generate_customers(500, seed=3)[[c.name for c in spec.modelled_columns]]
    synthetic["income"] = synthetic["income"].clip(upper=400_000)
    manifest = {"gates": {}, "scan": [{"name": "email", "entity": "EMAIL_ADDRESS", "role": "direct_identifier",
                                         "score": 0.9}], "epsilon": 1.0, "delta": 1e-9, "rows": 500,
                "synthesizer": {"mechanism": "mst"}, "approved_by": "x", "readers": [], "source_fingerprint": "sha256:0",
                "columns": list(synthetic.columns), "libraries": {}}
    html = report.render(spec, synthetic, manifest)
    assert html.count("data:image/png;base64,") == len(spec.modelled_columns) + 2  # distributions, association matrix, PCA
    assert not any(v in html for v in real[["email", "full_name", "ssn"]].astype(str).to_numpy().ravel())
