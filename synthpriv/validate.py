"""Check the source against the spec before any budget is reserved.

A scheduled release meets the worst data at 3 a.m.; it must stop in the user's terms
(the column, the rule, the spec field to change) and never echo a value. Every problem is
reported at once. The checks look at the data, so their outcome says one thing about it:
whether it meets its declared schema. They run before any privacy budget is spent.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from synthpriv.access import AccessError
from synthpriv.domain import ColumnCodec
from synthpriv.errors import InputError
from synthpriv.spec import ReleaseSpec
from synthpriv.store import open_store

#: Free space the workspace needs before a run starts, unless SYNTHPRIV_MIN_FREE_MB says otherwise.
DEFAULT_MIN_FREE_MB = 256


def column_problems(names: Sequence[str], spec: ReleaseSpec) -> list[str]:
    """Declared columns against the source's: every one present, none twice."""
    problems = []
    dupes = sorted(n for n, count in Counter(names).items() if count > 1)
    if dupes:
        problems.append(f"source: duplicate column names: {', '.join(dupes)}")
    missing = [c.name for c in spec.columns if c.name not in names]
    if missing:
        problems.append(f"columns: declared but not in the source: {', '.join(missing)}")
    return problems


def check_columns(names: Sequence[str], rows: int, spec: ReleaseSpec) -> list[str]:
    """The source's column names and row count against the spec, every problem at once.

    Returns the source's undeclared columns: whether they stop the run is for the PII scan to
    decide, since one holding personal data deserves a sharper refusal than a typo.
    """
    problems = []
    if rows < spec.source.min_rows:
        problems.append(f"source: fewer rows than source.min_rows ({spec.source.min_rows})")
    problems += column_problems(names, spec)
    if problems:
        raise InputError("; ".join(problems))
    declared = {c.name for c in spec.columns}
    return [n for n in dict.fromkeys(names) if n not in declared]


def check_values(table: pd.DataFrame, spec: ReleaseSpec) -> None:
    """Missing values and out-of-domain shares of every released column."""
    problems = []
    limit = spec.source.max_out_of_domain_rate
    for col in spec.modelled_columns:
        values = table[col.name]
        if not col.nullable and values.isna().any():
            problems.append(f"columns[{col.name}]: has missing values but is not declared nullable (set nullable: true)")
        present = values.notna().sum()
        if present == 0:
            problems.append(f"columns[{col.name}]: has no values at all")
            continue
        if col.estimated:
            continue  # no public domain to check against yet: DP estimation sets it when training
        _, outside = ColumnCodec(col.model_copy(update={"nullable": True})).encode(values)
        share = outside / present
        if share > limit:
            rule = "bounds" if col.bounds is not None else "categories"
            problems.append(
                f"columns[{col.name}]: {share:.1%} of values are outside the declared {rule} or unparsable "
                f"as {col.type.value} (source.max_out_of_domain_rate is {limit:g})"
            )
    if problems:
        raise InputError("; ".join(problems))


def check_environment(
    workspace_root: Path, store: str, readers: Sequence[str] = (), reader_identity: str | None = None
) -> None:
    """The store can be written, every reader team can be granted access, and the workspace has
    room: fail before reading any data, so a typo in a team name never costs privacy budget."""
    problems = []
    try:
        target = open_store(store, reader_identity)
        target.probe()
    except Exception as exc:  # noqa: BLE001 - any failure to write the store stops the run here
        problems.append(f"store: cannot write to {store} ({getattr(exc, 'strerror', None) or type(exc).__name__})")
    else:
        try:
            target.check_readers(list(readers))
        except AccessError as exc:
            problems.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - the server could not be asked: fail closed
            problems.append(f"access: cannot check the reader teams on {store} ({type(exc).__name__})")
    try:
        workspace_root.mkdir(parents=True, exist_ok=True)
        probe = workspace_root / f".synthpriv-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        problems.append(f"workspace: cannot write to {workspace_root} ({exc.strerror or type(exc).__name__})")
    if not problems:
        need = int(os.environ.get("SYNTHPRIV_MIN_FREE_MB", DEFAULT_MIN_FREE_MB))
        free = shutil.disk_usage(workspace_root).free // 2**20
        if free < need:
            problems.append(f"workspace: only {free} MiB free in {workspace_root}; a run needs "
                            f"{need} MiB (SYNTHPRIV_MIN_FREE_MB)")
    if problems:
        raise InputError("; ".join(problems))


def as_input_error(exc: OSError) -> InputError | None:
    """A full disk or a read-only workspace is the environment's fault: say so plainly."""
    if exc.errno == errno.ENOSPC:
        return InputError(f"workspace: the disk is full ({exc.filename or 'while writing'})")
    if exc.errno in (errno.EROFS, errno.EACCES):
        return InputError(f"workspace: cannot write ({exc.strerror}: {exc.filename})")
    return None
