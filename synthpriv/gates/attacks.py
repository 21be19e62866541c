"""Anonymeter-style privacy risks: singling out, linkability and inference attacks on the release.

After Giomi, Boenisch, Wehmeyer and Tasnádi, "A Unified Framework for Quantifying Privacy Risk in
Synthetic Data", PoPETs 2023 (2), and its reference implementation Anonymeter
(github.com/statice/anonymeter, `evaluators/*.py`, `stats/confidence.py`), which we cannot install
(it pins numpy<1.27). Each risk runs three attacks that use only the release:

* the **main** attack against training records (the synthesizer saw them),
* the **control** attack, the same attack against holdout records (it never saw them), and
* the **baseline** attack, a random guesser: if it does as well as the main attack the attack is
  too weak for its result to mean anything, so the baseline is reported next to the risk.

The risk is the main attack's success beyond what it achieves on the holdout, scaled to the room
left: ``(main - control) / (1 - control)``. What the release teaches about the population (which
every useful release must) helps both attacks alike and cancels; what it teaches about its
training records does not. Success rates carry Wilson score intervals and the risk's interval is
propagated from both (Anonymeter's `residual_success`), clamped to [0, 1].

Differences from Anonymeter, each for a stated reason:

* Nearest neighbours come from our exact tiled Gower search (`leakage`) over the spec's public
  scaling, not a brute-force search scaled by the data's own ranges (a statistic of the data).
* Linkability counts a target as linked when *some* synthetic record is nearest on both column
  sets, ties going to the attacker; Anonymeter breaks ties by array position, which can split
  duplicates of one copied record between the two halves and hide a copier.
* Inference on a number or date counts a guess within 5% of the column's public range as right;
  Anonymeter divides by the guess, which is meaningless for dates and values near zero.
* Singling out corrects the holdout's success to the training table's size with Anonymeter's model,
  fitted to the exact expected counts in subsets of the holdout (hypergeometric) rather than to
  counts in random subsamples; below 4,000 holdout rows the fit starts at a quarter of the holdout
  instead of Anonymeter's fixed 1,000 rows, where its fit would have a single size to work with.

Only attacks are sampled (targets, predicates); the tables an attack is scored against are always
whole, since thinning them would make every record look unique and every attack look weak.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.stats import hypergeom, norm

from synthpriv.gates import GateResult, errored, guarded
from synthpriv.gates.leakage import _NULL, Encoded, encode, nearest_distances, nearest_rows
from synthpriv.spec import PrivacyGate, ReleaseSpec

GATE = "privacy"
CONFIDENCE = 0.95
#: A guessed number or date is right within this share of the column's public range.
NUMERIC_TOLERANCE = 0.05
#: Multivariate singling out stops after this many candidate predicates per attack requested.
ATTEMPTS_PER_ATTACK = 20
#: Two Gower distance sums closer than this are the same (float32 sums of a few terms in [0, 1]).
_SAME = 1e-5
#: Predicate operators, indices into `_COMPARE`.
EQ, NE, LE, GE, LT, GT = range(6)
_COMPARE = (np.equal, np.not_equal, np.less_equal, np.greater_equal, np.less, np.greater)
#: Sorted rows a predicate is checked on at a time (see `_Predicates.counts`).
_COUNT_CHUNK = 1 << 15


@dataclass(frozen=True)
class Rate:
    """An attack's success rate: the Wilson score centre and the half-width of its interval."""

    value: float
    error: float


def success_rate(attacks: int, successes: float, confidence: float = CONFIDENCE) -> Rate:
    """Wilson score interval for `successes` out of `attacks` Bernoulli trials (Wilson 1927).

    Anonymeter's `success_rate`: robust at rates near 0 or 1 and for few attacks, where the
    normal approximation would give an interval outside [0, 1] or of zero width.
    """
    if attacks <= 0:
        raise ValueError("an attack needs at least one target")
    z = float(norm.ppf(0.5 * (1 + confidence)))
    spread = successes * (attacks - successes) / attacks
    centre = (successes + 0.5 * z * z) / (attacks + z * z)
    return Rate(centre, z / (attacks + z * z) * math.sqrt(spread + 0.25 * z * z))


def residual(main: Rate, control: Rate) -> Rate:
    """(main - control) / (1 - control), its error propagated to first order (Anonymeter's
    `residual_success`)."""
    room = 1.0 - control.value
    value = (main.value - control.value) / room
    error = math.hypot(main.error / abs(room), control.error * (main.value - 1) / room**2)
    return Rate(value, error)


@dataclass(frozen=True)
class Risk:
    """One attack's risk in [0, 1] with its interval, and the success rates it came from."""

    value: float
    low: float
    high: float
    attacks: int
    main: float
    control: float
    baseline: float

    @classmethod
    def of(cls, attacks: int, main: float, control_attacks: int, control: float, baseline: float,
           confidence: float = CONFIDENCE) -> Risk:
        """From success counts: `main` of `attacks`, `control` of `control_attacks`, `baseline` of `attacks`."""
        m, c = success_rate(attacks, main, confidence), success_rate(control_attacks, control, confidence)
        r = residual(m, c)
        return cls(_clamp(r.value), _clamp(r.value - r.error), _clamp(r.value + r.error), attacks,
                   main / attacks, control / control_attacks, baseline / attacks)

    def describe(self) -> str:
        return (f"95% CI [{self.low:.4f}, {self.high:.4f}]; success {self.main:.3f} on training, "
                f"{self.control:.3f} on holdout, {self.baseline:.3f} for a random guess; {self.attacks} attacks")


def _clamp(x: float) -> float:
    """Into [0, 1], as Anonymeter's `bind_value`: a negative residual is no risk."""
    return float(min(max(x, 0.0), 1.0))


# --- singling out ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """Rows as a (columns, rows) float32 matrix: numbers scaled to [0, 1], categories as codes.

    `null` is each column's null value (`_NULL`, above every number, or the null code), `numeric`
    which columns are ordered, and `order` each column's rows sorted by value, so the rows meeting
    one condition are a slice found by bisection. Duplicate rows are dropped, as Anonymeter does:
    a predicate singles out a record, not a copy of one.
    """

    values: np.ndarray
    null: np.ndarray
    numeric: np.ndarray
    order: np.ndarray
    ordered: np.ndarray

    @classmethod
    def of(cls, e: Encoded) -> _Table:
        values = np.concatenate([e.numeric, e.codes.astype(np.float32)])
        # hashing finds the duplicates many times faster than np.unique's sort of whole rows
        values = values[:, ~pd.DataFrame(values.T).duplicated().to_numpy()]
        n = e.numeric.shape[0]
        null = np.array([_NULL] * n + [count - 1 for count in e.code_counts], np.float32)
        order = np.argsort(values, axis=1, kind="stable")
        return cls(values, null, np.arange(len(null)) < n, order, np.take_along_axis(values, order, axis=1))

    def __len__(self) -> int:
        return self.values.shape[1]

    def spans(self, columns: np.ndarray, ops: np.ndarray, constants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per condition, the slice [start, stop) of its column's sorted rows that meets it; `!=`
        meets two slices, so it gets the whole column (it is then checked row by row)."""
        start, stop = np.zeros(columns.shape, np.int64), np.full(columns.shape, len(self), np.int64)
        for c in np.unique(columns):
            at = columns == c
            v, o, s = constants[at], ops[at], self.ordered[c]
            left, right = np.searchsorted(s, v, "left"), np.searchsorted(s, v, "right")
            valued = np.searchsorted(s, self.null[c], "left") if self.numeric[c] else len(self)
            start[at] = np.select([o == EQ, o == GE, o == GT], [left, left, right], 0)
            stop[at] = np.select([o == EQ, o == LE, o == LT, o == NE],
                                 [right, np.minimum(right, valued), np.minimum(left, valued), len(self)], valued)
        return start, np.maximum(stop, start)


@dataclass(frozen=True)
class _Predicates:
    """Conjunctions of `column op constant`, one per row of (queries, conditions) arrays."""

    columns: np.ndarray
    ops: np.ndarray
    constants: np.ndarray

    def __len__(self) -> int:
        return len(self.columns)

    def take(self, rows: np.ndarray) -> _Predicates:
        return _Predicates(self.columns[rows], self.ops[rows], self.constants[rows])

    def counts(self, table: _Table, at_most: int | None = None) -> np.ndarray:
        """Rows of `table` each predicate matches, or `at_most` once it matches that many. A
        comparison never matches a null, an equality with the null value matches exactly the nulls
        (SQL semantics, as in Anonymeter's Polars).

        Each predicate starts from the slice of sorted rows its most selective condition allows
        and checks the other conditions on those rows only, a chunk at a time: whether a predicate
        singles out a record is settled by a second match, which in a table of millions of rows
        usually comes long before the end of a slice of millions.
        """
        start, stop = table.spans(self.columns, self.ops, self.constants)
        driver = np.argmin(stop - start, axis=1)
        cap = at_most if at_most is not None else len(table) + 1
        out = np.empty(len(self), np.int64)
        for i, (cols, ops, consts, d) in enumerate(zip(self.columns, self.ops, self.constants, driver)):
            found, sorted_rows = 0, table.order[cols[d]]
            for lo in range(start[i, d], stop[i, d], _COUNT_CHUNK):
                rows = sorted_rows[lo:min(lo + _COUNT_CHUNK, stop[i, d])]
                match = np.ones(len(rows), bool)
                for j in range(len(cols)):
                    if j == d and ops[j] != NE:
                        continue
                    x = table.values[cols[j], rows]
                    match &= _COMPARE[ops[j]](x, consts[j])
                    if ops[j] != EQ:
                        match &= x != table.null[cols[j]]
                found += int(match.sum())
                if found >= cap:
                    break
            out[i] = min(found, cap)
        return out


def _unique(p: _Predicates) -> _Predicates:
    """Each distinct predicate once (conditions in column order), in order of first appearance."""
    order = np.argsort(p.columns, axis=1, kind="stable")
    p = _Predicates(*(np.take_along_axis(a, order, axis=1) for a in (p.columns, p.ops, p.constants)))
    key = np.concatenate([p.columns, p.ops, p.constants.view(np.int32)], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    return p.take(np.sort(first))


def _medians(syn: _Table) -> np.ndarray:
    """Each numeric column's median over its non-null synthetic values (0 elsewhere)."""
    return np.array([np.median(v[v != n]) if num and (v != n).any() else 0.0
                     for v, n, num in zip(syn.values, syn.null, syn.numeric)], np.float32)


def _from_records(syn: _Table, medians: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> _Predicates:
    """Anonymeter's multivariate predicates: a record's value on each chosen column, as `==` for a
    category or a null, and as `>=` above the column's median or `<=` otherwise for a number."""
    constants = syn.values[columns, rows[:, None]]
    ordered = syn.numeric[columns] & (constants != syn.null[columns])
    ops = np.where(ordered, np.where(constants > medians[columns], GE, LE), EQ)
    return _Predicates(columns, ops, constants)


def _univariate(syn: _Table) -> _Predicates:
    """Anonymeter's univariate predicates: a column's only null, `<= min` and `>= max` of a number,
    and every value held by one record."""
    cols, ops, consts = [], [], []
    for j, (v, n, num) in enumerate(zip(syn.values, syn.null, syn.numeric)):
        values, counts = np.unique(v, return_counts=True)
        rare = values[counts == 1]
        found = v[v != n]
        extra = [(LE, found.min()), (GE, found.max())] if num and found.size else []
        cols += [j] * (len(rare) + len(extra))
        ops += [EQ] * len(rare) + [op for op, _ in extra]
        consts += [*rare, *(c for _, c in extra)]
    return _Predicates(*(np.asarray(x, t).reshape(-1, 1) for x, t in ((cols, np.int64), (ops, np.int64),
                                                                       (consts, np.float32))))


def _random(syn: _Table, queries: int, n_cols: int, rng: np.random.Generator) -> _Predicates:
    """The baseline's predicates: random columns, random values seen in the release, random operators."""
    columns = np.argsort(rng.random((queries, len(syn.null))), axis=1)[:, :n_cols]
    pools = [np.unique(v) for v in syn.values]
    constants = np.array([[pools[c][rng.integers(len(pools[c]))] for c in row] for row in columns], np.float32)
    ops = np.where(syn.numeric[columns], rng.integers(0, 6, columns.shape), rng.integers(0, 2, columns.shape))
    return _Predicates(columns, ops, constants)


def _singling_out_predicates(syn: _Table, attacks: int, n_cols: int, rng: np.random.Generator) -> _Predicates:
    """Up to `attacks` distinct predicates that each match exactly one synthetic record."""
    if n_cols == 1:
        candidates = _unique(_univariate(syn))
        candidates = candidates.take(rng.permutation(len(candidates)))
        found, start = [], 0
        while sum(map(len, found)) < attacks and start < len(candidates):
            batch = candidates.take(np.arange(start, min(start + attacks, len(candidates))))
            found.append(batch.take(np.flatnonzero(batch.counts(syn, at_most=2) == 1)))
            start += attacks
        found = _unique(_concat(found))
        return found.take(np.arange(min(attacks, len(found))))
    n_cols, medians = min(n_cols, len(syn.null)), _medians(syn)
    found, tried = _Predicates(*(np.empty((0, n_cols), t) for t in (np.int64, np.int64, np.float32))), 0
    while len(found) < attacks and tried < ATTEMPTS_PER_ATTACK * attacks:
        size = min(1000, ATTEMPTS_PER_ATTACK * attacks - tried)
        rows = rng.integers(len(syn), size=size)
        columns = np.argsort(rng.random((size, len(syn.null))), axis=1)[:, :n_cols]
        batch = _from_records(syn, medians, rows, columns)
        found = _unique(_concat([found, batch.take(np.flatnonzero(batch.counts(syn, at_most=2) == 1))]))
        tried += size
    return found.take(np.arange(min(attacks, len(found))))


def _concat(parts: list[_Predicates]) -> _Predicates:
    return _Predicates(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("columns", "ops", "constants")))


def _so_model(size: np.ndarray, w_eff: float, scale: float) -> np.ndarray:
    """Expected predicates singling out in `size` records if their weights are uniform on [0, w_eff]:
    the integral of n w (1 - w)^(n - 1) over w (Cohen and Nissim 2020; Anonymeter's `_model`)."""
    return scale * (1 - (size * w_eff + 1) * (1 - w_eff) ** size) / (size + 1)


def _size_correction(control_counts: np.ndarray, control_rows: int, training_rows: int) -> float:
    """Factor taking the holdout's singling-out count to the training table's size.

    Whether a predicate matches exactly one record depends on how many records it is tried on (a
    predicate written to isolate one of 20,000 synthetic rows rarely matches anyone among 600, more
    often exactly one among 2,400), so the holdout's raw count is not comparable with the training
    table's. Anonymeter fits `_so_model` to counts in subsamples of the control; we fit it to
    their exact expectations: a predicate matching k of the n holdout records singles out in a
    random subset of s of them with hypergeometric probability P(X = 1).
    """
    if control_rows == training_rows or not (control_counts > 0).any():
        return 1.0
    sizes = np.unique(np.linspace(min(1000, control_rows // 4), control_rows, 10).astype(int))
    sizes = sizes[sizes > 0].astype(float)
    expected = np.array([hypergeom.pmf(1, control_rows, control_counts, s).sum() for s in sizes])
    w_eff, scale = _fit_so_model(sizes, expected)
    return float(_so_model(training_rows, w_eff, scale) / _so_model(control_rows, w_eff, scale))


def _fit_so_model(sizes: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Least-squares (w_eff, scale) of `_so_model`. For a given w_eff the best scale is linear least
    squares, so only w_eff is searched: on a log grid, then refined around the best point. Unlike a
    general two-parameter fit (Anonymeter uses scipy's `curve_fit`) this cannot fail to converge."""

    def fitted(log_w: float) -> tuple[float, float]:
        shape = _so_model(sizes, math.exp(log_w), 1.0)
        scale = float(shape @ expected / (shape @ shape)) if shape.any() else 0.0
        return float(((expected - scale * shape) ** 2).sum()), scale

    grid = np.linspace(math.log(1e-9), 0.0, 400)
    best = int(np.argmin([fitted(g)[0] for g in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    log_w = minimize_scalar(lambda g: fitted(g)[0], bounds=(lo, hi), method="bounded").x
    return math.exp(log_w), fitted(log_w)[1]


def singling_out(
    synthetic: Encoded, training: Encoded, holdout: Encoded, *, attacks: int, modes: dict[str, int],
    rng: np.random.Generator,
) -> dict[str, Risk]:
    """Singling-out risk per mode, a mode naming its columns per predicate (1: the univariate attack).

    The attacker writes predicates from the release that match exactly one synthetic record and
    claims each isolates one real person. Success is a predicate matching exactly one training
    record; the control tries the same predicates on the holdout, corrected to the training size
    (`_size_correction`); the baseline writes random predicates. Anonymeter's
    `SinglingOutEvaluator`. The modes share the tables' sorted form, the costly part of a large one.
    """
    syn, train, control = _Table.of(synthetic), _Table.of(training), _Table.of(holdout)
    return {mode: _singled_out(syn, train, control, attacks, n_cols, rng) for mode, n_cols in modes.items()}


def _singled_out(syn: _Table, train: _Table, control: _Table, attacks: int, n_cols: int,
                 rng: np.random.Generator) -> Risk:
    queries = _singling_out_predicates(syn, attacks, n_cols, rng)
    found = len(queries)
    if not found:  # the release isolates no record at all: every attempt failed
        return Risk.of(attacks, 0, attacks, 0, 0)
    main = int((queries.counts(train, at_most=2) == 1).sum())
    control_counts = queries.counts(control)
    corrected = (control_counts == 1).sum() * _size_correction(control_counts, len(control), len(train))
    baseline = int((_random(syn, found, queries.columns.shape[1], rng).counts(train, at_most=2) == 1).sum())
    # Rates are per attempt: an attempt that finds no predicate isolating a synthetic record is a
    # failed attack, not a missing one. Counting only the predicates found would leave a large
    # release, where few records stand out, judged on a handful of attacks and failing on the width
    # of its interval alone.
    return Risk.of(attacks, main, attacks, min(corrected, found), baseline)


# --- linkability and inference -----------------------------------------------------------------


def _targets(e: Encoded, attacks: int, rng: np.random.Generator) -> Encoded:
    """Up to `attacks` records drawn without replacement: the records attacked, not the table searched."""
    return e if len(e) <= attacks else e.take(np.sort(rng.choice(len(e), attacks, replace=False)))


def _stacked(first: Encoded, second: Encoded) -> Encoded:
    """The rows of both, `first`'s first: the main and control targets searched in one pass, so
    the synthetic table is sorted and bounded once per attack rather than twice."""
    return Encoded(first.columns, np.concatenate([first.numeric, second.numeric], axis=1),
                   np.concatenate([first.codes, second.codes], axis=1), first.code_counts)


def _linked(targets: Encoded, synthetic: Encoded, halves: tuple[list[str], list[str]]) -> np.ndarray:
    """Per target, whether its two halves have a common nearest synthetic record.

    Distances are sums over columns, so the nearest sum over both halves together equals the sum
    of the two halves' nearest exactly when one synthetic record is nearest on both: an exact
    test over all tied records without listing them.
    """
    def nearest(columns: list[str]) -> np.ndarray:
        return nearest_distances(targets.select(columns), synthetic.select(columns), k=1)[:, 0] * len(columns)

    together = nearest(halves[0] + halves[1])
    return together <= nearest(halves[0]) + nearest(halves[1]) + _SAME


def linkability(
    synthetic: Encoded, training: Encoded, holdout: Encoded, *,
    halves: tuple[list[str], list[str]], attacks: int, rng: np.random.Generator,
) -> Risk:
    """Linkability risk: can the release join two datasets that each hold half a person's columns?

    The attacker holds each target's `halves[0]` columns in one dataset and `halves[1]` in
    another, and links the two when the same synthetic record is nearest to both. The baseline
    links by picking a synthetic record at random for each half. Anonymeter's
    `LinkabilityEvaluator` with one neighbour.
    """
    main_targets, control_targets = _targets(training, attacks, rng), _targets(holdout, attacks, rng)
    n = len(main_targets)
    baseline = int((rng.integers(len(synthetic), size=n) == rng.integers(len(synthetic), size=n)).sum())
    linked = _linked(_stacked(main_targets, control_targets), synthetic, halves)
    return Risk.of(n, int(linked[:n].sum()), len(control_targets), int(linked[n:].sum()), baseline)


def _guessed(targets: Encoded, guesses: Encoded, secret: str) -> np.ndarray:
    """Per target, whether the guess holds its secret: the same category (or both null), or a
    number within `NUMERIC_TOLERANCE` of the public range (or both null)."""
    t, g = targets.select([secret]), guesses.select([secret])
    if t.codes.shape[0]:
        return t.codes[0] == g.codes[0]
    x, y = t.numeric[0], g.numeric[0]
    null_x, null_y = x == _NULL, y == _NULL
    return (null_x & null_y) | (~null_x & ~null_y & (np.abs(x - y) <= NUMERIC_TOLERANCE))


def _varies(training: Encoded, secret: str) -> bool:
    """Whether training records differ in `secret` at the resolution a guess is judged by.

    A column holding one category for every record, or numbers all within `NUMERIC_TOLERANCE`
    of one another with no null among them, carries no individual secret: a guess anywhere in
    the records' span is right for all of them, the control attack always succeeds, and the risk
    is 0/0 with an interval of [0, 1]. A DP-estimated range far wider than the data (a small
    `estimate_epsilon` on a small table) does this to a number. A mix of nulls and values still
    holds a secret: whether the value is missing.
    """
    column = training.select([secret])
    if column.codes.shape[0]:
        return len(np.unique(column.codes[0])) > 1
    x = column.numeric[0]
    null = x == _NULL
    if null.any():
        return not null.all()
    return len(x) > 0 and float(x.max() - x.min()) > NUMERIC_TOLERANCE


def _inferred(targets: Encoded, synthetic: Encoded, secret: str) -> np.ndarray:
    """Per target, whether the nearest synthetic record on the other columns holds its secret."""
    aux = [c for c in synthetic.columns if c != secret]
    _, rows = nearest_rows(targets.select(aux), synthetic.select(aux), k=1)
    return _guessed(targets, synthetic.take(rows[:, 0]), secret)


def inference(
    synthetic: Encoded, training: Encoded, holdout: Encoded, *, secrets: list[str], attacks: int,
    rng: np.random.Generator,
) -> dict[str, Risk]:
    """Inference risk per secret column: knowing every other released column of a target, the
    attacker guesses the secret of the nearest synthetic record. The synthetic rows are shuffled
    first (once, for every secret) so a tie is a random guess among the tied records; the baseline
    guesses the secret of a random synthetic record. Anonymeter's `InferenceEvaluator` with all
    other columns as auxiliary."""
    if len(synthetic.columns) < 2:
        raise ValueError("inference needs at least one column besides the secret")
    synthetic = synthetic.take(rng.permutation(len(synthetic)))
    return {secret: _inference_risk(synthetic, training, holdout, secret, attacks, rng) for secret in secrets}


def _inference_risk(synthetic: Encoded, training: Encoded, holdout: Encoded, secret: str, attacks: int,
                    rng: np.random.Generator) -> Risk:
    main_targets, control_targets = _targets(training, attacks, rng), _targets(holdout, attacks, rng)
    n = len(main_targets)
    baseline = int(_guessed(main_targets, synthetic.take(rng.integers(len(synthetic), size=n)), secret).sum())
    right = _inferred(_stacked(main_targets, control_targets), synthetic, secret)
    return Risk.of(n, int(right[:n].sum()), len(control_targets), int(right[n:].sum()), baseline)


# --- the gate ----------------------------------------------------------------------------------


def default_halves(columns: list[str]) -> tuple[list[str], list[str]]:
    """The linkability attacker's two datasets when the spec names none: the released columns
    split in spec order, first half and second half."""
    middle = (len(columns) + 1) // 2
    return columns[:middle], columns[middle:]


def _worst(risks: dict[str, Risk]) -> tuple[str, Risk]:
    """The variant with the highest upper bound (the one the gate judges), ties to the higher value."""
    return max(risks.items(), key=lambda kv: (kv[1].high, kv[1].value))


def run(
    synthetic: pd.DataFrame, training: pd.DataFrame, holdout: pd.DataFrame, spec: ReleaseSpec,
    limits: PrivacyGate, *, seed: int = 0,
) -> list[GateResult]:
    """Singling-out, linkability and inference risks against their limits; an error fails that risk.

    Each passes when the upper end of its 95% interval is at most the limit, so an attack with too
    few targets to tell (a small holdout) cannot pass by luck. Singling out is the worse of the
    univariate and multivariate attacks, inference the worst secret column; the detail names it.
    """
    rng = np.random.default_rng(seed)
    columns = [c.name for c in spec.modelled_columns]
    halves = limits.linkability_columns or default_halves(columns)
    attacks = limits.attacks
    try:
        syn, train, hold = (encode(t, spec) for t in (synthetic, training, holdout))
    except Exception as exc:  # noqa: BLE001 - any failure must fail the gate, not the run silently
        return [errored(GATE, m, exc) for m in ("singling_out_risk", "linkability_risk", "inference_risk")]

    def singling() -> dict[str, Risk]:
        return singling_out(syn, train, hold, attacks=attacks, rng=rng,
                            modes={"univariate": 1, "multivariate": limits.singling_out_columns})

    def linking() -> dict[str, Risk]:
        return {" + ".join(halves[0]) + " | " + " + ".join(halves[1]):
                linkability(syn, train, hold, halves=(list(halves[0]), list(halves[1])), attacks=attacks, rng=rng)}

    secrets = [c for c in columns if _varies(train, c)] or columns
    unattacked = [c for c in columns if c not in secrets]

    def inferring() -> dict[str, Risk]:
        return inference(syn, train, hold, secrets=secrets, attacks=attacks, rng=rng)

    def judge(metric: str, compute: Callable[[], dict[str, Risk]], threshold: float, kind: str,
              note: str = "") -> GateResult:
        risks = compute()
        name, worst = _worst(risks)
        others = "; ".join(f"{k} {r.value:.4f} [{r.low:.4f}, {r.high:.4f}]" for k, r in risks.items())
        detail = f"upper bound at most; worst {kind} {name}: {worst.describe()}"
        if len(risks) > 1:
            detail += f"; each: {others}"
        detail += note
        return GateResult(GATE, metric, bool(worst.high <= threshold), round(worst.value, 6), threshold, detail)

    checks = [
        ("singling_out_risk", singling, limits.max_singling_out_risk, "attack"),
        ("linkability_risk", linking, limits.max_linkability_risk, "columns"),
        ("inference_risk", inferring, limits.max_inference_risk, "secret column",
         f"; not attacked, one value for every training record at the guess tolerance: {', '.join(unattacked)}"
         if unattacked else ""),
    ]
    return [guarded(GATE, check[0], lambda check=check: judge(*check)) for check in checks]
