"""Marginal error: how far a synthetic table's 1-way and 2-way marginals are from the real one's.

Both tables are discretised with the same public-domain codec, so a synthesizer is not
rewarded or punished for its own binning; the figure is the mean total-variation distance.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from synthpriv.domain import TableCodec


def _tvd(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> float:
    pa = a.groupby(cols).size() / len(a)
    pb = b.groupby(cols).size() / len(b)
    joined = pd.concat([pa, pb], axis=1).fillna(0.0)
    return float(0.5 * np.abs(joined.iloc[:, 0] - joined.iloc[:, 1]).sum())


def mean_tvd(real: pd.DataFrame, synthetic: pd.DataFrame, codec: TableCodec, way: int) -> float:
    """Mean TVD over every `way`-column marginal of the codec's columns."""
    r, _ = codec.encode(real)
    s, _ = codec.encode(synthetic)
    return float(np.mean([_tvd(r, s, list(cols)) for cols in combinations(codec.names, way)]))
