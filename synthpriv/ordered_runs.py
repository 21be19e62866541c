"""Runs of adjacent bins merged by their noisy counts, and drawn back apart after sampling.

A number binned finely for release (85 ages, 100 capital-gain bins) leaves most bins with a
few dozen rows. Every marginal AIM measures over such a column pays Gaussian noise in every
cell, so its sparse cells are mostly noise, and AIM's error score charges each cell its noise,
which keeps it from ever measuring them with the column a consumer predicts. Merging
adjacent bins until each run holds enough noisy mass lets AIM measure the column's joint
distribution with others at a useful signal-to-noise ratio; order is kept, so a run is an
interval of the number (MST's compression merges unordered rare codes, which loses that).

The runs come from the DP one-way measurement, and splitting a run back into its bins in
proportion to the same noisy counts is post-processing: neither reads the data again.
"""

from __future__ import annotations

import numpy as np


def runs(noisy: np.ndarray, ordered: int, min_mass: float) -> np.ndarray:
    """For each code, the run it belongs to: adjacent codes among the first `ordered` are
    merged from the lowest up until their noisy count reaches `min_mass`; a short last run
    joins the one before it. Codes from `ordered` on (a null code, say) keep a run each."""
    if not 0 <= ordered <= noisy.size:
        raise ValueError(f"{ordered} ordered codes among {noisy.size}")
    mapping = np.empty(noisy.size, dtype=np.int64)
    run, mass, start = 0, 0.0, 0
    for code in range(ordered):
        mass += max(float(noisy[code]), 0.0)
        mapping[code] = run
        if mass >= min_mass:
            run, mass, start = run + 1, 0.0, code + 1
    if start < ordered:
        if run > 0:
            mapping[start:ordered] = run - 1
        else:
            run += 1
    mapping[ordered:] = np.arange(run, run + noisy.size - ordered)
    return mapping


class RunSplitter:
    """Draws each run's code back to one of its bins, in proportion to the bins' noisy counts
    (clipped at zero; a run whose counts are all zero or less is split evenly)."""

    def __init__(self, mapping: np.ndarray, noisy: np.ndarray) -> None:
        weights = np.maximum(np.asarray(noisy, dtype=np.float64), 0.0)
        totals = np.bincount(mapping, weights=weights)
        sizes = np.bincount(mapping)
        empty = totals[mapping] <= 0
        weights = np.where(empty, 1.0 / sizes[mapping], weights / np.where(empty, 1.0, totals[mapping]))
        within = np.zeros_like(weights)
        for run in range(sizes.size):
            members = np.flatnonzero(mapping == run)
            within[members] = np.cumsum(weights[members])
            within[members[-1]] = 1.0
        # runs are contiguous and numbered in code order, so run + share-so-far increases with
        # the code, and a uniform point in [run, run + 1) falls on a bin of that run
        self._keys = mapping + within

    def split(self, runs_drawn: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The bin of each drawn run code."""
        points = np.asarray(runs_drawn, dtype=np.float64) + rng.random(len(runs_drawn))
        return np.searchsorted(self._keys, points, side="right").astype(np.int64)


__all__ = ["RunSplitter", "runs"]
