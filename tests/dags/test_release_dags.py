"""The DAG file builds one DAG per spec from the stage functions; a run publishes, and XCom holds no rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthpriv.sample_data import generate_customers
from tests.conftest import REPO, demo_spec_dict

DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """A private Airflow home with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "SYNTHPRIV_HOME": str(home / "synthpriv"),
    }
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


def _python(code: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


PARSE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({dags!r})
dag = bag.dags.get('synthpriv_demo_customers')
print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}}, "dags": sorted(bag.dags),
  "tasks": [t.task_id for t in dag.topological_sort()] if dag else [], "schedule": str(dag.schedule) if dag else None,
  "owner": dag.default_args.get("owner") if dag else None, "tags": sorted(dag.tags) if dag else [],
  "consumer_schedule": sorted(a.uri for a in bag.dags['example_consumer_demo_customers'].timetable.asset_condition.objects)
    if 'example_consumer_demo_customers' in bag.dags else None}}))
"""


def test_every_spec_yields_a_dag_without_import_errors_or_data_access(airflow_env):
    proc = _python(PARSE.format(dags=str(DAGS)), airflow_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    specs = sorted(p.stem for p in (REPO / "releases").glob("*.yaml"))
    assert out["errors"] == {}
    assert out["dags"] == sorted(["example_consumer_demo_customers", *(f"synthpriv_{s}" for s in specs)])
    assert out["consumer_schedule"] == ["synthpriv://demo_customers/"]
    assert out["tasks"] == ["load", "scan", "protect", "reserve", "train", "sample", "check_privacy",
                            "check_quality", "approve", "publish", "release_unused_budget"]
    assert out["schedule"] == "@monthly" and out["owner"] == "data-platform"
    assert {"synthpriv", "demo", "customers"} <= set(out["tags"])
    assert not Path(airflow_env["SYNTHPRIV_HOME"]).exists(), "parsing the DAG file touched synthpriv's data"


APPROVAL = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({dags!r})
dag = bag.dags['synthpriv_demo_customers']
review = dag.get_task('review')
print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
  "tasks": [t.task_id for t in dag.topological_sort()], "operator": type(review).__mro__[1].__name__,
  "options": review.options, "subject": review.subject, "approve_after": sorted(dag.get_task('approve').upstream_task_ids),
  "teardown": dag.get_task('release_unused_budget').is_teardown}}))
"""


def test_a_spec_requiring_approval_stops_for_a_human_before_publish(airflow_env, tmp_path):
    releases = tmp_path / "releases"
    releases.mkdir()
    spec = demo_spec_dict(rows=2000)
    spec["approval"] = {"required": True}
    (releases / "demo_customers.yaml").write_text(yaml.safe_dump(spec))
    proc = _python(APPROVAL.format(dags=str(DAGS)), {**airflow_env, "SYNTHPRIV_RELEASES": str(releases)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert out["tasks"] == ["load", "scan", "protect", "reserve", "train", "sample", "check_privacy",
                            "check_quality", "review", "approve", "publish", "release_unused_budget"]
    assert out["operator"] == "HITLOperator" and out["options"] == ["Approve", "Reject"]
    assert "demo_customers" in out["subject"] and out["approve_after"] == ["review"]
    assert out["teardown"], "the budget task must not decide the run's state: a rejected run shows as failed"


RUN = """
import json
from airflow.dag_processing.dagbag import DagBag
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
dag = DagBag({dags!r}).dags['synthpriv_demo_customers']
run = dag.test()
print('STATE', run.state)
from airflow.models.asset import AssetEvent, AssetModel
with create_session() as s:
    values = [str(x.value) for x in s.query(XComModel).filter(XComModel.run_id == run.run_id)]
    events = [e.extra for e in s.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
              .filter(AssetModel.uri == 'synthpriv://demo_customers/')]
print('XCOM', json.dumps(values))
print('ASSET_EVENTS', json.dumps(events))
"""


@pytest.mark.slow
def test_dag_test_runs_a_release_and_xcom_carries_only_summaries(airflow_env, tmp_path):
    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "demo_customers.yaml").write_text(yaml.safe_dump(demo_spec_dict(rows=2000)))
    env = {**airflow_env, "SYNTHPRIV_RELEASES": str(releases), "SYNTHPRIV_HOME": str(tmp_path / "sp")}
    proc = _python(RUN.format(dags=str(DAGS)), env)
    assert "STATE success" in proc.stdout, (proc.stdout[-3000:], proc.stderr[-3000:])
    xcoms = json.loads(proc.stdout.split("XCOM ", 1)[1].splitlines()[0])
    assert len(xcoms) >= 10 and max(len(v) for v in xcoms) < 2000
    source = generate_customers(2000)
    identifiers = set(source[["customer_id", "full_name", "email", "phone", "ssn"]].astype(str).to_numpy().ravel())
    assert not [v for v in identifiers if any(v in x for x in xcoms)]
    store = tmp_path / "sp" / "store" / "demo_customers"
    manifest = json.loads((store / "v1" / "manifest.json").read_text())
    assert manifest["rows"] == 2000 and manifest["epsilon"] == 1.0
    assert (store / "latest").read_text() == "v1"
    events = json.loads(proc.stdout.split("ASSET_EVENTS ", 1)[1].splitlines()[0])
    assert [e["version"] for e in events] == ["v1"]


def test_the_pseudonym_key_can_come_from_an_airflow_connection(airflow_env):
    code = f"""
import sys
sys.path.insert(0, {str(DAGS)!r})
import synthpriv_releases as d
print(d.pseudonym_key_from_connection())
"""
    key = "from-a-connection-0123456789abcdef"  # pragma: allowlist secret
    env = {**airflow_env, "AIRFLOW_CONN_SYNTHPRIV_PSEUDONYM_KEY": f'{{"conn_type": "generic", "password": "{key}"}}'}
    assert _python(code, env, timeout=120).stdout.strip().splitlines()[-1] == key
    assert _python(code, airflow_env, timeout=120).stdout.strip().splitlines()[-1] == "None"
