"""Small, self-contained figures for the HTML reports, as base64 PNG data URIs.

Reports are opened offline and mailed around, so every figure is embedded rather than
linked. The PUBLIC report must not carry real-data statistics: every figure takes
`real=None` to draw the synthetic table alone (principal axes then fitted on the
synthetic table itself). Given a real table, a figure belongs in the private review only.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # headless: no display on the release machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from synthpriv import fidelity  # noqa: E402
from synthpriv.domain import TableCodec, to_number  # noqa: E402
from synthpriv.spec import Column, ColumnType, ReleaseSpec  # noqa: E402

SIZE = (4.0, 3.0)
DPI = 80
_REAL, _SYNTH = "#4c72b0", "#dd8452"


def _uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _shares(table: pd.DataFrame, column: Column) -> np.ndarray:
    """Share of non-null values per value code (bins or categories + 'other'), over the public domain."""
    codec = TableCodec.from_columns([column]).codecs[0]
    codes, _ = codec.encode(table[column.name])
    counts = np.bincount(codes, minlength=codec.size)[: codec.value_codes].astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def _axis(column: Column, codes: int) -> tuple[np.ndarray, list[str] | None, float]:
    """Bar positions (bin centres on the public bounds, or category indices) and tick labels."""
    if column.type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN):
        labels = list(column.categories or []) if column.type is ColumnType.CATEGORICAL else ["false", "true"]
        return np.arange(codes, dtype=float), [*labels, column.other_label], 0.8
    lo, hi = (to_number(b) for b in column.bounds)  # type: ignore[union-attr]
    width = (hi - lo) / codes
    centres = lo + (np.arange(codes) + 0.5) * width
    if column.type is ColumnType.DATE:  # days since epoch -> calendar years
        centres, width = 1970 + centres / 365.25, width / 365.25
    return centres, None, width * 0.9


def column_distributions(real: pd.DataFrame | None, synthetic: pd.DataFrame, spec: ReleaseSpec) -> dict[str, str]:
    """One bar chart per released column on the codec's bins; synthetic only when `real` is None."""
    out: dict[str, str] = {}
    for column in spec.modelled_columns:
        syn = _shares(synthetic, column)
        x, labels, width = _axis(column, len(syn))
        fig, ax = plt.subplots(figsize=SIZE)
        if real is None:
            ax.bar(x, syn, width=width, color=_SYNTH, label="synthetic")
        else:
            ax.bar(x - width / 4, _shares(real, column), width=width / 2, color=_REAL, label="real")
            ax.bar(x + width / 4, syn, width=width / 2, color=_SYNTH, label="synthetic")
        if labels is not None:
            ax.set_xticks(x, labels, rotation=90, fontsize=6 if len(labels) > 12 else 8)
        ax.set_title(column.name, fontsize=9)
        ax.set_ylabel("share of non-null rows", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        out[column.name] = _uri(fig)
    return out


def correlation_matrices(real: pd.DataFrame | None, synthetic: pd.DataFrame, spec: ReleaseSpec) -> str:
    """Real and synthetic association matrices side by side on one colour scale; synthetic alone without `real`."""
    tables = [("synthetic", synthetic)] if real is None else [("real", real), ("synthetic", synthetic)]
    fig, axes = plt.subplots(1, len(tables), figsize=(len(tables) * SIZE[0] + 1, SIZE[1] + 0.5), squeeze=False)
    for ax, (title, table) in zip(axes[0], tables):
        matrix = fidelity.association_matrix(table, spec)
        image = ax.imshow(matrix.to_numpy(), vmin=-1, vmax=1, cmap="coolwarm")
        names = list(matrix.columns)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
        ax.set_yticks(range(len(names)), names if ax is axes[0][0] else [], fontsize=6)
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def principal_components(
    real: pd.DataFrame | None, synthetic: pd.DataFrame, spec: ReleaseSpec, max_points: int = 2000
) -> str:
    """Rows projected on the first two principal axes (a sample of rows per table).

    With `real`, both tables go on the real table's axes, so a shifted or squashed cloud
    shows where the synthetic table departs; without it, the synthetic table's own axes.
    """
    fit = fidelity.fit_pca(synthetic if real is None else real, spec, k=2)
    rng = np.random.default_rng(0)
    tables = [("synthetic", synthetic, _SYNTH)] if real is None else [("real", real, _REAL), ("synthetic", synthetic, _SYNTH)]
    fig, ax = plt.subplots(figsize=SIZE)
    for label, table, colour in tables:
        rows = table.iloc[rng.permutation(len(table))[:max_points]]
        points = fit.project(rows, spec)
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.4, color=colour, label=label)
    ax.set_xlabel(f"PC1 ({fit.explained[0]:.0%})", fontsize=8)
    ax.set_ylabel(f"PC2 ({fit.explained[1]:.0%})", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, markerscale=3)
    return _uri(fig)
