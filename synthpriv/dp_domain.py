"""DP estimation of the parts of a domain the spec marks `estimate`, paid from the release's budget.

A spec should declare every bound and category set as public metadata. Where it cannot,
it may opt in per column (`bounds: estimate` or `categories: estimate`, with an
`estimate_epsilon`), and this module finds them with OpenDP mechanisms instead of the
data-derived inference smartnoise-synth would otherwise do for free:

* bounds: two DP quantiles (the 5th and 95th percentile, OpenDP's
  `make_private_quantile`, an exponential mechanism over a data-independent grid of
  candidates), each spending half of the column's epsilon, then widened by a tenth of
  their distance on each side (post-processing). Extreme percentiles would be cheaper to
  clip at but are far noisier: the mechanism separates the true quantile from the grid's
  empty tail only when rows * share * epsilon / 4 is well above log(#candidates), and the
  share is 5% here, not 1%;
* categories: DP key discovery (OpenDP's `make_count_by` then `make_laplace_threshold`):
  a value is kept only if its noisy count clears a threshold set so that a value held by
  one record is released with probability at most the column's delta.

Each mechanism declares its spend (`estimation_spends`) before any data is read, so the
run can reserve exactly what it will use. The code space size stays public: an estimated
numeric column keeps its declared (or default) bin count, and only the bin edges move.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import lru_cache

import numpy as np
import opendp.prelude as dp
import pandas as pd

from synthpriv.accounting import Spend, pure
from synthpriv.domain import parse_numeric
from synthpriv.spec import Column, ColumnType, ReleaseSpec

dp.enable_features("contrib", "floating-point")

#: The quantiles an estimated range is built on, and how far it is widened past them on each
#: side (a share of their distance); values beyond are clipped like any outlier.
LOWER_QUANTILE, UPPER_QUANTILE = 0.05, 0.95
WIDEN = 0.1
#: Share of the release's delta that key discovery may use, split evenly over its columns.
KEY_DISCOVERY_DELTA_SHARE = 0.5
#: At most this many discovered categories are kept (the most frequent, by noisy count).
MAX_ESTIMATED_CATEGORIES = 100
_EPOCH = dt.date(1970, 1, 1)


class EstimationError(ValueError):
    """A DP estimate found nothing usable; the message names the column, never a value."""


def _numeric_candidates() -> list[float]:
    """A data-independent grid: 0 and +-m * 10^k for a few mantissas, 10^-2 to 7 * 10^9."""
    mantissas = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    positive = sorted({round(m * 10.0**k, 6) for k in range(-2, 10) for m in mantissas})
    return [-x for x in reversed(positive)] + [0.0] + positive


def _date_candidates() -> list[float]:
    """Every first of the month from 1900 to 2100, as days since the epoch."""
    return [float((dt.date(y, m, 1) - _EPOCH).days) for y in range(1900, 2101) for m in range(1, 13)]


def _candidates(kind: ColumnType) -> list[float]:
    return _date_candidates() if kind is ColumnType.DATE else _numeric_candidates()


def _quantile(candidates: tuple[float, ...], alpha: float, epsilon: float) -> dp.Measurement:
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))

    def make(scale: float) -> dp.Measurement:
        return dp.m.make_private_quantile(domain, dp.symmetric_distance(), dp.max_divergence(),
                                          candidates=list(candidates), alpha=alpha, scale=scale)

    return make(dp.binary_search_param(make, d_in=1, d_out=epsilon))


@lru_cache(maxsize=64)
def _key_discovery(epsilon: float, delta: float) -> dp.Measurement:
    counts = dp.t.make_count_by(dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance(), TV=int)
    scale = 1.0 / epsilon  # one record changes one key's count by one
    threshold = dp.binary_search(lambda t: (counts >> dp.m.then_laplace_threshold(scale, t)).map(1)[1] <= delta,
                                 bounds=(1, 2**31 - 1))
    return counts >> dp.m.then_laplace_threshold(scale, threshold)


def count_measurement(epsilon: float) -> dp.Measurement:
    """A row count with discrete Laplace noise: one record moves the count by one."""
    return dp.m.make_laplace(dp.atom_domain(T=int), dp.absolute_distance(T=int), 1.0 / epsilon)


def noisy_count(rows: int, epsilon: float) -> tuple[int, Spend]:
    """The number of rows, epsilon-DP, and the spend the measurement itself declares."""
    m = count_measurement(epsilon)
    return int(m(int(rows))), pure(float(m.map(1)), "OpenDP discrete Laplace row count")


def key_discovery_delta(columns: list[Column], delta: float) -> float:
    """The delta each key-discovery column may use, out of the release's `delta`."""
    n = sum(1 for c in columns if c.categories == "estimate")
    return KEY_DISCOVERY_DELTA_SHARE * delta / n if n else 0.0


def estimation_spends(columns: list[Column], delta: float) -> list[Spend]:
    """What estimating every `estimate` domain among `columns` costs, declared before any data is read."""
    spends = []
    per_column_delta = key_discovery_delta(columns, delta)
    for c in columns:
        if c.bounds == "estimate":
            eps = c.estimate_epsilon / 2
            cands = tuple(_candidates(c.type))
            total = sum(_quantile(cands, a, eps).map(1) for a in (LOWER_QUANTILE, UPPER_QUANTILE))
            spends.append(pure(float(total), f"OpenDP DP quantiles for the bounds of {c.name}"))
        elif c.categories == "estimate":
            eps_, delta_ = _key_discovery(c.estimate_epsilon, per_column_delta).map(1)
            spends.append(Spend(float(eps_), float(delta_), f"OpenDP key discovery for the categories of {c.name}"))
    return spends


def _estimate_bounds(column: Column, values: pd.Series) -> Column:
    nums = parse_numeric(values, column.type)
    nums = nums[~np.isnan(nums)].tolist()  # dropping missing values is a row-wise, 1-stable map
    cands = tuple(_candidates(column.type))
    eps = column.estimate_epsilon / 2
    lo = float(_quantile(cands, LOWER_QUANTILE, eps)(nums))
    hi = float(_quantile(cands, UPPER_QUANTILE, eps)(nums))
    if hi <= lo:  # post-processing: widen to the next candidate so the range is never empty
        hi = next((c for c in cands if c > lo), lo + 1.0)
    lo, hi = lo - WIDEN * (hi - lo), hi + WIDEN * (hi - lo)
    if column.type is ColumnType.DATE:
        bounds: tuple = (_EPOCH + dt.timedelta(days=int(lo)), _EPOCH + dt.timedelta(days=int(math.ceil(hi))))
    elif column.type is ColumnType.INTEGER:
        bounds = (float(math.floor(lo)), float(math.ceil(hi)))
    else:
        bounds = (lo, hi)
    return column.model_copy(update={"bounds": bounds, "bins": column.bin_count, "estimate_epsilon": None})


def _estimate_categories(column: Column, values: pd.Series, delta: float) -> Column:
    text = values.dropna().astype("string").str.strip().astype(str).tolist()
    released = _key_discovery(column.estimate_epsilon, delta)(text)
    keys = [k for k, _ in sorted(released.items(), key=lambda kv: -kv[1]) if k != column.other_label]
    if not keys:
        raise EstimationError(
            f"columns[{column.name}]: DP key discovery found no category frequent enough to release; "
            "declare its categories, or give it a larger estimate_epsilon"
        )
    return column.model_copy(update={"categories": sorted(keys[:MAX_ESTIMATED_CATEGORIES]), "estimate_epsilon": None})


def resolve(columns: list[Column], table: pd.DataFrame, delta: float) -> list[Column]:
    """Run the estimation mechanisms on `table`; return the columns with concrete domains.

    Call this only after the run's ledger entry is marked spent: these mechanisms read the
    data, and `estimation_spends(columns, delta)` is what they cost.
    """
    per_column_delta = key_discovery_delta(columns, delta)
    out = []
    for c in columns:
        if c.bounds == "estimate":
            c = _estimate_bounds(c, table[c.name])
        elif c.categories == "estimate":
            c = _estimate_categories(c, table[c.name], per_column_delta)
        out.append(c)
    return out


def to_json(columns: list[Column]) -> str:
    """The resolved domains, for the run's private workspace (they are DP outputs, safe to publish)."""
    return json.dumps([c.model_dump(mode="json") for c in columns])


def apply(spec: ReleaseSpec, resolved: str) -> ReleaseSpec:
    """The spec with its estimated columns replaced by the resolved ones from `to_json`."""
    by_name = {c.name: c for c in (Column.model_validate(d) for d in json.loads(resolved))}
    return spec.model_copy(update={"columns": [by_name.get(c.name, c) for c in spec.columns]})
