"""Real Airflow on PostgreSQL: a release that requires approval stops for a human, who decides through the API.

The api-server, scheduler, dag-processor and triggerer run natively on 127.0.0.1 with the
repo's dags/ and plugins/. Two releases run at once: `demo_customers` is approved through
the HITL REST endpoint, publishes with the reviewer in its manifest and wakes the example
consumer through its Asset; `rejected_demo` is rejected and ends without publishing. The
Releases plugin page is then read over HTTP from the running api-server.
"""

from __future__ import annotations

import json
import time
import re
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml
from sqlalchemy.engine import make_url

from tests.conftest import REPO, demo_spec_dict
from tests.dags.airflow_services import AirflowServices, ApiClient

pytestmark = pytest.mark.slow

REVIEWER = "reviewer"
APPROVED, REJECTED = "demo_customers", "rejected_demo"
CONSUMER = "example_consumer_demo_customers"
ROWS = 2000


def _database(server_url: str, name: str) -> str:
    """A fresh database on the session's PostgreSQL server; returns its URL."""
    url = make_url(server_url)
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def _spec(name: str) -> dict:
    raw = demo_spec_dict(rows=ROWS)
    raw["name"] = name
    raw["publish"]["dataset"] = name
    raw["approval"] = {"required": True}
    raw["schedule"] = {"cron": None, "owner": "data-platform", "retries": 0, "tags": ["live"]}
    return raw


@pytest.fixture(scope="module")
def airflow(postgres_url, tmp_path_factory) -> AirflowServices:
    root = tmp_path_factory.mktemp("airflow-live")
    suffix = uuid.uuid4().hex[:8]
    releases = root / "releases"
    releases.mkdir()
    for name in (APPROVED, REJECTED):
        (releases / f"{name}.yaml").write_text(yaml.safe_dump(_spec(name)))
    services = AirflowServices(
        home=root / "airflow",
        sql_alchemy_conn=_database(postgres_url, f"airflow_{suffix}"),
        dags_folder=REPO / "dags",
        plugins_folder=REPO / "plugins",
        users={REVIEWER: "admin"},
        extra_env={
            "SYNTHPRIV_HOME": str(root / "synthpriv"),
            "SYNTHPRIV_RELEASES": str(releases),
            "SYNTHPRIV_LEDGER_URL": _database(postgres_url, f"ledger_{suffix}"),
        },
    )
    try:
        services.start()
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="module")
def api(airflow) -> ApiClient:
    return ApiClient(airflow, REVIEWER)


@pytest.fixture(scope="module")
def runs(airflow, api) -> dict[str, str]:
    """Both releases triggered through the API, and the consumer unpaused: {dataset: run id}."""
    dag_ids = [f"synthpriv_{APPROVED}", f"synthpriv_{REJECTED}", CONSUMER]
    airflow.wait_for(lambda: all(api.get_or_none(f"/api/v2/dags/{d}") for d in dag_ids), 300,
                     "the dag-processor to parse the DAGs")
    for dag_id in dag_ids:
        api.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    return {
        name: api.request("POST", f"/api/v2/dags/synthpriv_{name}/dagRuns", json={"logical_date": None})["dag_run_id"]
        for name in (APPROVED, REJECTED)
    }


#: Long enough for the scheduler to process the executor event of the paused review task.
REVIEWER_PAUSE_SECONDS = 10


def _hitl_path(name: str, run_id: str) -> str:
    return f"/api/v2/dags/synthpriv_{name}/dagRuns/{run_id}/taskInstances/review/-1/hitlDetails"


def _decide(airflow: AirflowServices, api: ApiClient, runs: dict[str, str], name: str, option: str) -> dict:
    """Wait until the run asks for a decision, check what the reviewer is shown, answer; return the request."""
    dag_id, run_id = f"synthpriv_{name}", runs[name]

    def awaiting_review() -> bool:
        if _finished(api, dag_id, run_id):
            raise AssertionError(f"{name}'s run ended before asking for a review\n{airflow.diagnostics()}")
        return api.task_state(dag_id, run_id, "review") == "awaiting_input"

    airflow.wait_for(awaiting_review, 900, f"{name}'s review task to wait for a reviewer")
    # Airflow 3.3 race: an answer within a scheduler loop of the pause puts the task back in the
    # queue before the scheduler has seen the executor finish its first part, and the scheduler
    # then fails the task. A person never answers that fast; the test waits as a person would.
    time.sleep(REVIEWER_PAUSE_SECONDS)
    detail = api.request("GET", _hitl_path(name, run_id))
    assert detail["options"] == ["Approve", "Reject"]
    answer = api.request("PATCH", _hitl_path(name, run_id), json={"chosen_options": [option], "params_input": {}})
    assert answer["responded_by"]["name"] == REVIEWER
    return detail


def _finished(api: ApiClient, dag_id: str, run_id: str) -> str | None:
    state = api.run_state(dag_id, run_id)
    return state if state in ("success", "failed") else None


@pytest.fixture(scope="module")
def approved(airflow, api, runs) -> dict:
    return _decided(airflow, api, runs, APPROVED, "Approve", timeout=600)


@pytest.fixture(scope="module")
def rejected(airflow, api, runs) -> dict:
    return _decided(airflow, api, runs, REJECTED, "Reject", timeout=300)


def _decided(airflow, api, runs, name: str, option: str, timeout: float) -> dict:
    """Answer `name`'s review with `option`, then wait for its run to end."""
    detail = _decide(airflow, api, runs, name, option)
    state = airflow.wait_for(lambda: _finished(api, f"synthpriv_{name}", runs[name]), timeout, f"{name}'s run to finish")
    return {"detail": detail, "state": state}


def test_reviewer_sees_gate_verdicts_and_where_the_review_is(approved, airflow):
    detail = approved["detail"]
    assert APPROVED in detail["subject"]
    body = detail["body"]
    assert "exact_match_rate" in body and "membership_auc" in body and "passed" in body
    workspace = Path(airflow.extra_env["SYNTHPRIV_HOME"]) / "workspace" / APPROVED
    assert f"`{workspace}" in body and "review.html`" in body


def test_approved_release_publishes_with_the_reviewer_in_its_manifest(approved, airflow, api, runs):
    assert approved["state"] == "success", airflow.diagnostics()
    store = Path(airflow.extra_env["SYNTHPRIV_HOME"]) / "store" / APPROVED
    manifest = json.loads((store / "v1" / "manifest.json").read_text())
    assert manifest["approved_by"] == REVIEWER
    assert manifest["rows"] == ROWS and (store / "latest").read_text() == "v1"
    events = api.request("GET", "/api/v2/assets/events", params={"source_dag_id": f"synthpriv_{APPROVED}"})
    assert [e["extra"]["version"] for e in events["asset_events"]] == ["v1"]


def test_consumer_runs_on_the_new_asset_event_and_reads_that_version(approved, airflow, api):
    def consumer_run() -> dict | None:
        found = api.request("GET", f"/api/v2/dags/{CONSUMER}/dagRuns")["dag_runs"]
        return next((r for r in found if r["state"] in ("success", "failed")), None)

    run = airflow.wait_for(consumer_run, 300, "the consumer DAG run triggered by the asset event")
    assert run["state"] == "success" and run["run_type"] == "asset_triggered", airflow.diagnostics()
    xcom = api.request("GET", f"/api/v2/dags/{CONSUMER}/dagRuns/{run['dag_run_id']}/taskInstances/"
                       "read_new_release/xcomEntries/return_value", params={"deserialize": True, "stringify": False})
    assert (xcom["value"]["version"], xcom["value"]["rows"]) == ("v1", ROWS)


def test_rejected_release_ends_without_publishing(rejected, airflow, api, runs):
    dag_id, run_id = f"synthpriv_{REJECTED}", runs[REJECTED]
    assert rejected["state"] == "failed"
    states = {t: api.task_state(dag_id, run_id, t) for t in ("approve", "publish", "release_unused_budget")}
    assert states == {"approve": "failed", "publish": "upstream_failed", "release_unused_budget": "success"}
    assert not (Path(airflow.extra_env["SYNTHPRIV_HOME"]) / "store" / REJECTED).exists()
    events = api.request("GET", "/api/v2/assets/events", params={"source_dag_id": dag_id})
    assert events["asset_events"] == []
    run_folder = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    workspace = Path(airflow.extra_env["SYNTHPRIV_HOME"]) / "workspace" / REJECTED / run_folder
    assert json.loads((workspace / "rejection.json").read_text()) == {"rejected_by": REVIEWER}


def test_releases_page_lists_versions_and_budget(approved, rejected, airflow, api):
    plugins = api.request("GET", "/api/v2/plugins")["plugins"]
    views = [v for p in plugins if p["name"] == "synthpriv" for v in p["external_views"]]
    assert [v["name"] for v in views] == ["Releases"]
    page = re.sub(r">\s+<", "><", api.request("GET", "/" + views[0]["href"]).text)
    assert APPROVED in page and "v1 (latest)" in page and REVIEWER in page
    assert REJECTED in page and "No version published yet." in page
    assert page.count("<td>12</td><td>1</td><td>0</td><td>11</td>") == 2  # cap, spent, reserved, remaining
    report = api.request("GET", f"/synthpriv/releases/{APPROVED}/v1/report.html")
    assert report.headers["content-type"].startswith("text/html")
    assert "sandbox" in report.headers["content-security-policy"]
    api.request("GET", f"/synthpriv/releases/{APPROVED}/v9/report.html", expect=404)
    assert requests.get(f"{airflow.base_url}/synthpriv/releases", timeout=30).status_code == 401
