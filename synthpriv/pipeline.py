"""A whole release in one process: the CLI's path, with the embedded defaults.

Runs the same stage functions the Airflow DAG runs as separate tasks, in the same order,
and applies the ledger's failure rule: a reservation no mechanism has used is released,
a spent one stays spent. The workspace is removed after a publish and kept (private)
after a failure, for diagnosis.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Callable

from synthpriv import stages
from synthpriv.settings import Settings
from synthpriv.spec import load_spec
from synthpriv.validate import as_input_error

#: (name, what the progress display says) in pipeline order.
STAGES: list[tuple[str, str]] = [
    ("load", "loading the source"),
    ("scan", "scanning for personal data"),
    ("protect", "applying the PII policy"),
    ("reserve", "reserving privacy budget"),
    ("train", "training the DP synthesizer"),
    ("sample", "sampling synthetic rows"),
    ("check_privacy", "privacy gate"),
    ("check_quality", "quality gate"),
    ("approve", "approval"),
    ("publish", "publishing"),
]


@dataclass
class ReleaseOutcome:
    run_id: str
    published: dict | None = None
    stages: dict[str, dict] = field(default_factory=dict)


def _workspace_or_none(ctx: stages.RunContext) -> str | None:
    path = ctx.settings.workspace_root / ctx.spec.name / ctx.run_id
    return str(path) if path.is_dir() else None


def new_run_id() -> str:
    return "run-" + uuid.uuid4().hex[:12]


def run_release(
    spec_path: str,
    settings: Settings,
    *,
    source: str | None = None,
    approver: str | None = None,
    run_id: str | None = None,
    on_stage: Callable[[str, str], None] | None = None,
) -> ReleaseOutcome:
    """Run every stage; raise a SynthprivError subclass (whose exit code says why) on failure."""
    load_spec(spec_path)  # a bad spec fails here, before any data is read or budget reserved
    ctx = stages.RunContext(spec_path, run_id or new_run_id(), settings, source)
    outcome = ReleaseOutcome(ctx.run_id)
    try:
        stages.prune_workspaces(settings)
        for name, label in STAGES:
            if on_stage:
                on_stage(name, label)
            fn = getattr(stages, name)
            outcome.stages[name] = fn(ctx, approver) if name == "approve" else fn(ctx)
    except BaseException as exc:
        stages.release_unused_budget(ctx)
        converted = as_input_error(exc) if isinstance(exc, OSError) else None
        failure = converted or exc
        failure.workspace = _workspace_or_none(ctx)  # type: ignore[attr-defined]
        if converted is not None:
            raise converted from None
        raise
    outcome.published = outcome.stages["publish"]
    stages.cleanup(ctx)
    return outcome
