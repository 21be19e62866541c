"""The private review report: what the approver reads before signing a release off.

Unlike the published `report.html`, this page compares the release with the real
training table (distributions, association matrices, principal components, every gate
verdict and fidelity bar), so it is written only into the run's private workspace and
never published. It is drawn from the training table, which holds the released columns
only: identifier and free-text columns were dropped before it was written, and every
figure iterates over the spec's released columns, never over whatever a table holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from synthpriv import fidelity, plots
from synthpriv.gates import uniform_rows
from synthpriv.report import TEMPLATES
from synthpriv.spec import ReleaseSpec


def _coverage(training: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec) -> dict:
    """Per protected attribute, real and synthetic shares of each category (empty when none is named)."""
    g = spec.gates.quality
    try:
        return fidelity.subgroup_coverage(training, synthetic, spec, list(g.protected), g.min_subgroup_ratio)
    except ValueError:  # a bad attribute name already failed its gate result, which says why
        return {}


def render(
    spec: ReleaseSpec,
    run_id: str,
    training: pd.DataFrame,
    synthetic: pd.DataFrame,
    gates: Mapping[str, Sequence[Mapping[str, object]]],
) -> str:
    """The review page as HTML text; `gates` maps each gate to its results (GateResult dicts)."""
    released = [c.name for c in spec.modelled_columns]
    training, synthetic = training[released], synthetic[released]
    results = [r for rs in gates.values() for r in rs]
    # plots and shares come from uniform samples of at most max_rows, as the fidelity metrics do
    rng = np.random.default_rng(0)
    seen, drawn = (uniform_rows(t, spec.gates.quality.max_rows, rng) for t in (training, synthetic))
    return TEMPLATES.get_template("review.html").render(
        spec=spec,
        run_id=run_id,
        rows={"training": len(training), "synthetic": len(synthetic)},
        gates=gates,
        failed=[r for r in results if not r["passed"]],
        warnings=[r for r in results if str(r["detail"]).startswith("warning:")],
        distributions=plots.column_distributions(seen, drawn, spec),
        correlations=plots.correlation_matrices(seen, drawn, spec),
        components=plots.principal_components(seen, drawn, spec),
        coverage=_coverage(seen, drawn, spec),
        missing={c: (float(training[c].isna().mean()), float(synthetic[c].isna().mean())) for c in released},
    )


def write(
    path: Path,
    spec: ReleaseSpec,
    run_id: str,
    training: pd.DataFrame,
    synthetic: pd.DataFrame,
    gates: Mapping[str, Sequence[Mapping[str, object]]],
) -> Path:
    """Render the review and replace `path` atomically, readable by its owner only."""
    html = render(spec, run_id, training, synthetic, gates)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(html)
    os.replace(tmp, path)
    return path
