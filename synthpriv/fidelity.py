"""Fidelity: how closely a synthetic table reproduces the real one, as gate results.

Every comparison reads the released (modelled) columns only and discretises both tables
with the same `TableCodec`, whose bins and category sets come from the spec's public
domain: the two tables are therefore compared on identical supports, values outside the
bounds are clipped exactly as the synthesizer saw them, and no bin edge is learned from
either table. These metrics read real data, so their values belong in the private run
report; only the aggregate gate results (never a data value) may be published.

Each metric is a loss (0 = identical) judged against a noise floor measured in the same
run: the mean loss of same-size bootstrap resamples of the real table, i.e. what a
generator that redrew real rows would score. Sampling noise grows as tables shrink, so a
bar of `factor` x floor + `margin` is strict on large tables and lenient on small ones,
where no generator can do better.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from synthpriv.domain import TableCodec, parse_numeric, to_number
from synthpriv.gates import GateResult, errored, uniform_rows
from synthpriv.spec import Column, ColumnType, NUMERIC_TYPES, QualityGate, ReleaseSpec

GATE = "quality"
_CATEGORICAL = {ColumnType.CATEGORICAL, ColumnType.BOOLEAN}
_SEED = 0  # resampling for the noise floor is evaluation, not a privacy mechanism: reproducible verdicts


# --------------------------------------------------------------------------- helpers


def _columns(spec: ReleaseSpec) -> list[Column]:
    return list(spec.modelled_columns)


def _codec(spec: ReleaseSpec) -> TableCodec:
    return TableCodec.from_columns(list(spec.columns))


def _numeric(table: pd.DataFrame, column: Column) -> np.ndarray:
    """Parsed values clipped to the public bounds (NaN where missing), so outliers weigh as the model saw them."""
    lo, hi = (to_number(b) for b in column.bounds)  # type: ignore[union-attr]
    return np.clip(parse_numeric(table[column.name], column.type), lo, hi)


def _categorical(table: pd.DataFrame, column: Column) -> np.ndarray:
    """Category codes as floats, NaN where missing (so nulls drop pairwise like numeric NaNs)."""
    codes, missing, _ = _codec_for(column).codecs[0].encode_categorical(table[column.name])
    out = codes.astype(np.float64)
    out[missing] = np.nan
    return out


def _codec_for(column: Column) -> TableCodec:
    return TableCodec.from_columns([column])


def _values(table: pd.DataFrame, column: Column) -> np.ndarray:
    return _categorical(table, column) if column.type in _CATEGORICAL else _numeric(table, column)


def _tvd(a: np.ndarray, b: np.ndarray, size: int) -> float:
    """Total variation distance of two code vectors over a known code space of `size` codes."""
    p = np.bincount(a, minlength=size) / max(len(a), 1)
    q = np.bincount(b, minlength=size) / max(len(b), 1)
    return float(0.5 * np.abs(p - q).sum())


# --------------------------------------------------------------------------- 1. marginals


def _column_tvds(real: np.ndarray, other: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """TVD per column between two (rows x columns) code matrices."""
    return np.array([_tvd(real[:, j], other[:, j], size) for j, size in enumerate(sizes)])


def field_distribution_stability(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec) -> dict[str, float]:
    """Per column, 1 - TVD between the binned real and synthetic distributions (1 = identical).

    Nulls have their own code in nullable columns, so a synthesizer that gets the missing
    rate wrong is penalised like one that gets any other bin wrong.
    """
    codec = _codec(spec)
    r, s = codec.encode(real)[0].to_numpy(), codec.encode(synthetic)[0].to_numpy()
    return dict(zip(codec.names, 1.0 - _column_tvds(r, s, codec.cardinalities)))


# --------------------------------------------------------------------------- 2. associations


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013): sqrt(phi2~ / min(k~-1, r~-1)), in [0, 1]."""
    n = len(x)
    if n < 3:
        return 0.0
    table = _contingency(x, y)
    r, k = table.shape
    if r < 2 or k < 2:
        return 0.0
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    phi2 = float(((table - expected) ** 2 / expected).sum() / n)
    phi2c = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denom = min(kc - 1, rc - 1)
    return float(np.sqrt(phi2c / denom)) if denom > 0 else 0.0


def _contingency(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Counts of every observed (x, y) pair; levels that never occur get no row or column."""
    xi, yi = np.unique(x, return_inverse=True)[1], np.unique(y, return_inverse=True)[1]
    r, k = int(xi.max()) + 1, int(yi.max()) + 1
    return np.bincount(xi * k + yi, minlength=r * k).reshape(r, k).astype(np.float64)


def _eta(categories: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio: sqrt(between-group sum of squares / total sum of squares), in [0, 1]."""
    total = float(((values - values.mean()) ** 2).sum())
    if len(values) < 3 or total == 0:
        return 0.0
    groups = np.unique(categories, return_inverse=True)[1]
    counts = np.bincount(groups)
    means = np.bincount(groups, weights=values) / counts
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(min(1.0, between / total)))


def _association(a: Column, x: np.ndarray, b: Column, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    a_cat, b_cat = a.type in _CATEGORICAL, b.type in _CATEGORICAL
    if a_cat and b_cat:
        return _cramers_v(x, y)
    if a_cat:
        return _eta(x, y)
    if b_cat:
        return _eta(y, x)
    return _pearson(x, y)


def _association_array(values: np.ndarray, cols: Sequence[Column]) -> np.ndarray:
    """Association matrix of a (rows x columns) value matrix; see `association_matrix`."""
    out = np.eye(len(cols))
    for (i, a), (j, b) in itertools.combinations(enumerate(cols), 2):
        out[i, j] = out[j, i] = _association(a, values[:, i], b, values[:, j])
    return out


def association_matrix(table: pd.DataFrame, spec: ReleaseSpec) -> pd.DataFrame:
    """Pairwise association of the released columns, with the measure that fits each pair's types.

    Pearson r for numeric pairs (dates as days), bias-corrected Cramér's V for categorical
    pairs, the correlation ratio eta for mixed pairs; rows with a null in either column are
    dropped pairwise. Pearson is signed in [-1, 1]; the other two lie in [0, 1].
    """
    cols = _columns(spec)
    names = [c.name for c in cols]
    values = np.column_stack([_values(table, c) for c in cols])
    return pd.DataFrame(_association_array(values, cols), index=names, columns=names)


def _correlation_loss(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |A_real - A_synth| over the off-diagonal entries of two association matrices."""
    off = ~np.eye(len(a), dtype=bool)
    return float(np.abs(a - b)[off].mean()) if off.any() else 0.0


def field_correlation_stability(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec) -> float:
    """1 - mean |A_real - A_synth| over the off-diagonal entries of the two association matrices."""
    a, b = association_matrix(real, spec).to_numpy(), association_matrix(synthetic, spec).to_numpy()
    return 1.0 - _correlation_loss(a, b)


# --------------------------------------------------------------------------- 3. deep structure


def _fill(real: pd.DataFrame, spec: ReleaseSpec) -> dict[str, float]:
    """Imputation value per numeric column: the real table's mean on the [0, 1] bounds scale."""
    fill: dict[str, float] = {}
    for col in _columns(spec):
        if col.type in NUMERIC_TYPES:
            lo, hi = (to_number(b) for b in col.bounds)  # type: ignore[union-attr]
            scaled = (_numeric(real, col) - lo) / (hi - lo)
            fill[col.name] = float(np.nanmean(scaled)) if np.isfinite(scaled).any() else 0.5
    return fill


def design_matrix(table: pd.DataFrame, spec: ReleaseSpec, fill: dict[str, float] | None = None) -> np.ndarray:
    """Numeric columns scaled to [0, 1] by their public bounds, categoricals one-hot over the codec's codes.

    Missing numerics are imputed with `fill` (the real table's mean on the same scale) and,
    for nullable columns, flagged in an indicator column; nulls of a nullable categorical
    have their own code and so their own one-hot column.
    """
    parts: list[np.ndarray] = []
    for col in _columns(spec):
        codec = _codec_for(col).codecs[0]
        if col.type in _CATEGORICAL:
            codes, _ = codec.encode(table[col.name])
            parts.append(np.eye(codec.size)[codes])
            continue
        lo, hi = (to_number(b) for b in col.bounds)  # type: ignore[union-attr]
        scaled = (_numeric(table, col) - lo) / (hi - lo)
        missing = np.isnan(scaled)
        default = (fill or {}).get(col.name, 0.5)
        parts.append(np.where(missing, default, scaled)[:, None])
        if col.nullable:
            parts.append(missing.astype(np.float64)[:, None])
    return np.hstack(parts)


@dataclass(frozen=True)
class PCAFit:
    """Principal axes of the real design matrix: `axes` rows are unit vectors, descending variance."""

    mean: np.ndarray
    axes: np.ndarray
    explained: np.ndarray  # explained-variance ratio of each axis on the real table
    fill: dict[str, float]

    def project(self, table: pd.DataFrame, spec: ReleaseSpec) -> np.ndarray:
        return (design_matrix(table, spec, self.fill) - self.mean) @ self.axes.T

    def captured(self, design: np.ndarray) -> np.ndarray:
        """Share of a design matrix's total variance that each of these axes captures."""
        centred = design - design.mean(axis=0)
        total = float(centred.var(axis=0, ddof=1).sum()) or 1.0
        return (centred @ self.axes.T).var(axis=0, ddof=1) / total


def _fit_design(x: np.ndarray, k: int, fill: dict[str, float]) -> PCAFit:
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1][:k]
    total = float(np.trace(cov)) or 1.0
    return PCAFit(mean, eigvec[:, order].T, eigval[order] / total, fill)


def fit_pca(real: pd.DataFrame, spec: ReleaseSpec, k: int = 5) -> PCAFit:
    """Eigen-decomposition of the real design matrix's covariance (PCA close to the math)."""
    fill = _fill(real, spec)
    return _fit_design(design_matrix(real, spec, fill), k, fill)


def _deep_loss(fit: PCAFit, design: np.ndarray) -> float:
    return float(np.abs(fit.explained - fit.captured(design)).sum() / max(fit.explained.sum(), 1e-12))


def deep_structure_stability(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec, k: int = 5) -> float:
    """1 - relative L1 difference of the variance the real top-k principal axes capture in each table.

    Both tables are projected on the axes fitted to the real table, and for each axis we
    compare the share of total variance it captures: r_i on real, s_i on synthetic. The
    score is 1 - sum|r_i - s_i| / sum r_i. We compare variance shares on *fixed* real axes
    rather than cosines between separately fitted axes because near-equal eigenvalues
    make fitted axes rotate freely under sampling noise, while captured variance is stable;
    normalising by sum r_i keeps the score sensitive when each ratio is small.
    """
    fit = fit_pca(real, spec, k)
    return 1.0 - _deep_loss(fit, design_matrix(synthetic, spec, fit.fill))


# --------------------------------------------------------------------------- 4. k-way marginals


def _marginal_error(real: np.ndarray, other: np.ndarray, sizes: Sequence[int], way: int) -> float:
    errors = []
    for combo in itertools.combinations(range(len(sizes)), way):
        dims = [sizes[j] for j in combo]
        flat_r = np.ravel_multi_index(tuple(real[:, j] for j in combo), dims)
        flat_o = np.ravel_multi_index(tuple(other[:, j] for j in combo), dims)
        errors.append(_tvd(flat_r, flat_o, int(np.prod(dims))))
    return float(np.mean(errors)) if errors else 0.0


def marginal_error(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec, way: int) -> float:
    """Mean TVD over every `way`-column marginal of the codec codes (the workload MST-style models fit)."""
    codec = _codec(spec)
    r, s = codec.encode(real)[0].to_numpy(), codec.encode(synthetic)[0].to_numpy()
    return _marginal_error(r, s, codec.cardinalities, way)


# --------------------------------------------------------------------------- 5. TSTR


def _fit_score(train: pd.DataFrame, test: pd.DataFrame, features: list[str], target: str, categorical: list[bool]) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    y_train, y_test = train[target].to_numpy(), test[target].to_numpy()
    if len(np.unique(y_train)) < 2:  # a one-class training set can only predict that class
        return float((y_test == y_train[0]).mean())
    model = HistGradientBoostingClassifier(
        categorical_features=np.array(categorical), max_iter=100, early_stopping=False, random_state=0
    )
    # one thread: OpenMP over-subscription on shared cores costs far more than it saves here
    with threadpool_limits(limits=1):
        model.fit(train[features].to_numpy(), y_train)
        return float(model.score(test[features].to_numpy(), y_test))


def _check_target(spec: ReleaseSpec, target: str) -> None:
    cols = {c.name: c for c in _columns(spec)}
    if target not in cols or cols[target].type not in _CATEGORICAL:
        raise ValueError(f"the TSTR target '{target}' is not a released categorical or boolean column")


def tstr(
    real_train: pd.DataFrame, real_test: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec, target: str
) -> dict[str, float]:
    """Train-on-synthetic/test-on-real accuracy against train-on-real/test-on-real.

    Features and target are codec codes, so all three tables share one encoding;
    categorical features are declared as such to the gradient-boosted trees and binned
    numerics are kept ordinal. `gap` > 0 is the utility lost by training on synthetic data.
    """
    _check_target(spec, target)
    cols = {c.name: c for c in _columns(spec)}
    codec = _codec(spec)
    train, test, syn = (codec.encode(t)[0] for t in (real_train, real_test, synthetic))
    features = [n for n in codec.names if n != target]
    categorical = [cols[n].type in _CATEGORICAL for n in features]
    acc_tstr = _fit_score(syn, test, features, target, categorical)
    acc_trtr = _fit_score(train, test, features, target, categorical)
    return {"tstr": acc_tstr, "trtr": acc_trtr, "gap": acc_trtr - acc_tstr}


# --------------------------------------------------------------------------- 6. readiness


def readiness(real: pd.DataFrame, spec: ReleaseSpec, synthetic_rows: int, gate: QualityGate | None = None) -> list[GateResult]:
    """Is there enough real data for the model and these metrics to mean something?

    Missing share per column and the synthetic row count are advisories (they pass, with a
    warning in `detail`): a mostly empty nullable column or a small release is legitimate,
    but the reviewer should know its fidelity numbers rest on few rows. Fewer training rows
    than `min_training_rows` fails: below it every noise floor swamps the structure the
    metrics look for. The source's row count and missing shares are statistics of the real
    table that gate results (published in the manifest) must not carry, so these results
    state only which side of their bar the table is on; the private review shows the numbers.
    """
    g = gate or QualityGate()
    results = []
    for col in _columns(spec):
        share = float(real[col.name].isna().mean()) if len(real) else 0.0
        detail = (f"warning: more than {g.warn_missing_share:.0%} missing, its marginals and associations rest "
                  "on few rows" if share > g.warn_missing_share else "")
        results.append(GateResult(GATE, f"missing_share[{col.name}]", True, None, g.warn_missing_share, detail))
    enough = len(real) >= g.min_training_rows
    results.append(GateResult(GATE, "rows_available", enough, None, float(g.min_training_rows),
                              f"{'at least' if enough else 'fewer than'} {g.min_training_rows:,} training rows"))
    few = synthetic_rows < g.warn_synthetic_rows
    results.append(GateResult(
        GATE, "synthetic_rows", True, float(synthetic_rows), float(g.warn_synthetic_rows),
        f"warning: fewer than {g.warn_synthetic_rows:,} rows asked; sampling noise blurs rare categories and the "
        "fidelity scores" if few else ""))
    return results


# --------------------------------------------------------------------------- 7. subgroups


def subgroup_coverage(
    real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec, columns: list[str], min_ratio: float = 0.2
) -> dict[str, Any]:
    """Per protected attribute and declared category: real share, synthetic share, their ratio.

    A category present in the real table whose synthetic share is below `min_ratio` times
    its real share is flagged as (nearly) erased: models trained on the release would
    under-serve that group. Returns {column: {"categories": {cat: {...}}, "flagged": [cats]}}.
    """
    cols = {c.name: c for c in _columns(spec)}
    out: dict[str, Any] = {}
    for name in columns:
        col = cols.get(name)
        if col is None or col.type not in _CATEGORICAL:
            raise ValueError(f"protected attribute '{name}' is not a released categorical column")
        labels = list(col.categories or []) if col.type is ColumnType.CATEGORICAL else ["false", "true"]
        r = _categorical(real, col)
        s = _categorical(synthetic, col)
        cats: dict[str, dict[str, float | bool | None]] = {}
        for i, label in enumerate(labels):
            rs = float((r == i).mean()) if len(r) else 0.0
            ss = float((s == i).mean()) if len(s) else 0.0
            ratio = ss / rs if rs > 0 else None
            cats[label] = {"real": rs, "synthetic": ss, "ratio": ratio, "flagged": ratio is not None and ratio < min_ratio}
        out[name] = {"categories": cats, "flagged": [c for c, v in cats.items() if v["flagged"]]}
    return out


# --------------------------------------------------------------------------- 8. noise floor


@dataclass(frozen=True)
class Profile:
    """A table encoded once for every metric; a bootstrap resample is a row selection of it."""

    codes: np.ndarray  # rows x columns, codec codes over the public domain
    values: np.ndarray  # rows x columns, association inputs (clipped numbers, category codes, NaN)
    design: np.ndarray  # rows x features, the PCA design matrix

    @classmethod
    def of(cls, table: pd.DataFrame, spec: ReleaseSpec, fill: dict[str, float]) -> Profile:
        cols = _columns(spec)
        return cls(
            _codec(spec).encode(table)[0].to_numpy(),
            np.column_stack([_values(table, c) for c in cols]),
            design_matrix(table, spec, fill),
        )

    def take(self, rows: np.ndarray) -> Profile:
        return Profile(self.codes[rows], self.values[rows], self.design[rows])


@dataclass(frozen=True)
class Losses:
    """Every fidelity loss of one table against the real one (0 = identical)."""

    columns: np.ndarray  # TVD per column
    correlation: float
    deep: float
    two_way: float
    three_way: float


@dataclass(frozen=True)
class Comparison:
    """The real table prepared once, to score the synthetic table and the real table's own resamples."""

    spec: ReleaseSpec
    real: Profile
    association: np.ndarray
    pca: PCAFit

    @classmethod
    def of(cls, real: pd.DataFrame, spec: ReleaseSpec, k: int) -> Comparison:
        fill = _fill(real, spec)
        profile = Profile.of(real, spec, fill)
        return cls(spec, profile, _association_array(profile.values, _columns(spec)),
                   _fit_design(profile.design, k, fill))

    def losses(self, other: Profile) -> Losses:
        sizes = _codec(self.spec).cardinalities
        return Losses(
            _column_tvds(self.real.codes, other.codes, sizes),
            _correlation_loss(self.association, _association_array(other.values, _columns(self.spec))),
            _deep_loss(self.pca, other.design),
            _marginal_error(self.real.codes, other.codes, sizes, 2),
            _marginal_error(self.real.codes, other.codes, sizes, 3),
        )

    def floor(self, rows: int, draws: int) -> Losses:
        """Mean losses of `draws` bootstrap resamples of `rows` real rows: the sampling-noise floor."""
        rng = np.random.default_rng(_SEED)
        n = len(self.real.codes)
        samples = [self.losses(self.real.take(rng.integers(0, n, rows))) for _ in range(draws)]
        return Losses(
            np.mean([s.columns for s in samples], axis=0),
            *(float(np.mean([getattr(s, f) for s in samples])) for f in ("correlation", "deep", "two_way", "three_way")),
        )


# --------------------------------------------------------------------------- 9. gates


def _bar(floor: float, tolerance: QualityGate.Tolerance) -> float:
    return tolerance.factor * max(floor, 0.0) + tolerance.margin


def _explain(floor: float, tolerance: QualityGate.Tolerance, extra: str = "") -> str:
    text = f"noise floor {floor:.4f}; bar = {tolerance.factor:g} x floor + {tolerance.margin:g}"
    return f"{extra}; {text}" if extra else text


def _judge(metric: str, loss: float, floor: float, tolerance: QualityGate.Tolerance, stability: bool,
           extra: str = "") -> GateResult:
    """A loss against its bar; stability metrics are reported as 1 - loss against 1 - bar."""
    if not np.isfinite(loss) or not np.isfinite(floor):
        raise ValueError("metric is not finite")
    bar = _bar(floor, tolerance)
    value, threshold = (1.0 - loss, 1.0 - bar) if stability else (loss, bar)
    return GateResult(GATE, metric, bool(loss <= bar), float(value), float(threshold), _explain(floor, tolerance, extra))


def _guard(metrics: Sequence[str], compute: Callable[[], list[GateResult]]) -> list[GateResult]:
    """Fail closed: a computation that raises fails every metric it was to produce."""
    try:
        return compute()
    except Exception as exc:  # noqa: BLE001 - an erroring metric is a failed metric
        return [errored(GATE, m, exc) for m in metrics]


def run(real: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec) -> list[GateResult]:
    """Every fidelity metric as a "quality" gate result, judged against this run's noise floor.

    `real` is the training table the synthesizer saw, `holdout` the rows set aside before
    training (the TSTR test set). Past `max_rows` each table is measured on a uniform sample
    of that many rows, and the noise floors are drawn at the sample's size, so every bar keeps
    its meaning. An exception fails only the metrics it touches. Details
    name columns (public metadata) and aggregates, never data values.
    """
    g = spec.gates.quality
    names = [c.name for c in _columns(spec)]
    results = _guard(["readiness"], lambda: readiness(real, spec, len(synthetic), g))
    rng = np.random.default_rng(_SEED)
    real, holdout, synthetic = (uniform_rows(t, g.max_rows, rng) for t in (real, holdout, synthetic))
    per_field = [f"field_distribution_stability[{n}]" for n in names]
    structural = per_field + [
        "field_correlation_stability", "deep_structure_stability", "two_way_marginal_error", "three_way_marginal_error"]

    def fidelity() -> list[GateResult]:
        comparison = Comparison.of(real, spec, g.pca_components)
        fill = comparison.pca.fill
        got = comparison.losses(Profile.of(synthetic, spec, fill))
        floor = comparison.floor(len(synthetic), g.noise_draws)
        per_column = [
            _judge(metric, float(loss), float(fl), g.field_distribution, True)
            for metric, loss, fl in zip(per_field, got.columns, floor.columns, strict=True)
        ]
        return per_column + [
            _judge("field_correlation_stability", got.correlation, floor.correlation, g.field_correlation, True),
            _judge("deep_structure_stability", got.deep, floor.deep, g.deep_structure, True,
                   f"top {g.pca_components} axes"),
            _judge("two_way_marginal_error", got.two_way, floor.two_way, g.two_way_marginals, False),
            _judge("three_way_marginal_error", got.three_way, floor.three_way, g.three_way_marginals, False),
        ]

    results += _guard(structural, fidelity)
    if g.target is not None:
        results += _guard(["tstr_gap"], lambda: [_tstr_result(real, holdout, synthetic, spec, g)])
    for name in g.protected:
        results += _guard([f"subgroup_coverage[{name}]"], lambda name=name: [_coverage_result(real, synthetic, spec, name, g)])
    return results


def _tstr_result(real: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec,
                 g: QualityGate) -> GateResult:
    """TSTR gap on the holdout; its floor is the gap of one same-size bootstrap of the training rows."""
    target = g.target
    assert target is not None
    res = tstr(real, holdout, synthetic, spec, target)
    rows = np.random.default_rng(_SEED).integers(0, len(real), len(synthetic))
    floor = tstr(real, holdout, real.iloc[rows], spec, target)["gap"]
    extra = f"target '{target}': tstr {res['tstr']:.3f}, trtr {res['trtr']:.3f} on the holdout"
    return _judge("tstr_gap", res["gap"], floor, g.tstr_gap, False, extra)


def _coverage_result(real: pd.DataFrame, synthetic: pd.DataFrame, spec: ReleaseSpec, name: str,
                     g: QualityGate) -> GateResult:
    cats = subgroup_coverage(real, synthetic, spec, [name], g.min_subgroup_ratio)[name]
    ratios = [v["ratio"] for v in cats["categories"].values() if v["ratio"] is not None]
    flagged = cats["flagged"]
    detail = f"under-represented: {', '.join(flagged)}" if flagged else "every category keeps its share"
    value = min(ratios) if ratios else 1.0
    return GateResult(GATE, f"subgroup_coverage[{name}]", value >= g.min_subgroup_ratio, float(value),
                      g.min_subgroup_ratio, detail)
