"""A whole release publishes to a real S3 server, and consumers read it back through the API."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import synthpriv
from synthpriv import cli
from synthpriv.ledger import Ledger
from synthpriv.settings import Settings
from tests.s3_server import s3_server  # noqa: F401 - the session fixture


@pytest.mark.slow
def test_release_publishes_to_s3_and_reader_checks_hashes(s3_server, home, write_spec, monkeypatch, capsys):  # noqa: F811
    for name, value in s3_server.env("admin").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTHPRIV_STORE", f"s3://{s3_server.bucket}/e2e")
    code = cli.main(["release", str(write_spec(rows=3000)), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, out
    assert out["uri"] == f"s3://{s3_server.bucket}/e2e/demo_customers/v1"
    table = synthpriv.read("demo_customers")
    assert len(table) == 3000 and "email" not in table.columns
    assert cli.main(["catalog", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)["releases"]
    assert [(r["dataset"], r["version"], r["latest"]) for r in catalog] == [("demo_customers", "v1", True)]

    # The spec's readers (analytics, data-science) read it with their own keys; other teams are refused.
    assert catalog[0]["readers"] == ["analytics", "data-science"]
    for team in ("analytics", "data-science"):
        for name, value in s3_server.env(f"team-{team}").items():
            monkeypatch.setenv(name, value)
        assert synthpriv.read("demo_customers").equals(table)
    for name, value in s3_server.env("team-other").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ClientError) as refused:
        synthpriv.read("demo_customers")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_an_unreachable_s3_store_stops_the_run_before_any_budget(home, write_spec, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHPRIV_STORE", "s3://releases/x")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "none")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "none")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code = cli.main(["release", str(write_spec()), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2 and out["reason"].startswith("store: cannot write to s3://releases/x")
    assert Ledger(Settings.from_env().ledger_url).summary("demo_customers")["entries"] == []


def test_a_reader_team_without_an_identity_stops_the_run_before_any_budget(s3_server, home, write_spec, monkeypatch, capsys):  # noqa: F811
    for name, value in s3_server.env("admin").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYNTHPRIV_STORE", f"s3://{s3_server.bucket}/unknown-team")
    code = cli.main(["release", str(write_spec(lambda s: s["publish"].update(readers=["finance"]))), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2 and "finance" in out["reason"], out
    assert Ledger(Settings.from_env().ledger_url).summary("demo_customers")["entries"] == []
