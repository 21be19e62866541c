"""Distance-based leakage metrics: does the synthetic table sit closer to its training rows than chance?

An exact-match check misses a synthesizer that copies records with a little noise. These
metrics look at nearness instead, with a Gower distance over the released columns:

* `dcr_excess`: how much more often than chance a synthetic row is closer to a training row
  than to any holdout row (0 for an honest generator, 1 for a copier).
* `nndr`: per synthetic row, nearest over second-nearest training distance. A row that sits on
  one real record has a small ratio even when it is far from everything else.
* `membership_auc`: an attacker scores every record by its nearness to the release and guesses
  "member" for the near ones; the AUC of that guess is ~0.5 when nothing leaked.

Scaling uses only the spec's public bounds: a min/max taken from the real data would itself be
a statistic of the data. The rows whose neighbours are looked up may be subsampled, which is why
values come with a 95% interval; the table searched never is, because a thinner reference makes
every row look farther from it, which biases towards "safe".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from synthpriv.domain import ColumnCodec, parse_numeric, to_number
from synthpriv.gates import GateResult, guarded, uniform_rows
from synthpriv.spec import NUMERIC_TYPES, ReleaseSpec

GATE = "privacy"
#: Query rows used per metric at most; the table searched is always complete.
DEFAULT_MAX_ROWS = 10_000
#: Stands in for a null numeric value: |NULL - x| >= 3 on [0, 1], capped to 1, and NULL - NULL = 0.
_NULL = np.float32(4.0)
_Z95 = 1.959963984540054
#: Query rows per block x reference rows per tile: 0.6 MB of scratch per worker, so a tile stays in
#: cache; small reference tiles make the lower bounds tight (measured best on the demo table).
_TILE_QUERY, _TILE_REFERENCE = 256, 256
#: Bits of the one sort key that orders rows for the search (`_compact_order`), and of one number's share.
_SORT_KEY_BITS, _NUMERIC_KEY_BITS = 64, 16
#: Slack on a tile's lower bound, far above float32 rounding of a sum of a few terms in [0, 1].
_SLACK = 1e-4


@dataclass(frozen=True)
class LeakageThresholds:
    """Default limits. dcr_excess is 0 and membership_auc 0.5 for a generator that never saw the
    training rows; copiers score above 0.9 and 0.99. dcr_excess is noisy on small holdouts (honest
    MST at epsilon 1 scored 0.03-0.16 over three 3,000-row runs, 0.22 once on 1,000 rows, 0.02 on
    20,000), and its interval covers only the subsampling of synthetic rows, not the split, hence 0.3. nndr_mean has no such anchor, so it is calibrated on the demo table: honest
    stand-ins scored 0.75-0.81 (500 to 50,000 rows), copies jittered by 1-5% of each numeric
    range 0.02-0.28, exact copies 0."""

    max_dcr_excess: float = 0.3
    min_nndr_mean: float = 0.5
    max_membership_auc: float = 0.6


@dataclass(frozen=True)
class Encoded:
    """A table in distance form, built once per table and reused across all comparisons.

    `numeric` is (numeric columns, rows) float32 scaled to [0, 1] by the public bounds, a null
    being `_NULL`; `codes` is (categorical columns, rows) int32, a null having its own code, and
    `code_counts` the public size of each code space. Column-major: each column is a contiguous
    vector for broadcasting.
    """

    columns: tuple[str, ...]
    numeric: np.ndarray
    codes: np.ndarray
    code_counts: tuple[int, ...]

    def __len__(self) -> int:
        return self.numeric.shape[1]

    def take(self, rows: np.ndarray) -> Encoded:
        return Encoded(self.columns, self.numeric[:, rows], self.codes[:, rows], self.code_counts)

    def select(self, columns: list[str] | tuple[str, ...]) -> Encoded:
        """The same rows over a subset of the columns (an attacker's auxiliary knowledge), numbers first."""
        unknown = sorted(set(columns) - set(self.columns))
        if unknown or not columns:
            raise ValueError(f"columns not encoded here: {', '.join(unknown) or '(none given)'}")
        n = self.numeric.shape[0]
        num = [i for i, c in enumerate(self.columns[:n]) if c in columns]
        cat = [i for i, c in enumerate(self.columns[n:]) if c in columns]
        names = tuple(self.columns[i] for i in num) + tuple(self.columns[n + i] for i in cat)
        return Encoded(names, self.numeric[num], self.codes[cat], tuple(self.code_counts[i] for i in cat))


@dataclass(frozen=True)
class Estimate:
    """A metric over `rows` of `of` available query rows, with a 95% interval for the subsampling."""

    value: float
    low: float
    high: float
    rows: int
    of: int


def encode(table: pd.DataFrame, spec: ReleaseSpec) -> Encoded:
    """Released columns as arrays: numbers and dates clipped to their bounds and scaled to [0, 1],
    categories as codes (a value outside the declared set shares the spec's 'other' code)."""
    numeric = [c for c in spec.modelled_columns if c.type in NUMERIC_TYPES]
    categorical = [ColumnCodec(c) for c in spec.modelled_columns if c.type not in NUMERIC_TYPES]
    scaled = []
    for col in numeric:
        lo, hi = to_number(col.bounds[0]), to_number(col.bounds[1])
        x = (np.clip(parse_numeric(table[col.name], col.type), lo, hi) - lo) / (hi - lo)
        scaled.append(np.where(np.isnan(x), _NULL, x))
    codes = []
    for codec in categorical:
        c, missing, _ = codec.encode_categorical(table[codec.column.name])
        codes.append(np.where(missing, codec.value_codes, c))
    rows = len(table)
    return Encoded(
        tuple(c.name for c in numeric) + tuple(c.column.name for c in categorical),
        np.asarray(scaled, dtype=np.float32).reshape(len(scaled), rows),
        np.asarray(codes, dtype=np.int32).reshape(len(codes), rows),
        tuple(c.value_codes + 1 for c in categorical),
    )


def nearest_distances(
    query: Encoded, reference: Encoded, k: int = 2, *, exclude_self: bool = False, workers: int | None = None
) -> np.ndarray:
    """The k smallest Gower distances from each query row to the reference rows, ascending, (rows, k).

    Gower: the mean over columns of |x - y| on [0, 1]-scaled numbers and dates, and of
    "differs" on categories; null vs null is 0, null vs a value is 1. Exact. Both sides are
    sorted so that blocks of query rows and tiles of reference rows are compact; a tile is
    computed only if a lower bound on its distances (from per-tile ranges and code sets) could
    beat a row's current k-th distance. Memory grows with the table sizes, never with their product.
    `exclude_self` (query must be reference) skips reference row i for query row i.
    """
    return _search(query, reference, k, exclude_self, workers, with_rows=False)[0]


def nearest_rows(
    query: Encoded, reference: Encoded, k: int = 1, *, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`nearest_distances` and, for each, the position of its reference row, both (rows, k).

    Of reference rows at the same distance the search keeps the one it met first, which depends on
    the reference's order (sorting is stable), so an attacker who needs one guess among tied rows
    shuffles the reference first.
    """
    return _search(query, reference, k, False, workers, with_rows=True)


def _search(
    query: Encoded, reference: Encoded, k: int, exclude_self: bool, workers: int | None, *, with_rows: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    if query.columns != reference.columns:
        raise ValueError("query and reference were encoded from different columns")
    if exclude_self and query is not reference:
        raise ValueError("exclude_self needs the query to be the reference")
    if not 1 <= k <= len(reference) - exclude_self:
        raise ValueError("k must be between 1 and the number of reference rows")
    capped = (query.numeric == _NULL).any(axis=1) | (reference.numeric == _NULL).any(axis=1)
    order = _compact_order(query)
    q = query.take(order)
    reference_order = order if exclude_self else _compact_order(reference)
    r = q if exclude_self else reference.take(reference_order)
    tiles = _TileBounds.of(r)

    def block(start: int) -> tuple[np.ndarray, np.ndarray | None]:
        stop = min(start + _TILE_QUERY, len(q))
        return _nearest_block(q, r, tiles, start, stop, k, capped, exclude_self, with_rows)

    with ThreadPoolExecutor(workers or len(os.sched_getaffinity(0))) as pool:
        parts = list(pool.map(block, range(0, len(q), _TILE_QUERY)))
    best = np.empty((len(q), k))
    best[order] = np.concatenate([p[0] for p in parts] or [best])
    if not with_rows:
        return best / len(query.columns), None
    rows = np.empty((len(q), k), np.int64)
    rows[order] = reference_order[np.concatenate([p[1] for p in parts] or [rows])]
    return best / len(query.columns), rows


def _compact_order(e: Encoded) -> np.ndarray:
    """Rows sorted by the categorical columns, largest code space first, then the numeric ones.

    One integer key per row, each column taking the bits its codes need and a number
    `_NUMERIC_KEY_BITS` of its [0, 1] range (a null above them); a column that no longer fits in
    the key is coarsened to its leading bits or left out. The order only makes tiles compact
    for the search's bounds, so a coarse late key costs a little pruning, never exactness, and
    one sort of one key is many times faster than a lexsort over every column of ten million rows.
    """
    levels = (1 << _NUMERIC_KEY_BITS) - 2

    def columns() -> Iterator[tuple[np.ndarray, int]]:
        for i in np.argsort(e.code_counts, kind="stable")[::-1]:
            yield e.codes[i].astype(np.uint64), max(int(e.code_counts[i]) - 1, 0).bit_length()
        for x in e.numeric:
            yield np.where(x == _NULL, levels + 1, np.rint(x * levels)).astype(np.uint64), _NUMERIC_KEY_BITS

    key, free = np.zeros(len(e), np.uint64), _SORT_KEY_BITS
    for values, bits in columns():
        taken = min(bits, free)
        key = (key << np.uint64(taken)) | (values >> np.uint64(bits - taken))
        free -= taken
        if not free:  # the key is full: the columns left would not change it
            break
    return np.argsort(key, kind="stable")


@dataclass(frozen=True)
class _TileBounds:
    """Per reference tile: the range of each numeric column and the set of codes of each categorical one."""

    low: np.ndarray
    high: np.ndarray
    present: list[np.ndarray]

    @classmethod
    def of(cls, r: Encoded) -> _TileBounds:
        starts = np.arange(0, len(r), _TILE_REFERENCE)
        tile = np.arange(len(r)) // _TILE_REFERENCE
        present = []
        for codes, count in zip(r.codes, r.code_counts):
            p = np.zeros((len(starts), count), bool)
            p[tile, codes] = True
            present.append(p)
        low, high = np.minimum.reduceat(r.numeric, starts, axis=1), np.maximum.reduceat(r.numeric, starts, axis=1)
        return cls(low, high, present)

    def lower_bounds(self, qn: np.ndarray, qc: np.ndarray) -> np.ndarray:
        """(query rows, tiles): no distance sum between a query row and a row of the tile is below this.

        Per numeric column the gap from the value to the tile's range (a null in the tile widens the
        range, which only loosens the bound); per categorical column 1 if the tile lacks the code."""
        lb = np.zeros((qn.shape[1], self.low.shape[1]), np.float32)
        for x, lo, hi in zip(qn[:, :, None], self.low, self.high):
            lb += np.clip(np.maximum(lo - x, x - hi), 0, 1)
        for codes, p in zip(qc, self.present):
            lb += ~p[:, codes].T
        return lb


def _nearest_block(
    q: Encoded, r: Encoded, tiles: _TileBounds, start: int, stop: int, k: int, capped: np.ndarray,
    exclude_self: bool, with_rows: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The k smallest distance sums for query rows [start, stop), visiting tiles by their lower bound
    and computing each tile only for the rows whose bound is below their current k-th sum; with
    `with_rows`, also the positions in `r` of the rows they belong to."""
    qn, qc = q.numeric[:, start:stop], q.codes[:, start:stop]
    lb = tiles.lower_bounds(qn, qc)
    reach = lb.min(axis=0)
    best = np.full((stop - start, k), np.inf, np.float32)
    where = np.full((stop - start, k), -1, np.int64) if with_rows else None
    dist = np.empty((stop - start, _TILE_REFERENCE), np.float32)
    term, differs = np.empty_like(dist), np.empty(dist.shape, bool)
    for t in np.argsort(reach, kind="stable"):
        if reach[t] >= best[:, -1].max() + _SLACK:
            break
        rows = np.flatnonzero(lb[:, t] < best[:, -1] + _SLACK)
        if not rows.size:
            continue
        lo, hi = t * _TILE_REFERENCE, min((t + 1) * _TILE_REFERENCE, len(r))
        d, tm, m = dist[: rows.size, : hi - lo], term[: rows.size, : hi - lo], differs[: rows.size, : hi - lo]
        d.fill(0)
        for j, x in enumerate(qn[:, rows, None]):
            np.subtract(x, r.numeric[j, lo:hi], out=tm)
            np.abs(tm, out=tm)
            if capped[j]:
                np.minimum(tm, 1, out=tm)
            np.add(d, tm, out=d)
        for j, c in enumerate(qc[:, rows, None]):
            np.not_equal(c, r.codes[j, lo:hi], out=m)
            np.add(d, m, out=d)
        if exclude_self:
            own = start + rows - lo
            inside = (own >= 0) & (own < hi - lo)
            d[inside, own[inside]] = np.inf
        kept = best[rows]
        if where is None:
            _fold(kept, d, k)
        else:
            kept_rows = where[rows]
            _fold(kept, d, k, kept_rows, lo)
            where[rows] = kept_rows
        best[rows] = kept
    return best, where


def _fold(best: np.ndarray, tile: np.ndarray, k: int, where: np.ndarray | None = None, offset: int = 0) -> None:
    """Merge a tile's k smallest per row into `best` (sorted rows), and their positions (the tile's
    columns plus `offset`) into `where` if given. One cheap min pass usually shows that no row
    improves; otherwise at most k argmin passes over the rows that do. A tie keeps the earlier row."""
    rows = np.flatnonzero(tile.min(axis=1) < best[:, -1])
    if not rows.size:
        return
    sub, at = tile[rows], np.arange(rows.size)
    for _ in range(k):
        j = sub.argmin(axis=1)
        v = sub[at, j]
        better = v < best[rows, -1]
        if not better.any():
            return
        best[rows[better], -1] = v[better]
        if where is None:
            best[rows] = np.sort(best[rows], axis=1)
        else:
            where[rows[better], -1] = offset + j[better]
            ranked = np.argsort(best[rows], axis=1, kind="stable")
            best[rows] = np.take_along_axis(best[rows], ranked, axis=1)
            where[rows] = np.take_along_axis(where[rows], ranked, axis=1)
        sub[at, j] = np.inf


def dcr_excess(
    synthetic: pd.DataFrame, training: pd.DataFrame, holdout: pd.DataFrame, spec: ReleaseSpec,
    *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
) -> Estimate:
    """How much more often than chance a synthetic row's closest record is a training row.

    The split into training and holdout is uniformly random, so for a release that learned
    nothing about individual rows the closest record (in both tables together) is a training
    row with probability p0 = n_train / (n_train + n_holdout). The share observed (ties half)
    is rescaled to (share - p0) / (1 - p0): 0 at chance, 1 when every synthetic row sits
    nearest a training row. Both references are used whole: thinning the training table to
    the holdout's size would hide the copies of rows left out, biasing towards "safe".
    """
    syn = encode(_sample(synthetic, max_rows, np.random.default_rng(seed)), spec)
    to_training = nearest_distances(syn, encode(training, spec), k=1)[:, 0]
    to_holdout = nearest_distances(syn, encode(holdout, spec), k=1)[:, 0]
    share = _mean((to_training < to_holdout) + 0.5 * (to_training == to_holdout), len(synthetic))
    p0 = len(training) / (len(training) + len(holdout))
    return Estimate(*(float(np.clip((x - p0) / (1 - p0), -1.0, 1.0)) for x in (share.value, share.low, share.high)),
                    share.rows, share.of)


def nndr(
    synthetic: pd.DataFrame, training: pd.DataFrame, spec: ReleaseSpec,
    *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
) -> Estimate:
    """Mean over synthetic rows of (distance to nearest training row) / (to second nearest).

    Near 1 when a row is as close to one record as to the next; small when it sits on one
    record. A row on two identical records (0 / 0) counts as 0: it is a copy.
    """
    syn = encode(_sample(synthetic, max_rows, np.random.default_rng(seed)), spec)
    d = nearest_distances(syn, encode(training, spec), k=2)
    ratio = np.divide(d[:, 0], d[:, 1], out=np.zeros(len(d)), where=d[:, 1] > 0)
    return _mean(ratio, len(synthetic))


def membership_auc(
    synthetic: pd.DataFrame, training: pd.DataFrame, holdout: pd.DataFrame, spec: ReleaseSpec,
    *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
) -> Estimate:
    """AUC of an attacker who calls a record a member the nearer it is to the release.

    Each training (member) and holdout (non-member) record is scored by minus its distance to
    the nearest synthetic row; the AUC is the Mann-Whitney U from midranks, ties counting half.
    Records may be subsampled (up to `max_rows` per side); the release never is, since the
    attacker sees all of it. The interval is DeLong's, with the finite-population correction.
    """
    rng = np.random.default_rng(seed)
    release = encode(synthetic, spec)
    members = _sample(training, max_rows, rng)
    others = _sample(holdout, max_rows, rng)
    score_in = -nearest_distances(encode(members, spec), release, k=1)[:, 0]
    score_out = -nearest_distances(encode(others, spec), release, k=1)[:, 0]
    return _auc(score_in, score_out, len(training), len(holdout))


def run(
    synthetic: pd.DataFrame, training: pd.DataFrame, holdout: pd.DataFrame, spec: ReleaseSpec,
    thresholds: LeakageThresholds = LeakageThresholds(), *, max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0,
) -> list[GateResult]:
    """Each leakage metric against its threshold. The pessimistic end of the 95% interval must clear
    it (fail closed when subsampling); an error in a metric fails that metric."""
    opts = {"max_rows": max_rows, "seed": seed}
    checks: list[tuple[str, Callable[[], Estimate], float, bool]] = [
        ("dcr_excess", lambda: dcr_excess(synthetic, training, holdout, spec, **opts), thresholds.max_dcr_excess, True),
        ("nndr_mean", lambda: nndr(synthetic, training, spec, **opts), thresholds.min_nndr_mean, False),
        ("membership_auc", lambda: membership_auc(synthetic, training, holdout, spec, **opts),
         thresholds.max_membership_auc, True),
    ]

    def judge(metric: str, compute: Callable[[], Estimate], threshold: float, at_most: bool) -> GateResult:
        est = compute()
        passed = est.high <= threshold if at_most else est.low >= threshold
        bound = "at most" if at_most else "at least"
        detail = f"{bound}; 95% CI [{est.low:.4f}, {est.high:.4f}] on {est.rows} of {est.of} rows"
        return GateResult(GATE, metric, bool(passed), round(est.value, 6), threshold, detail)

    return [guarded(GATE, check[0], lambda check=check: judge(*check)) for check in checks]


def _sample(table: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Up to `max_rows` rows drawn uniformly without replacement."""
    if not len(table):
        raise ValueError("a table to compare is empty")
    return uniform_rows(table, max_rows, rng)


def _mean(x: np.ndarray, of: int) -> Estimate:
    """Mean of per-row values from a sample of `of` rows; no sampling error when every row is used."""
    n = len(x)
    se = float(x.std(ddof=1) * np.sqrt((1 - n / of) / n)) if n < of else 0.0
    return _interval(float(x.mean()), se, n, of)


def _auc(positive: np.ndarray, negative: np.ndarray, of_positive: int, of_negative: int) -> Estimate:
    """P(a positive scores above a negative), ties half: Mann-Whitney U from midranks, exact.

    DeLong's variance from the same ranks: each side's placement values (the share of the other
    side it beats), with the finite-population correction for sides sampled from `of_*` rows.
    """
    n1, n2 = len(positive), len(negative)
    ranks = rankdata(np.concatenate([positive, negative]))
    beats = (ranks[:n1] - rankdata(positive)) / n2  # per positive: share of negatives below it
    beaten = (ranks[n1:] - rankdata(negative)) / n1  # per negative: share of positives below it
    var = beats.var(ddof=1) / n1 * (1 - n1 / of_positive) + beaten.var(ddof=1) / n2 * (1 - n2 / of_negative)
    return _interval(float(beats.mean()), float(np.sqrt(var)), n1 + n2, of_positive + of_negative)


def _interval(value: float, se: float, rows: int, of: int) -> Estimate:
    return Estimate(value, max(value - _Z95 * se, 0.0), min(value + _Z95 * se, 1.0), rows, of)
