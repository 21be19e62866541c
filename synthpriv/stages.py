"""The stages of a release, as plain functions the CLI and the Airflow DAGs both call.

Each stage reads what earlier stages left in the run's private workspace, writes its own
files there, and returns a small JSON-able summary (paths, hashes, counts, verdicts),
which is all that ever crosses a task boundary. Every stage is safe to rerun: it
overwrites only its own files, and the ledger's (dataset, run id) key makes budget
reservations idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as _pkg_version
from pathlib import Path

import numpy as np
import pandas as pd

from synthpriv import report, sample_data, synthesizers, validate
from synthpriv.domain import TableCodec
from synthpriv.errors import BlockedError, InputError
from synthpriv.gates import GateResult
from synthpriv.gates import leakage
from synthpriv.gates import privacy as privacy_gate
from synthpriv.gates import quality as quality_gate
from synthpriv.ledger import SPENT, Cap, Charge, Ledger
from synthpriv.load import fingerprint, read_table
from synthpriv.scan import ColumnVerdict, scan_table
from synthpriv.settings import Settings
from synthpriv.spec import ReleaseSpec, load_spec
from synthpriv.store import Published, Store, open_store

log = logging.getLogger(__name__)

SOURCE, SCAN, MODEL, SYNTHETIC = "source.parquet", "scan.json", "model.pkl", "synthetic.parquet"
TRAINING, HOLDOUT = "training.parquet", "holdout.parquet"
GATES, DOMAIN, APPROVAL, REPORT, META = "gates.json", "domain_report.json", "approval.json", "report.html", "run.json"
TRAIN_ERROR = "train_error.txt"
_LIBRARIES = ("smartnoise-synth", "opendp", "mbi", "great-expectations", "presidio-analyzer", "pandas")


@dataclass(frozen=True)
class RunContext:
    """One execution of a spec: its id, its settings and its private workspace."""

    spec_path: str
    run_id: str
    settings: Settings
    source_override: str | None = None

    @cached_property
    def spec(self) -> ReleaseSpec:
        return load_spec(self.spec_path)

    @property
    def workspace(self) -> Path:
        """The run's private folder (0700): the only place real data is ever written."""
        ws = self.settings.workspace_root / self.spec.name / self.run_id
        if not ws.is_dir():
            ws.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(ws, stat.S_IRWXU)
        return ws

    def path(self, name: str) -> Path:
        return self.workspace / name

    def ledger(self) -> Ledger:
        return Ledger(self.settings.ledger_url)

    def store(self) -> Store:
        return open_store(self.settings.store)

    def write_json(self, name: str, obj: object) -> Path:
        p = self.path(name)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, p)
        return p

    def read_json(self, name: str) -> object:
        return json.loads(self.path(name).read_text(encoding="utf-8"))


def load(ctx: RunContext) -> dict:
    """Read the source into the workspace after checking its columns against the spec."""
    spec = ctx.spec
    validate.check_environment(ctx.settings.workspace_root, ctx.settings.store)
    if ctx.source_override:
        table, fp = read_table(ctx.source_override, spec.source.format), fingerprint(ctx.source_override)
    elif spec.source.sample is not None:
        table = sample_data.generate_customers(spec.source.rows or 20_000)
        fp = None
    else:
        table, fp = read_table(spec.source.path, spec.source.format), fingerprint(spec.source.path)
    undeclared = validate.check_columns(table, spec)
    declared = [c.name for c in spec.columns]
    table = table[declared + undeclared]
    table.to_parquet(ctx.path(SOURCE), index=False)
    if fp is None:
        fp = fingerprint(ctx.path(SOURCE))
    ctx.write_json(META, {"source_fingerprint": fp, "undeclared_columns": undeclared})
    return {"uri": str(ctx.path(SOURCE)), "fingerprint": fp, "columns": len(declared), "undeclared": len(undeclared)}


def scan(ctx: RunContext) -> dict:
    """Classify every column; stop on undeclared columns and on released columns that hold PII."""
    spec = ctx.spec
    table = pd.read_parquet(ctx.path(SOURCE))
    verdicts = scan_table(table, spec.pii.sample_size)
    ctx.write_json(SCAN, [v.to_dict() for v in verdicts])
    undeclared = set(ctx.read_json(META)["undeclared_columns"])
    if undeclared and spec.pii.undeclared_columns == "block":
        personal = [v for v in verdicts if v.name in undeclared and v.entity and v.score >= spec.pii.min_score]
        if personal:
            named = ", ".join(f"{v.name} ({v.entity})" for v in personal)
            raise BlockedError(
                f"pii: columns the spec does not declare hold personal data: {named}; declare them "
                "(type identifier or text to keep them out of the release), or set pii.undeclared_columns: drop"
            )
        raise InputError(
            f"columns: the source has columns the spec does not declare: {', '.join(sorted(undeclared))} "
            "(declare each one, as type identifier or text if it must never be released)"
        )
    released = {c.name for c in spec.modelled_columns}
    unexpected = [
        v for v in verdicts
        if v.role == "direct_identifier" and v.score >= spec.pii.min_score
        and v.name in released and v.name not in spec.pii.allow
    ]
    if unexpected:
        named = ", ".join(f"{v.name} ({v.entity})" for v in unexpected)
        raise BlockedError(
            f"pii: columns declared for release look like direct identifiers: {named}; "
            "declare them as type identifier, or list them in pii.allow if the scan is wrong"
        )
    return {"uri": str(ctx.path(SCAN)), "flagged": [v.name for v in verdicts if v.entity]}


def _dropped_by_policy(spec: ReleaseSpec, verdicts: list[ColumnVerdict]) -> list[str]:
    actions = spec.pii.actions
    return [
        v.name for v in verdicts
        if v.entity is not None and v.score >= spec.pii.min_score
        and (actions.get(v.role) == "drop" or actions.get(v.entity) == "drop")
    ]


def protect(ctx: RunContext) -> dict:
    """Check the released columns' values, then drop what the policy says and what is not released."""
    spec = ctx.spec
    released = pd.read_parquet(ctx.path(SOURCE), columns=[c.name for c in spec.modelled_columns])
    validate.check_values(released, spec)
    verdicts = [ColumnVerdict(**v) for v in ctx.read_json(SCAN)]
    by_policy = _dropped_by_policy(spec, verdicts)
    keep = [c.name for c in spec.modelled_columns if c.name not in by_policy]
    table = released[keep]
    holdout_rows = np.random.default_rng().permutation(len(table)) < round(len(table) * spec.gates.privacy.holdout_share)
    table[~holdout_rows].to_parquet(ctx.path(TRAINING), index=False)
    table[holdout_rows].to_parquet(ctx.path(HOLDOUT), index=False)
    dropped = [c.name for c in spec.columns if c.name not in keep]
    return {"uri": str(ctx.path(TRAINING)), "holdout_uri": str(ctx.path(HOLDOUT)), "dropped": dropped, "kept": keep}


def _synthesizer(spec: ReleaseSpec) -> synthesizers.Synthesizer:
    p = spec.privacy
    return synthesizers.create(p.synthesizer, p.epsilon, p.delta, p.options)


def reserve(ctx: RunContext) -> dict:
    """Reserve the release's budget before any DP mechanism touches the data."""
    spec = ctx.spec
    spend = _synthesizer(spec).spend()
    b = spec.privacy.budget
    r = ctx.ledger().reserve(
        spec.publish.dataset, ctx.run_id,
        Charge(spend.epsilon, spend.delta, spend.mechanism, spend.rho),
        Cap(b.epsilon, b.delta, b.renewal_days, b.composition),
    )
    return {"epsilon": r.epsilon, "delta": r.delta, "state": r.state}


def train(ctx: RunContext) -> dict:
    """Encode over the public domain, mark the budget spent, then fit the DP synthesizer.

    A retry after the model was saved reuses it: fitting again would run the mechanism a
    second time on the same budget. A retry after a run died mid-fit cannot know how far
    the mechanism got, so it refuses rather than spend again unrecorded.
    """
    spec = ctx.spec
    ledger, dataset = ctx.ledger(), spec.publish.dataset
    model = _synthesizer(spec)
    spend = model.spend()
    summary = {"uri": str(ctx.path(MODEL)), "epsilon": spend.epsilon, "delta": spend.delta, "mechanism": spend.mechanism}
    reservation = ledger.get(dataset, ctx.run_id)
    if reservation is not None and reservation.state == SPENT:
        if ctx.path(MODEL).exists():
            return summary
        raise BlockedError(
            f"budget: run {ctx.run_id!r} already spent its reservation in a training that did not finish; "
            "start a new run (its spend stays on the ledger)"
        )
    table = pd.read_parquet(ctx.path(TRAINING))
    codec = TableCodec.from_columns([c for c in spec.modelled_columns if c.name in table.columns])
    codes, outside = codec.encode(table)
    ctx.write_json(DOMAIN, {"out_of_domain_values": outside})
    ledger.spend(dataset, ctx.run_id)
    try:
        model.fit(codes, codec.cardinalities)
    except Exception as exc:  # noqa: BLE001 - a library's message may quote data: keep it private
        ctx.path(TRAIN_ERROR).write_text(traceback.format_exc())
        raise BlockedError(
            f"train: the {spec.privacy.synthesizer} synthesizer failed ({type(exc).__name__}); its budget is spent "
            f"and nothing was published; the trace is in the private workspace ({TRAIN_ERROR})"
        ) from None
    tmp = ctx.path(MODEL + ".tmp")
    model.save(str(tmp))
    os.replace(tmp, ctx.path(MODEL))
    return summary


def sample(ctx: RunContext) -> dict:
    """Draw the declared number of rows; decoding and shuffling are DP post-processing."""
    spec = ctx.spec
    model = synthesizers.Synthesizer.load(str(ctx.path(MODEL)))
    codes = model.sample(spec.synthesis.rows)
    codec = TableCodec.from_columns([c for c in spec.modelled_columns if c.name in codes.columns])
    rng = np.random.default_rng()
    table = codec.decode(codes, rng).iloc[rng.permutation(len(codes))].reset_index(drop=True)
    table.to_parquet(ctx.path(SYNTHETIC), index=False)
    return {"uri": str(ctx.path(SYNTHETIC)), "rows": len(table)}


def _record_gates(ctx: RunContext, gate: str, results: list[GateResult]) -> dict:
    all_results = ctx.read_json(GATES) if ctx.path(GATES).exists() else {}
    all_results[gate] = [r.to_dict() for r in results]
    ctx.write_json(GATES, all_results)
    failed = [r for r in results if not r.passed]
    if failed:
        raise BlockedError(f"{gate} gate failed: " + "; ".join(r.describe() for r in failed))
    return {"gate": gate, "passed": True, "checks": len(results)}


def _identifier_values(ctx: RunContext) -> frozenset[str]:
    """Every value of the source's identifier columns: declared ones, undeclared ones, and
    released ones the scan flagged but the spec allowed."""
    flagged = {v["name"] for v in ctx.read_json(SCAN) if v["role"] == "direct_identifier"}
    declared = {c.name for c in ctx.spec.columns if c.type.value == "identifier"}
    columns = sorted(declared | flagged | set(ctx.read_json(META)["undeclared_columns"]))
    table = pd.read_parquet(ctx.path(SOURCE), columns=columns)
    return frozenset(table.astype("string").stack().dropna())


def check_privacy(ctx: RunContext) -> dict:
    """Leakage checks of the synthetic table against the training rows and the holdout."""
    spec = ctx.spec
    synthetic = pd.read_parquet(ctx.path(SYNTHETIC))
    training, holdout = pd.read_parquet(ctx.path(TRAINING)), pd.read_parquet(ctx.path(HOLDOUT))
    g = spec.gates.privacy
    thresholds = leakage.LeakageThresholds(g.max_dcr_excess, g.min_nndr_mean, g.max_membership_auc)
    results = (privacy_gate.run(synthetic, training, spec, _identifier_values(ctx))
               + leakage.run(synthetic, training, holdout, spec, thresholds))
    return _record_gates(ctx, privacy_gate.GATE, results)


def check_quality(ctx: RunContext) -> dict:
    """The Great Expectations suite on the synthetic table."""
    synthetic = pd.read_parquet(ctx.path(SYNTHETIC))
    suite = quality_gate.load_suite(ctx.spec, ctx.spec_path)
    return _record_gates(ctx, quality_gate.GATE, quality_gate.run(synthetic, ctx.spec, suite))


def approve(ctx: RunContext, approver: str | None) -> dict:
    """Record who approved; a spec that requires approval blocks without one."""
    if ctx.spec.approval.required and not approver:
        raise BlockedError("approval: this release requires a reviewer's approval before publishing")
    record = {"approved_by": approver or "not required"}
    ctx.write_json(APPROVAL, record)
    return record


def _library_versions() -> dict[str, str]:
    return {name: _pkg_version(name) for name in ("synthpriv", *_LIBRARIES)}


def publish(ctx: RunContext) -> dict:
    """Write the public report and publish data, report and (last) manifest to the store."""
    spec = ctx.spec
    if not ctx.path(APPROVAL).exists():
        raise BlockedError("approval: no approval decision recorded for this run")
    gates = ctx.read_json(GATES) if ctx.path(GATES).exists() else {}
    missing = {"privacy", "quality"} - set(gates)
    failed = [r for rs in gates.values() for r in rs if not r["passed"]]
    if missing or failed:
        raise BlockedError(f"publish: gates missing ({', '.join(sorted(missing)) or 'none'}) or failed ({len(failed)})")
    reservation = next(e for e in ctx.ledger().summary(spec.publish.dataset)["entries"] if e["run_id"] == ctx.run_id)
    synthetic = pd.read_parquet(ctx.path(SYNTHETIC))
    verdicts = ctx.read_json(SCAN)
    manifest = {
        "epsilon": reservation["epsilon"],
        "delta": reservation["delta"],
        "rho": reservation["rho"],
        "budget_state": reservation["state"],
        "synthesizer": {"name": spec.privacy.synthesizer, "options": spec.privacy.options,
                        "mechanism": reservation["mechanism"]},
        "libraries": _library_versions(),
        "gates": gates,
        "approved_by": ctx.read_json(APPROVAL)["approved_by"],
        "source_fingerprint": ctx.read_json(META)["source_fingerprint"],
        "rows": len(synthetic),
        "columns": list(synthetic.columns),
        "readers": spec.publish.readers,
        "scan": verdicts,
        "spec_name": spec.name,
    }
    html = report.render(spec, synthetic, manifest)
    ctx.path(REPORT).write_text(html, encoding="utf-8")
    published: Published = ctx.store().publish(spec.publish.dataset, ctx.run_id, ctx.path(SYNTHETIC), ctx.path(REPORT), manifest)
    return {"dataset": published.dataset, "version": published.version, "uri": published.uri,
            "epsilon": manifest["epsilon"], "delta": manifest["delta"]}


def cleanup(ctx: RunContext) -> None:
    """Remove the workspace after a successful publish, unless settings keep it."""
    if not ctx.settings.keep_workspace:
        shutil.rmtree(ctx.workspace, ignore_errors=True)


def prune_workspaces(settings: Settings, now: float | None = None) -> list[Path]:
    """Delete failed runs' workspaces older than the retention period; return what went."""
    cutoff = (now if now is not None else time.time()) - settings.workspace_retention_days * 86_400
    removed = []
    for run_dir in settings.workspace_root.glob("*/*"):
        if run_dir.is_dir() and run_dir.stat().st_mtime < cutoff:
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(run_dir)
    return removed


def release_unused_budget(ctx: RunContext) -> None:
    """After a failure: give back a reservation no mechanism used; a spent one stays spent."""
    try:
        ctx.ledger().release(ctx.spec.publish.dataset, ctx.run_id)
    except Exception:  # noqa: BLE001 - never mask the original failure
        log.exception("could not release the reservation of run %s", ctx.run_id)
