"""Empirical epsilon: a distinguishing game that lower-bounds the privacy loss a synthesizer really has.

DP promises that no test can tell a dataset D from D' = D plus one record much better than
epsilon allows: for any rule that guesses "D'" from the output, with false-positive rate FPR and
false-negative rate FNR, ``FPR >= (1 - delta - FNR) / e^epsilon`` and the same with the two swapped.
So rates measured over repeated runs bound epsilon from below (Jagielski, Ullman and Oprea,
"Auditing Differentially Private Machine Learning: How Private is Private SGD?", NeurIPS 2020;
Nasr, Song, Thakurta, Papernot and Carlini, "Adversary Instantiation: Lower Bounds for
Differentially Private Machine Learning", IEEE S&P 2021):

    eps_lb = max(log((1 - delta - FNR_ub) / FPR_ub), log((1 - delta - FPR_ub) / FNR_ub))

with Clopper-Pearson upper bounds on both rates. A bound above the claimed epsilon means the
implementation does not deliver its claim (a bug, a data-derived domain); a bound below it proves
nothing more than that this game could not tell, so the report also gives the ceiling: the bound
a perfect distinguisher would have reached with as many runs.

The audit is opt-in (`synthpriv audit SPEC`), never part of a release, and never touches the
dataset or its ledger: it trains on neighbouring datasets it builds from the spec's public domain.
D is drawn within the declared code spaces from a skewed distribution that leaves out one code of
every column, and the worst-case record holds exactly those codes, so it is the only record with
any of them: every marginal it touches moves from 0 to 1. The test statistic is the number of
output rows equal to that record; the guess is "D'" when it reaches a threshold, the best of the
observed values, paid for with a Bonferroni correction over the thresholds tried so that the
confidence stated holds for the bound reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.stats import beta

from synthpriv import synthesizers
from synthpriv.domain import TableCodec
from synthpriv.spec import ReleaseSpec

#: Runs per dataset (so twice as many fits) when the command line names none: with this many a
#: perfect distinguisher reaches a bound of about 2.4; one fit of MST takes a few seconds.
DEFAULT_RUNS = 50
#: Records in D: the game does not need a realistic size, only a fixed one.
DEFAULT_ROWS = 500
CONFIDENCE = 0.95


class Model(Protocol):
    """What the game needs of a synthesizer: `synthesizers.Synthesizer` is one."""

    name: str

    def fit(self, codes: pd.DataFrame, cardinalities: list[int], ordered: list[int] | None = None) -> None: ...

    def sample(self, rows: int) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Game:
    """Neighbouring datasets in code space: `base` is D, D' is D plus the `canary` row."""

    base: pd.DataFrame
    canary: np.ndarray
    cardinalities: list[int]
    ordered_codes: list[int]  # as the release declares them (`TableCodec.ordered_codes`)

    def dataset(self, with_canary: bool) -> pd.DataFrame:
        if not with_canary:
            return self.base
        return pd.concat([self.base, pd.DataFrame([self.canary], columns=self.base.columns)], ignore_index=True)

    def statistic(self, output: pd.DataFrame) -> int:
        """Output rows equal to the canary on every column."""
        return int((output[list(self.base.columns)].to_numpy() == self.canary).all(axis=1).sum())


def neighbouring_datasets(spec: ReleaseSpec, rows: int = DEFAULT_ROWS, columns: list[str] | None = None,
                          seed: int = 0) -> Game:
    """D with `rows` records over the spec's declared code spaces, and a canary whose codes D lacks.

    Column codes in D follow a Zipf-like law over all codes but the canary's (a realistic skew,
    and rare codes near the canary's), drawn from a seeded generator: D is test data, not
    privacy randomness, and reproducing it reproduces the game.
    """
    released = [c for c in spec.modelled_columns if columns is None or c.name in columns]
    unknown = sorted(set(columns or []) - {c.name for c in released})
    if unknown or not released:
        raise ValueError(f"columns not released by the spec: {', '.join(unknown) or '(none)'}")
    codec = TableCodec.from_columns(released)
    rng = np.random.default_rng(seed)
    base, canary = {}, []
    for name, size in zip(codec.names, codec.cardinalities):
        if size < 2:
            raise ValueError(f"column {name} has a single code: no record can be unique in it")
        leave_out = int(rng.integers(size))
        others = np.array([c for c in range(size) if c != leave_out])
        weights = 1 / np.arange(1, size)
        base[name] = rng.choice(others[rng.permutation(size - 1)], size=rows, p=weights / weights.sum())
        canary.append(leave_out)
    return Game(pd.DataFrame(base), np.array(canary), codec.cardinalities, codec.ordered_codes)


def clopper_pearson_upper(failures: int, trials: int, alpha: float) -> float:
    """One-sided upper confidence bound at level 1 - alpha on a rate seen `failures` times in `trials`."""
    return 1.0 if failures >= trials else float(beta.ppf(1 - alpha, failures + 1, trials - failures))


def _bound(fpr_ub: float, fnr_ub: float, delta: float) -> float:
    logs = [math.log((1 - delta - b) / a) for a, b in ((fpr_ub, fnr_ub), (fnr_ub, fpr_ub)) if 1 - delta - b > 0]
    return max([0.0, *logs])


@dataclass(frozen=True)
class AuditResult:
    """The game's outcome; `refutes` when the lower bound exceeds the claimed epsilon."""

    synthesizer: str
    claimed_epsilon: float
    delta: float
    runs: int
    rows: int
    columns: list[str]
    epsilon_lower_bound: float
    ceiling: float
    threshold: float
    false_positive_rate: float
    false_negative_rate: float
    confidence: float
    mean_statistic_without: float
    mean_statistic_with: float

    @property
    def refutes(self) -> bool:
        return self.epsilon_lower_bound > self.claimed_epsilon

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "refutes": self.refutes}


def epsilon_lower_bound(without: np.ndarray, with_canary: np.ndarray, delta: float,
                        confidence: float = CONFIDENCE) -> tuple[float, float, float, float, float]:
    """(bound, ceiling, threshold, FPR, FNR) for the best threshold "guess D' if statistic >= t".

    Every observed value is a candidate threshold; each needs both rates' upper bounds, so each
    bound is taken at (1 - confidence) / (2 * candidates) and the bound reported holds with the
    stated confidence whichever threshold wins.
    """
    thresholds = np.unique(np.concatenate([without, with_canary]))
    alpha = (1 - confidence) / (2 * len(thresholds))
    best = (0.0, float(thresholds[0]), 1.0, 0.0)
    for t in thresholds:
        fp, fn = int((without >= t).sum()), int((with_canary < t).sum())
        eps = _bound(clopper_pearson_upper(fp, len(without), alpha), clopper_pearson_upper(fn, len(with_canary), alpha),
                     delta)
        if eps > best[0]:
            best = (eps, float(t), fp / len(without), fn / len(with_canary))
    perfect = max(clopper_pearson_upper(0, len(without), alpha), clopper_pearson_upper(0, len(with_canary), alpha))
    return best[0], _bound(perfect, perfect, delta), best[1], best[2], best[3]


def cache_compilations(folder: Path) -> None:
    """Keep JAX's compiled programs in `folder`, for the rest of this process.

    mbi builds new jitted functions for every fit, so JAX compiles the same programs again each
    time; on the small domains of the game that is most of a fit. JAX's persistent cache is keyed
    on the program itself and cut a fit of MST here to a third. It stays on until the process
    ends (JAX cannot point an initialised cache elsewhere), so `folder` must outlive the process.
    """
    import jax

    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def audit(
    spec: ReleaseSpec, runs: int = DEFAULT_RUNS, *, rows: int = DEFAULT_ROWS, columns: list[str] | None = None,
    make: Callable[[], Model] | None = None, seed: int = 0,
    on_run: Callable[[int], None] | None = None,
) -> AuditResult:
    """Play the game `runs` times on each dataset with the spec's synthesizer and parameters.

    `make` builds a fresh synthesizer per fit (default: the spec's); each fit samples `rows` rows.
    Runs on D and D' alternate so any drift (load, caches) hits both alike. `on_run` is called
    after each pair with the number of pairs done. Nothing here reads a dataset or a ledger.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    p = spec.privacy
    make = make or (lambda: synthesizers.create(p.synthesizer, p.epsilon, p.delta, p.options))
    game = neighbouring_datasets(spec, rows, columns, seed)
    stats: dict[bool, list[int]] = {False: [], True: []}
    name = p.synthesizer
    for i in range(runs):
        for with_canary in (False, True):
            model = make()
            name = model.name
            model.fit(game.dataset(with_canary), game.cardinalities, game.ordered_codes)
            stats[with_canary].append(game.statistic(model.sample(rows)))
        if on_run:
            on_run(i + 1)
    without, with_canary = np.array(stats[False]), np.array(stats[True])
    bound, ceiling, threshold, fpr, fnr = epsilon_lower_bound(without, with_canary, p.delta)
    return AuditResult(
        synthesizer=name, claimed_epsilon=p.epsilon, delta=p.delta, runs=runs,
        rows=rows, columns=list(game.base.columns), epsilon_lower_bound=bound, ceiling=ceiling, threshold=threshold,
        false_positive_rate=fpr, false_negative_rate=fnr, confidence=CONFIDENCE,
        mean_statistic_without=float(without.mean()), mean_statistic_with=float(with_canary.mean()),
    )
