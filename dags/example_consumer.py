"""An example consumer: a team's DAG that runs whenever a new version of demo_customers lands.

It schedules on the dataset's Airflow Asset (emitted by the release DAG's publish task),
reads the exact version the event names through synthpriv's hash-checking reader, and
logs only its shape.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

DEMO_CUSTOMERS = Asset(name="synthpriv.demo_customers", uri="synthpriv://demo_customers")


@dag(
    dag_id="example_consumer_demo_customers",
    schedule=[DEMO_CUSTOMERS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["synthpriv", "example", "consumer"],
)
def example_consumer() -> None:
    @task(inlets=[DEMO_CUSTOMERS])
    def read_new_release(triggering_asset_events=None) -> dict:  # noqa: ANN001
        import synthpriv

        events = (triggering_asset_events or {}).get(DEMO_CUSTOMERS, [])
        version = events[-1].extra.get("version", "latest") if events else "latest"
        table = synthpriv.read("demo_customers", version)
        return {"version": version, "rows": len(table), "columns": len(table.columns)}

    read_new_release()


example_consumer()
