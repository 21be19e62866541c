"""The public release report: one self-contained HTML file, readable offline.

It is published next to the data, so it shows only what is safe to publish: the
synthetic table's own statistics, the gate verdicts, epsilon and delta, and the scan's
column verdicts (entity, role, score) without any value from the real table. Its plots
(per-column distributions, the association matrix, principal components) are drawn from
the synthetic table alone. The private counterpart, which may compare with the real
table, is `synthpriv.review`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from synthpriv import plots
from synthpriv.gates import uniform_rows
from synthpriv.spec import ColumnType, ReleaseSpec

#: The one template environment: every page synthpriv writes comes from `synthpriv/templates`.
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)


def column_summaries(synthetic: pd.DataFrame, spec: ReleaseSpec) -> list[dict]:
    """Per-column statistics of the synthetic table (never of the real one)."""
    rows = []
    for col in spec.modelled_columns:
        if col.name not in synthetic:
            continue
        s = synthetic[col.name]
        entry = {"name": col.name, "type": col.type.value, "null_share": float(s.isna().mean())}
        if col.type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN):
            shares = s.astype("string").value_counts(normalize=True, dropna=True)
            entry["summary"] = ", ".join(f"{k}: {v:.1%}" for k, v in shares.head(8).items())
        else:
            present = pd.to_datetime(s.dropna()) if col.type is ColumnType.DATE else pd.to_numeric(s.dropna())
            if len(present):
                q = present.quantile([0.0, 0.5, 1.0], interpolation="nearest")
                fmt = {ColumnType.DATE: lambda x: x.date().isoformat(), ColumnType.INTEGER: lambda x: f"{x:,.0f}"}.get(
                    col.type, lambda x: f"{x:,.2f}")
                entry["summary"] = f"min {fmt(q.iloc[0])}, median {fmt(q.iloc[1])}, max {fmt(q.iloc[2])}"
            else:
                entry["summary"] = "all null"
        rows.append(entry)
    return rows


def gate_verdicts(gates: dict[str, list[dict]]) -> list[dict]:
    """One line per gate: passed only when every one of its checks passed."""
    return [{"gate": gate, "passed": all(r["passed"] for r in results),
             "checks": len(results), "failed": sum(not r["passed"] for r in results)}
            for gate, results in gates.items()]


def render(spec: ReleaseSpec, synthetic: pd.DataFrame, manifest: dict) -> str:
    """The report as HTML text."""
    gates = [g for results in manifest["gates"].values() for g in results]
    drawn = uniform_rows(synthetic, spec.gates.quality.max_rows, np.random.default_rng(0))  # capped as the review's plots are
    return TEMPLATES.get_template("report.html").render(
        spec=spec, manifest=manifest, gates=gates, verdicts=gate_verdicts(manifest["gates"]),
        columns=column_summaries(synthetic, spec), scan=manifest["scan"],
        plots=plots.column_distributions(None, drawn, spec),
        correlations=plots.correlation_matrices(None, drawn, spec),
        components=plots.principal_components(None, drawn, spec),
    )
