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
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version as _pkg_version
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from synthpriv import actions, dp_domain, report, review, sample_data, synthesizers, validate
from synthpriv.domain import TableCodec
from synthpriv.errors import BlockedError, InputError
from synthpriv.gates import GateResult
from synthpriv.gates import attacks, leakage
from synthpriv.gates import privacy as privacy_gate
from synthpriv.gates import quality as quality_gate
from synthpriv.ledger import SPENT, Cap, Charge, Ledger
from synthpriv.load import BATCH_ROWS, fingerprint, read_batches
from synthpriv.scan import ColumnVerdict, scan_columns
from synthpriv.settings import Settings
from synthpriv.spec import Column, ReleaseSpec, load_spec
from synthpriv.store import Published, Store, open_store

log = logging.getLogger(__name__)

SOURCE, SCAN, MODEL, SYNTHETIC = "source.parquet", "scan.json", "model.pkl", "synthetic.parquet"
TRAINING, HOLDOUT, CODES = "training.parquet", "holdout.parquet", "training_codes.parquet"
GATES, DOMAIN, APPROVAL, REPORT, META = "gates.json", "domain_report.json", "approval.json", "report.html", "run.json"
REVIEW = "review.html"
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
        return open_store(self.settings.store, self.settings.reader_identity)

    def write_json(self, name: str, obj: object) -> Path:
        p = self.path(name)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, p)
        return p

    def read_json(self, name: str) -> object:
        return json.loads(self.path(name).read_text(encoding="utf-8"))


def _source_batches(ctx: RunContext) -> tuple[Iterator[pa.Table], str | None]:
    """The source as a stream of Arrow batches, and its file's fingerprint (None when generated)."""
    spec = ctx.spec
    if spec.source.sample is not None and not ctx.source_override:
        frames = sample_data.customer_batches(spec.source.rows or 20_000, batch_rows=BATCH_ROWS)
        return (pa.Table.from_pandas(f, preserve_index=False) for f in frames), None
    path = ctx.source_override or spec.source.path
    batches = read_batches(path, spec.source.format)  # fails on a missing file before it is fingerprinted
    return batches, fingerprint(path)


def _copy_source(batches: Iterator[pa.Table], spec: ReleaseSpec, dest: Path) -> list[str]:
    """Stream the source into `dest`, declared columns first, and check its columns and row count.

    Returns the undeclared columns. Column problems are known from the first batch, but the
    rows are still counted so that every problem is reported at once; nothing is written then.
    A column that is empty throughout the first batch is written as text, the only type every
    later batch can be cast to. `dest` appears only once the whole source is in it.
    """
    partial = dest.with_name(dest.name + ".partial")
    names: list[str] | None = None
    rows, writer = 0, None
    try:
        for batch in batches:
            if names is None:
                names = batch.column_names
                bad = bool(validate.column_problems(names, spec))
                declared = [c.name for c in spec.columns]
                order = declared + [n for n in dict.fromkeys(names) if n not in declared]
            rows += batch.num_rows
            if bad:
                continue
            table = batch.select(order)
            if writer is None:
                schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
                writer = pq.ParquetWriter(partial, schema.remove_metadata())
            writer.write_table(table.cast(writer.schema))
        undeclared = validate.check_columns(names or [], rows, spec)
    except BaseException:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(partial, dest)
    return undeclared


def load(ctx: RunContext) -> dict:
    """Stream the source into the workspace after checking its columns against the spec."""
    spec = ctx.spec
    actions.pseudonym_key(spec, ctx.settings.pseudonym_key)
    validate.check_environment(ctx.settings.workspace_root, ctx.settings.store, spec.publish.readers,
                               ctx.settings.reader_identity)
    batches, fp = _source_batches(ctx)
    undeclared = _copy_source(batches, spec, ctx.path(SOURCE))
    if fp is None:
        fp = fingerprint(ctx.path(SOURCE))
    ctx.write_json(META, {"source_fingerprint": fp, "undeclared_columns": undeclared})
    return {"uri": str(ctx.path(SOURCE)), "fingerprint": fp, "columns": len(spec.columns),
            "undeclared": len(undeclared)}


def scan(ctx: RunContext) -> dict:
    """Classify every column; stop on undeclared columns and on released columns that hold PII.

    A policy that pseudonymizes needs its key: a missing or short one stops the run here,
    before the scan reads the source.
    """
    spec = ctx.spec
    actions.pseudonym_key(spec, ctx.settings.pseudonym_key)
    path = ctx.path(SOURCE)
    named = ((name, pd.read_parquet(path, columns=[name])[name]) for name in pq.read_schema(path).names)
    verdicts = scan_columns(named, spec.pii.sample_size, recognizers=spec.pii.declared_recognizers())
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


def protect(ctx: RunContext) -> dict:
    """Check the released columns' values, apply the PII policy, and set the holdout aside.

    Writes the private training copy (modelled columns mapped onto their released, public
    domains), the released spec (the public metadata of exactly what is released, which
    training, sampling and the gates use), `protection.json` (column -> applied action, no
    values) and, for redacted text columns, a redacted copy that stays private and is never
    released.
    """
    spec = ctx.spec
    key = actions.pseudonym_key(spec, ctx.settings.pseudonym_key)
    verdicts = [ColumnVerdict(**v) for v in ctx.read_json(SCAN)]
    protection = actions.protect_columns(spec, verdicts, key, recognizers=spec.pii.declared_recognizers())
    released = pd.read_parquet(ctx.path(SOURCE), columns=[c.name for c in spec.modelled_columns])
    validate.check_values(released, spec)
    table = protection.training_copy(released)
    holdout_rows = np.random.default_rng().permutation(len(table)) < round(len(table) * spec.gates.privacy.holdout_share)
    table[~holdout_rows].to_parquet(ctx.path(TRAINING), index=False)
    table[holdout_rows].to_parquet(ctx.path(HOLDOUT), index=False)
    if protection.redacted:
        source = pd.read_parquet(ctx.path(SOURCE), columns=protection.redacted)
        protection.redacted_copy(source).to_parquet(ctx.path(actions.REDACTED_FILE), index=False)
    ctx.write_json(actions.RELEASED_SPEC_FILE, protection.released_spec.model_dump(mode="json"))
    applied = protection.actions()
    ctx.write_json(actions.PROTECTION_FILE, applied)
    release = [c.name for c in protection.released_spec.columns]
    return {
        "uri": str(ctx.path(TRAINING)), "holdout_uri": str(ctx.path(HOLDOUT)),
        "actions": applied, "released": release, "kept": list(table.columns),
        "dropped": [c.name for c in spec.columns if c.name not in release],
        "notes": [f"{name}: redacted for review, not released" for name in protection.redacted],
    }


def _plan(spec: ReleaseSpec) -> synthesizers.RunPlan:
    """Every mechanism the run will use (DP domain estimation, then the synthesizer) and their total."""
    try:
        return synthesizers.plan(spec)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def reserve(ctx: RunContext) -> dict:
    """Reserve the release's whole spend before any DP mechanism touches the data.

    The amount is what the planned mechanisms declare (estimation plus training), composed,
    so the ledger holds exactly what the run will spend and nothing is assumed.
    """
    spec = ctx.spec
    total = _plan(spec).total
    b = spec.privacy.budget
    r = ctx.ledger().reserve(
        spec.publish.dataset, ctx.run_id,
        Charge(total.epsilon, total.delta, total.mechanism, total.rho),
        Cap(b.epsilon, b.delta, b.renewal_days, b.composition),
    )
    return {"epsilon": r.epsilon, "delta": r.delta, "state": r.state}


def _resolve_domains(ctx: RunContext) -> list[Column]:
    """The released columns' domains, estimating with DP those the spec marks `estimate`.

    Estimation reads the data, so it runs only after the budget is marked spent; it reads
    only the columns being estimated. The resolved domains replace the released spec's, so
    sampling, the gates and the reports all see the same public domain the model was
    fitted on.
    """
    released = actions.read_released_spec(ctx.path(actions.RELEASED_SPEC_FILE))
    present = set(pq.read_schema(ctx.path(TRAINING)).names)
    columns = [c for c in released.modelled_columns if c.name in present]
    estimated = pd.read_parquet(ctx.path(TRAINING), columns=[c.name for c in columns if c.estimated])
    try:
        resolved = dp_domain.resolve(columns, estimated, ctx.spec.privacy.delta)
    except dp_domain.EstimationError as exc:
        raise BlockedError(f"train: {exc}") from None
    if any(c.estimated for c in columns):
        estimated_json = dp_domain.to_json([r for r, c in zip(resolved, columns) if c.estimated])
        ctx.write_json(actions.RELEASED_SPEC_FILE, dp_domain.apply(released, estimated_json).model_dump(mode="json"))
    return resolved


def train(ctx: RunContext) -> dict:
    """Mark the budget spent, resolve the public domain, encode over it, then fit the DP synthesizer.

    The training rows are encoded batch by batch into a private file of codes, which MST
    and AIM read only as streamed marginal counts (`synthpriv.marginals`), so training
    memory depends on the domain, not on the number of rows. The codes file is removed
    once the model is fitted. A retry after the model was saved reuses it: fitting again
    would run the mechanism a second time on the same budget. A retry after a run died
    mid-fit cannot know how far the mechanism got, so it refuses rather than spend again
    unrecorded.
    """
    spec = ctx.spec
    ledger, dataset = ctx.ledger(), spec.publish.dataset
    plan = _plan(spec)
    total = plan.total
    summary = {"uri": str(ctx.path(MODEL)), "epsilon": total.epsilon, "delta": total.delta, "mechanism": total.mechanism}
    reservation = ledger.get(dataset, ctx.run_id)
    if reservation is not None and reservation.state == SPENT:
        if ctx.path(MODEL).exists():
            return summary
        raise BlockedError(
            f"budget: run {ctx.run_id!r} already spent its reservation in a training that did not finish; "
            "start a new run (its spend stays on the ledger)"
        )
    ledger.spend(dataset, ctx.run_id)
    codec = TableCodec.from_columns(_resolve_domains(ctx))
    outside = codec.encode_file(ctx.path(TRAINING), ctx.path(CODES))
    ctx.write_json(DOMAIN, {"out_of_domain_values": outside})
    try:
        plan.synthesizer.fit(pl.scan_parquet(ctx.path(CODES)), codec.cardinalities, codec.ordered_codes)
    except Exception as exc:  # noqa: BLE001 - a library's message may quote data: keep it private
        ctx.path(TRAIN_ERROR).write_text(traceback.format_exc())
        raise BlockedError(
            f"train: the {spec.privacy.synthesizer} synthesizer failed ({type(exc).__name__}); its budget is spent "
            f"and nothing was published; the trace is in the private workspace ({TRAIN_ERROR})"
        ) from None
    finally:
        ctx.path(CODES).unlink(missing_ok=True)
    tmp = ctx.path(MODEL + ".tmp")
    plan.synthesizer.save(str(tmp))
    os.replace(tmp, ctx.path(MODEL))
    return summary


def sample(ctx: RunContext) -> dict:
    """Draw the declared number of rows over the released domains, then add the released identifier columns.

    Rows are drawn, decoded and written a batch at a time, so a release of any size
    samples within a fixed memory. Decoding and shuffling are DP post-processing.
    Identifier columns the policy pseudonymizes or fakes get one fresh token or fake per
    synthetic row, independent of the data; a fake equal to any source identifier value is
    drawn again.
    """
    spec = actions.read_released_spec(ctx.path(actions.RELEASED_SPEC_FILE))
    model = synthesizers.Synthesizer.load(str(ctx.path(MODEL)))
    rng = np.random.default_rng()
    replaced = [c for c in spec.columns if not c.modelled]
    if replaced:
        applied = ctx.read_json(actions.PROTECTION_FILE)
        entities = {v["name"]: v["entity"] for v in ctx.read_json(SCAN)}
        identifiers = _identifier_values(ctx)
    tmp, writer, rows = ctx.path(SYNTHETIC + ".tmp"), None, 0
    try:
        for codes in model.sample_batches(spec.synthesis.rows):
            codec = TableCodec.from_columns([c for c in spec.modelled_columns if c.name in codes.columns])
            table = codec.decode(codes, rng).iloc[rng.permutation(len(codes))].reset_index(drop=True)
            if replaced:
                fresh = actions.replacement_columns(spec, applied, entities, len(table), identifiers)
                table = table.assign(**fresh)[[c.name for c in spec.columns]]
            batch = pa.Table.from_pandas(table, preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, batch.schema)
            writer.write_table(batch.cast(writer.schema))
            rows += len(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, ctx.path(SYNTHETIC))
    return {"uri": str(ctx.path(SYNTHETIC)), "rows": rows}


def _record_gates(ctx: RunContext, gate: str, results: list[GateResult]) -> dict:
    all_results = ctx.read_json(GATES) if ctx.path(GATES).exists() else {}
    all_results[gate] = [r.to_dict() for r in results]
    ctx.write_json(GATES, all_results)
    failed = [r for r in results if not r.passed]
    if failed:
        raise BlockedError(f"{gate} gate failed: " + "; ".join(r.describe() for r in failed))
    return {"gate": gate, "passed": True, "checks": len(results)}


def _identifier_values(ctx: RunContext, among: frozenset[str] | None = None) -> frozenset[str]:
    """The values of the source's identifier columns (declared ones, undeclared ones, and
    released ones the scan flagged but the spec allowed), or only those `among` a set.

    The privacy gate passes the release's distinct cells: only those can have been copied,
    and every identifier value of a ten-million-row source as Python strings would take
    gigabytes. Sampling needs them all, so that no fake equals a real value. The source is
    read a column and a million rows at a time. The spec's declared categories are public
    metadata, not identifiers: without removing them, an allowed categorical column could
    never be released.
    """
    flagged = {v["name"] for v in ctx.read_json(SCAN) if v["role"] == "direct_identifier"}
    declared = {c.name for c in ctx.spec.columns if c.type.value == "identifier"}
    columns = sorted(declared | flagged | set(ctx.read_json(META)["undeclared_columns"]))
    public = {str(v).strip() for c in ctx.spec.columns if isinstance(c.categories, list) for v in c.categories}
    found: set[str] = set()
    source = pq.ParquetFile(ctx.path(SOURCE))
    for column in columns:
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=[column]):
            values = batch.column(0).to_pandas().astype("string").dropna().unique()
            found.update(values if among is None else among.intersection(values))
    return frozenset(found - public)


def check_privacy(ctx: RunContext) -> dict:
    """Leakage checks of the synthetic table against the training rows and the holdout: exact
    copies, domain, PII rescan and canaries; distances; Anonymeter-style attacks.

    Every check reads the released spec: the domains the training copy and the synthetic
    table are actually over, after the PII policy and any DP domain estimation.
    """
    spec = actions.read_released_spec(ctx.path(actions.RELEASED_SPEC_FILE))
    synthetic = pd.read_parquet(ctx.path(SYNTHETIC))
    training, holdout = pd.read_parquet(ctx.path(TRAINING)), pd.read_parquet(ctx.path(HOLDOUT))
    g = spec.gates.privacy
    thresholds = leakage.LeakageThresholds(g.max_dcr_excess, g.min_nndr_mean, g.max_membership_auc)
    copyable = _identifier_values(ctx, privacy_gate.distinct_cells(synthetic))
    results = (privacy_gate.run(synthetic, training, spec, copyable)
               + leakage.run(synthetic, training, holdout, spec, thresholds)
               + attacks.run(synthetic, training, holdout, spec, g))
    return _record_gates(ctx, privacy_gate.GATE, results)


def check_quality(ctx: RunContext) -> dict:
    """The Great Expectations suite and the fidelity metrics, then the approver's private review.

    Both read the released spec (the domains the training copy and the synthetic table are
    over). The review is written before the verdict is recorded, pass or fail, so a blocked
    run still leaves the reviewer the evidence of why.
    """
    spec = actions.read_released_spec(ctx.path(actions.RELEASED_SPEC_FILE))
    synthetic = pd.read_parquet(ctx.path(SYNTHETIC))
    training, holdout = pd.read_parquet(ctx.path(TRAINING)), pd.read_parquet(ctx.path(HOLDOUT))
    results = quality_gate.check(synthetic, training, holdout, spec, quality_gate.load_suite(spec, ctx.spec_path))
    recorded = ctx.read_json(GATES) if ctx.path(GATES).exists() else {}
    gates = {**recorded, quality_gate.GATE: [r.to_dict() for r in results]}
    review_path = review.write(ctx.path(REVIEW), spec, ctx.run_id, training, synthetic, gates)
    try:
        summary = _record_gates(ctx, quality_gate.GATE, results)
    except BlockedError as exc:
        raise BlockedError(f"{exc}; the reviewer's report is review.html in the private workspace") from None
    return {**summary, "review_uri": str(review_path)}


def approve(ctx: RunContext, approver: str | None, *, approved: bool = True) -> dict:
    """Record the reviewer's decision; a spec that requires approval blocks without an approver.

    A rejection (Airflow's approval task passes `approved=False`) is recorded in the private
    workspace as `rejection.json`, any earlier approval of the run is withdrawn, and the run
    blocks: publish refuses a run without `approval.json`, so nothing is published.
    """
    if not approved:
        ctx.path(APPROVAL).unlink(missing_ok=True)
        ctx.write_json("rejection.json", {"rejected_by": approver or "unknown"})
        raise BlockedError(f"approval: the release was rejected by {approver or 'an unknown reviewer'}")
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
    released = actions.read_released_spec(ctx.path(actions.RELEASED_SPEC_FILE))
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
        "protection": ctx.read_json(actions.PROTECTION_FILE),
        "spec_name": spec.name,
    }
    html = report.render(released, synthetic, manifest)
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
