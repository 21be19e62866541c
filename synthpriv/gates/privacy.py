"""The privacy gate: leakage checks on the synthetic table before it can be published.

The share of synthetic rows identical to a training row on every released column (a
synthesizer that memorises shows up here), the share of values outside the public domain (a
bug or a data-derived domain shows up here), a rescan of the release for personal data, and
the canary strings the spec declares. The distance-based metrics live in `leakage`, the
Anonymeter-style attacks in `attacks`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.util import hash_pandas_object

from synthpriv.domain import TableCodec, distinct_text
from synthpriv.gates import GateResult, errored
from synthpriv.scan import scan_table
from synthpriv.spec import ColumnType, PrivacyGate, ReleaseSpec

GATE = "privacy"
_CHUNK_ROWS = 1_000_000
_NULL_TEXT = "<null>"


def _canonical(table: pd.DataFrame, spec: ReleaseSpec) -> pd.DataFrame:
    """Released columns in one comparable form: dates as ISO days, numbers as floats rounded to
    six decimals (an integer 1 and a float 1.0 are the same value), text stripped; a null as
    one value per column.

    Dates and text are parsed once per distinct value and spread back to the rows: per-row
    string work took most of this check's time on a ten-million-row release.
    """
    out = {}
    for col in spec.modelled_columns:
        s = table[col.name]
        if col.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            x = np.round(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan), 6) + 0.0
            out[col.name] = np.where(np.isnan(x), np.nan, x)  # -0.0 is 0.0, and one bit pattern for every null
            continue
        if col.type is ColumnType.DATE:
            positions, distinct = pd.factorize(s)
            days = pd.to_datetime(pd.Series(distinct, dtype=object), errors="coerce", format="mixed")
            text = days.dt.strftime("%Y-%m-%d")
        else:
            positions, text = distinct_text(s)
        out[col.name] = np.append(text.fillna(_NULL_TEXT).to_numpy(dtype=object), _NULL_TEXT)[positions]
    return pd.DataFrame(out, index=table.index)


def _row_hashes(table: pd.DataFrame, spec: ReleaseSpec) -> np.ndarray:
    """One 64-bit hash per row of the canonical form, a million rows at a time: the canonical
    strings of a ten-million-row table at once would take gigabytes."""
    parts = [hash_pandas_object(_canonical(table.iloc[start:start + _CHUNK_ROWS], spec), index=False).to_numpy()
             for start in range(0, len(table), _CHUNK_ROWS)]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def exact_match_rate(synthetic: pd.DataFrame, training: pd.DataFrame, spec: ReleaseSpec) -> float:
    """Share of synthetic rows equal to some training row on all released columns."""
    syn = _row_hashes(synthetic, spec)
    return float(np.isin(syn, _row_hashes(training, spec)).mean()) if len(syn) else 0.0


def out_of_domain_rate(synthetic: pd.DataFrame, spec: ReleaseSpec) -> float:
    counts = TableCodec.from_columns(spec.columns).in_domain(synthetic)
    cells = len(synthetic) * max(len(counts), 1)
    return sum(counts.values()) / cells if cells else 0.0


def pii_columns(synthetic: pd.DataFrame, spec: ReleaseSpec) -> int:
    """Columns of the release that the PII scan, run again, sees as direct identifiers."""
    return sum(
        1 for v in scan_table(synthetic, spec.pii.sample_size, recognizers=spec.pii.declared_recognizers())
        if v.role == "direct_identifier" and v.score >= spec.pii.min_score and v.name not in spec.pii.allow
    )


def distinct_cells(synthetic: pd.DataFrame) -> frozenset[str]:
    """Every distinct cell of the release as text: all a copied identifier value could be."""
    return frozenset().union(*(synthetic[c].astype("string").dropna().unique() for c in synthetic.columns))


def copied_identifier_values(synthetic: pd.DataFrame, identifier_values: frozenset[str]) -> int:
    """Cells of the release equal to a value of one of the source's identifier columns.

    `identifier_values` may be only those source values that are also cells of the release
    (`distinct_cells`): the count is the same, and the source side stays small.
    """
    if not identifier_values:
        return 0
    return sum(int(synthetic[c].astype("string").isin(identifier_values).sum()) for c in synthetic.columns)


def canaries_found(synthetic: pd.DataFrame, canaries: list[str]) -> int:
    """How many of the declared canary strings occur in the release, anywhere inside any cell.

    A canary is a string planted in the source (a made-up name, code or note) that no honest
    release can contain: a category value seen in one record can never appear, since domains
    are public metadata. It still matters because that argument rests on the code being right:
    a bug, a domain mistakenly derived from the data, or a column declared with the canary among
    its categories would let it through, and this check does not depend on any of that.
    """
    if not canaries:
        return 0
    cells = pd.concat([pd.Series(synthetic[c].dropna().unique()).astype("string") for c in synthetic.columns],
                      ignore_index=True)
    return sum(1 for canary in canaries if cells.str.contains(canary, regex=False).any())


def run(
    synthetic: pd.DataFrame, training: pd.DataFrame, spec: ReleaseSpec, identifier_values: frozenset[str] = frozenset(),
) -> list[GateResult]:
    """Every privacy metric against its threshold; an error in one is a failure of that one.

    The rescan checks look at the release for personal data: a column the scan now sees as a direct
    identifier, a cell copied from a source identifier column, or a declared canary string in any
    cell blocks whatever the cause. The detail names how many canaries were found, never which.
    """
    limits: PrivacyGate = spec.gates.privacy
    checks = [
        ("exact_match_rate", lambda: exact_match_rate(synthetic, training, spec), limits.max_exact_match_rate),
        ("out_of_domain_rate", lambda: out_of_domain_rate(synthetic, spec), limits.max_out_of_domain_rate),
        ("pii_columns_on_rescan", lambda: pii_columns(synthetic, spec), 0),
        ("identifier_values_copied", lambda: copied_identifier_values(synthetic, identifier_values), 0),
        ("canaries_found", lambda: canaries_found(synthetic, limits.canaries), 0),
    ]
    results = []
    for metric, compute, threshold in checks:
        try:
            value = compute()
        except Exception as exc:  # noqa: BLE001 - any failure must fail the gate, not the run silently
            results.append(errored(GATE, metric, exc))
            continue
        # significant digits, not decimals: one copied row in ten million must not read as 0
        results.append(GateResult(GATE, metric, value <= threshold, float(f"{value:.6g}"), threshold, "at most"))
    return results
