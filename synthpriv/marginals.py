"""Marginal counts over integer codes, computed by Polars' streaming engine.

MST and AIM touch the data only through marginal counts: for each clique of columns, how
many rows hold each combination of codes. Computing those with a group-by over a Polars
LazyFrame (a scan of the codes' parquet file, or an in-memory frame) keeps the training
rows out of memory: Polars' streaming engine reads the file in morsels and holds only the
groups, at most one per cell of the declared domain. That is what lets a 10-million-row
table train in a few hundred megabytes (`make bench` measures it).

`Marginals` offers the slice of mbi's `Dataset` API the mechanisms use (`domain`,
`project(cols).datavector()`), plus merged domains (MST's compression, AIM's runs of
ordered bins), which map codes by a public mapping applied to the counts rather than by
rewriting the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from mbi import Domain

_CACHE_CELLS = 1 << 20  # cache a clique's counts up to 8 MiB; AIM asks for its workload's every round


@dataclass(frozen=True)
class _Projection:
    counts: np.ndarray

    def datavector(self, flatten: bool = True) -> np.ndarray:
        return self.counts.ravel() if flatten else self.counts


class Marginals:
    """Counts of codes per clique over a public domain, without materializing the rows.

    Columns are named `col0..colN-1` (the names the mechanisms' sampling code expects);
    `maps` sends each column's original codes to the codes of a merged domain. `ordered`
    holds, per column, how many of its leading codes are ordered bins of a number or date
    (public, from the spec; 0 for categories).
    """

    def __init__(self, frame: pl.LazyFrame, domain: Domain, maps: dict[str, np.ndarray] | None = None,
                 cache: dict[tuple[str, ...], np.ndarray] | None = None,
                 ordered: dict[str, int] | None = None) -> None:
        self._frame = frame
        self.domain = domain
        self._maps = maps or {}
        self._cache = {} if cache is None else cache  # raw counts, shared with merged views
        self.ordered = ordered or {}

    @classmethod
    def of(cls, codes: pd.DataFrame | pl.LazyFrame, cardinalities: Sequence[int],
           ordered: Sequence[int] | None = None) -> Marginals:
        """Marginals of a coded table: a pandas frame, or a LazyFrame such as `pl.scan_parquet(path)`.

        `ordered[i]` is how many leading codes of column i are ordered bins (default: none)."""
        frame = pl.from_pandas(codes).lazy() if isinstance(codes, pd.DataFrame) else codes
        names = frame.collect_schema().names()
        if len(names) != len(cardinalities):
            raise ValueError(f"{len(names)} coded columns but {len(cardinalities)} cardinalities")
        ordered = list(ordered) if ordered is not None else [0] * len(names)
        if len(ordered) != len(names) or any(not 0 <= o <= k for o, k in zip(ordered, cardinalities)):
            raise ValueError("ordered: one count per column, each between 0 and the column's cardinality")
        attrs = [f"col{i}" for i in range(len(names))]
        frame = frame.select(pl.col(n).alias(a) for n, a in zip(names, attrs))
        return cls(frame, Domain(attrs, [int(k) for k in cardinalities]), ordered=dict(zip(attrs, ordered)))

    def _raw(self, cols: tuple[str, ...]) -> np.ndarray:
        """Counts over the original codes, as a dense array shaped by the original cardinalities."""
        if cols in self._cache:
            return self._cache[cols]
        shape = tuple(self._original_size(c) for c in cols)
        grouped = self._frame.group_by(list(cols)).agg(pl.len().alias("_n")).collect(engine="streaming")
        index = tuple(grouped[c].to_numpy().astype(np.int64) for c in cols)
        if any(((i < 0) | (i >= k)).any() for i, k in zip(index, shape)):
            raise ValueError("codes outside the declared cardinalities")
        flat = np.ravel_multi_index(index, shape)
        counts = np.bincount(flat, weights=grouped["_n"].to_numpy(), minlength=math.prod(shape)).reshape(shape)
        if counts.size <= _CACHE_CELLS:
            self._cache[cols] = counts
        return counts

    def _original_size(self, col: str) -> int:
        return len(self._maps[col]) if col in self._maps else self.domain[col]

    def project(self, cols: Sequence[str] | str) -> _Projection:
        cols = (cols,) if isinstance(cols, str) else tuple(cols)
        counts = self._raw(cols)
        for axis, col in enumerate(cols):
            if col in self._maps:
                counts = _merge_axis(counts, axis, self._maps[col], self.domain[col])
        return _Projection(counts)

    def compressed(self, supports: dict[str, np.ndarray]) -> Marginals:
        """MST's compression: codes outside a column's noisy support merge into one extra code.

        The supports are DP outputs (noisy one-way counts over a threshold), so the mapping
        is public; the rows are never rewritten, the counts are summed through the mapping.
        """
        maps = {}
        for col in self.domain.attrs:
            support = np.asarray(supports[col], dtype=bool)
            kept = int(support.sum())
            mapping = np.full(support.size, kept, dtype=np.int64)
            mapping[support] = np.arange(kept)
            maps[col] = mapping
        return self.merged(maps)

    def merged(self, maps: dict[str, np.ndarray]) -> Marginals:
        """The same counts over a merged domain: `maps[col][code]` is the merged code of each of
        this domain's codes (merged codes numbered from 0 without gaps). The mapping must be
        public (from the spec or from DP outputs); the rows are never rewritten."""
        composed, sizes = dict(self._maps), []
        for col in self.domain.attrs:
            if col not in maps:
                sizes.append(self.domain[col])
                continue
            mapping = np.asarray(maps[col], dtype=np.int64)
            if mapping.size != self.domain[col]:
                raise ValueError(f"{col}: a mapping of {mapping.size} codes for a domain of {self.domain[col]}")
            composed[col] = mapping[self._maps[col]] if col in self._maps else mapping
            sizes.append(int(mapping.max()) + 1)
        return Marginals(self._frame, Domain(self.domain.attrs, sizes), composed, self._cache)


def _merge_axis(counts: np.ndarray, axis: int, mapping: np.ndarray, size: int) -> np.ndarray:
    """Sum `counts` along `axis` into `size` buckets, original code i going to `mapping[i]`."""
    moved = np.moveaxis(counts, axis, 0)
    merged = np.zeros((size, *moved.shape[1:]), dtype=counts.dtype)
    np.add.at(merged, mapping, moved)
    return np.moveaxis(merged, 0, axis)


__all__ = ["Marginals"]
