"""One Airflow DAG per release spec in `releases/`: each stage of a release is a task.

The work lives in `synthpriv.stages`; this file only wires it. Tasks pass references
(paths, hashes, small summaries) through XCom, never rows. Reading the spec files at parse
time is fine: they are configuration, not data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.task.trigger_rule import TriggerRule

from synthpriv.spec import load_spec

RELEASES = Path(os.environ.get("SYNTHPRIV_RELEASES", Path(__file__).resolve().parent.parent / "releases"))
STAGES = ["load", "scan", "protect", "reserve", "train", "sample", "check_privacy", "check_quality", "approve", "publish"]


def _run_context(spec_path: str):  # noqa: ANN202 - keeps synthpriv's heavy imports out of parse time
    from synthpriv.settings import Settings
    from synthpriv.stages import RunContext

    ctx = get_current_context()
    run_id = re.sub(r"[^A-Za-z0-9._-]", "_", ctx["run_id"])
    source = (ctx["params"] or {}).get("source") or None
    return RunContext(spec_path, run_id, Settings.from_env(), source)


def release_asset(dataset: str) -> Asset:
    """The Airflow Asset of a published dataset: consumer DAGs schedule on it."""
    return Asset(name=f"synthpriv.{dataset}", uri=f"synthpriv://{dataset}")


def _stage_task(name: str, spec_path: str, asset: Asset):  # noqa: ANN202
    @task(task_id=name, outlets=[asset] if name == "publish" else [])
    def run_stage() -> dict:
        from synthpriv import stages

        ctx = _run_context(spec_path)
        if name == "approve":
            return stages.approve(ctx, None)
        result = getattr(stages, name)(ctx)
        if name == "publish":
            get_current_context()["outlet_events"][asset].extra = {"version": result["version"], "uri": result["uri"]}
            stages.cleanup(ctx)
        return result

    return run_stage()


def build_release_dag(spec_path: Path):  # noqa: ANN201
    spec = load_spec(spec_path)

    @dag(
        dag_id=f"synthpriv_{spec.name}",
        description=spec.description.strip()[:200] or f"synthpriv release of {spec.publish.dataset}",
        schedule=spec.schedule.cron,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["synthpriv", *spec.schedule.tags],
        default_args={"owner": spec.schedule.owner, "retries": spec.schedule.retries},
        params={"source": ""},
    )
    def release() -> None:
        asset = release_asset(spec.publish.dataset)
        tasks = [_stage_task(name, str(spec_path), asset) for name in STAGES]
        for upstream, downstream in zip(tasks, tasks[1:]):
            upstream >> downstream

        @task(trigger_rule=TriggerRule.ALL_DONE)
        def release_unused_budget() -> None:
            """Give back a reservation no mechanism used; a spent one stays spent."""
            from synthpriv import stages

            stages.release_unused_budget(_run_context(str(spec_path)))

        tasks[-1] >> release_unused_budget()

    return release()


for _spec in sorted(RELEASES.glob("*.yaml")):
    globals()[f"synthpriv_{_spec.stem}"] = build_release_dag(_spec)
