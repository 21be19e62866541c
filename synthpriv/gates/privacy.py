"""The privacy gate: leakage checks on the synthetic table before it can be published.

Foundation metrics: the share of synthetic rows identical to a training row on every
released column (a synthesizer that memorises shows up here), and the share of values
outside the public domain (a bug or a data-derived domain shows up here).
"""

from __future__ import annotations

import pandas as pd
from pandas.util import hash_pandas_object

from synthpriv.domain import TableCodec
from synthpriv.gates import GateResult, errored
from synthpriv.spec import ColumnType, PrivacyGate, ReleaseSpec

GATE = "privacy"


def _canonical(table: pd.DataFrame, spec: ReleaseSpec) -> pd.DataFrame:
    """Released columns in one comparable form: dates as ISO days, numbers as floats, text as str."""
    out = {}
    for col in spec.modelled_columns:
        s = table[col.name]
        if col.type is ColumnType.DATE:
            out[col.name] = pd.to_datetime(s, errors="coerce", format="mixed").dt.strftime("%Y-%m-%d")
        elif col.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            out[col.name] = pd.to_numeric(s, errors="coerce").round(6).astype("string")
        else:
            out[col.name] = s.astype("string").str.strip()
    return pd.DataFrame(out).fillna("<null>")


def exact_match_rate(synthetic: pd.DataFrame, training: pd.DataFrame, spec: ReleaseSpec) -> float:
    """Share of synthetic rows equal to some training row on all released columns."""
    syn = hash_pandas_object(_canonical(synthetic, spec), index=False)
    real = set(hash_pandas_object(_canonical(training, spec), index=False).to_numpy())
    return float(syn.isin(real).mean()) if len(syn) else 0.0


def out_of_domain_rate(synthetic: pd.DataFrame, spec: ReleaseSpec) -> float:
    counts = TableCodec.from_columns(spec.columns).in_domain(synthetic)
    cells = len(synthetic) * max(len(counts), 1)
    return sum(counts.values()) / cells if cells else 0.0


def run(synthetic: pd.DataFrame, training: pd.DataFrame, spec: ReleaseSpec) -> list[GateResult]:
    """Every privacy metric against its threshold; an error in one is a failure of that one."""
    limits: PrivacyGate = spec.gates.privacy
    checks = [
        ("exact_match_rate", lambda: exact_match_rate(synthetic, training, spec), limits.max_exact_match_rate),
        ("out_of_domain_rate", lambda: out_of_domain_rate(synthetic, spec), limits.max_out_of_domain_rate),
    ]
    results = []
    for metric, compute, threshold in checks:
        try:
            value = compute()
        except Exception as exc:  # noqa: BLE001 - any failure must fail the gate, not the run silently
            results.append(errored(GATE, metric, exc))
            continue
        results.append(GateResult(GATE, metric, value <= threshold, round(value, 6), threshold, "at most"))
    return results
