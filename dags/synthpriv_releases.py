"""One Airflow DAG per release spec in `releases/`: each stage of a release is a task.

The work lives in `synthpriv.stages`; this file only wires it. Tasks pass references
(paths, hashes, small summaries) through XCom, never rows. Reading the spec files at parse
time is fine: they are configuration, not data.

Where a spec sets `approval.required`, a human-in-the-loop task (`review`) stops the run
after the gates and shows the reviewer the gate verdicts and where `review.html` is; the
`approve` task then records who decided, and a rejection ends the run unpublished.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Asset, chain, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from synthpriv.spec import load_spec

RELEASES = Path(os.environ.get("SYNTHPRIV_RELEASES", Path(__file__).resolve().parent.parent / "releases"))
WORK = ["load", "scan", "protect", "reserve", "train", "sample", "check_privacy", "check_quality"]
APPROVE, REJECT = "Approve", "Reject"
#: The Airflow connection whose password is the pseudonymization key, when the environment has none.
PSEUDONYM_CONNECTION = "synthpriv_pseudonym_key"


def pseudonym_key_from_connection() -> str | None:
    """The key a pseudonymizing policy needs, from an Airflow connection (never the repo or the spec)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(PSEUDONYM_CONNECTION).password or None
    except AirflowNotFoundException:
        return None


def _run_context(spec_path: str):  # noqa: ANN202 - keeps synthpriv's heavy imports out of parse time
    import dataclasses

    from synthpriv.settings import Settings
    from synthpriv.stages import RunContext

    ctx = get_current_context()
    run_id = re.sub(r"[^A-Za-z0-9._-]", "_", ctx["run_id"])
    source = (ctx["params"] or {}).get("source") or None
    run = RunContext(spec_path, run_id, Settings.from_env(), source)
    if run.settings.pseudonym_key is None and run.spec.pii.needs_pseudonym_key:
        key = pseudonym_key_from_connection()
        run = dataclasses.replace(run, settings=dataclasses.replace(run.settings, pseudonym_key=key))
    return run


@contextmanager
def _refusals_fail_at_once() -> Iterator[None]:
    """A gate, the PII policy, the budget or a reviewer said no: a retry cannot change that."""
    from synthpriv.errors import BlockedError, InputError

    try:
        yield
    except (BlockedError, InputError) as exc:
        raise AirflowFailException(str(exc)) from exc


def release_asset(dataset: str) -> Asset:
    """The Airflow Asset of a published dataset: consumer DAGs schedule on it."""
    return Asset(name=f"synthpriv.{dataset}", uri=f"synthpriv://{dataset}")


def _stage_task(name: str, spec_path: str, asset: Asset):  # noqa: ANN202
    @task(task_id=name, outlets=[asset] if name == "publish" else [])
    def run_stage() -> dict:
        from synthpriv import stages

        ctx = _run_context(spec_path)
        with _refusals_fail_at_once():
            result = stages.approve(ctx, None) if name == "approve" else getattr(stages, name)(ctx)
        if name == "publish":
            get_current_context()["outlet_events"][asset].extra = {"version": result["version"], "uri": result["uri"]}
            stages.cleanup(ctx)
        return result

    return run_stage()


class ReleaseReview(HITLOperator):
    """Asks a reviewer to approve or reject, showing the gate verdicts and where `review.html` is.

    The message is built when the task runs, from the run's `gates.json` (aggregates and
    thresholds only), so it describes this run's release and nothing is read at parse time.
    """

    def __init__(self, *, spec_path: str, **kwargs) -> None:  # noqa: ANN003
        super().__init__(options=[APPROVE, REJECT], **kwargs)
        self.spec_path = spec_path

    def execute(self, context):  # noqa: ANN001, ANN201
        from synthpriv import catalog, stages

        ctx = _run_context(self.spec_path)
        self.body = catalog.review_summary(ctx.spec.publish.dataset, ctx.spec.privacy.epsilon,
                                           ctx.read_json(stages.GATES), ctx.path(stages.REVIEW))
        return super().execute(context)


def _reviewed_approval(spec_path: str, dataset: str):  # noqa: ANN202
    review = ReleaseReview(
        task_id="review",
        spec_path=spec_path,
        subject=f"Publish the new version of {dataset}? (run {{{{ run_id }}}})",
    )

    @task(task_id="approve")
    def record_decision(decision: dict) -> dict:
        """The reviewer's identity and choice go into the run; a rejection fails the run unpublished."""
        from synthpriv import stages

        user = decision.get("responded_by_user") or {}
        with _refusals_fail_at_once():
            return stages.approve(_run_context(spec_path), user.get("name") or user.get("id"),
                                  approved=decision["chosen_options"] == [APPROVE])

    return review, record_decision(review.output)


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
        work = [_stage_task(name, str(spec_path), asset) for name in WORK]
        if spec.approval.required:
            approval = _reviewed_approval(str(spec_path), spec.publish.dataset)
        else:
            approval = (_stage_task("approve", str(spec_path), asset),)
        publish = _stage_task("publish", str(spec_path), asset)
        chain(*work, *approval, publish)

        @task
        def release_unused_budget() -> None:
            """Give back a reservation no mechanism used; a spent one stays spent.

            A teardown: it runs however the run ended, and the run's state is decided by the
            stages, so a blocked or rejected release shows as failed.
            """
            from synthpriv import stages

            stages.release_unused_budget(_run_context(str(spec_path)))

        publish >> release_unused_budget().as_teardown()

    return release()


for _spec in sorted(RELEASES.glob("*.yaml")):
    globals()[f"synthpriv_{_spec.stem}"] = build_release_dag(_spec)
