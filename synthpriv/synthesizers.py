"""DP synthesizers behind one interface, fitted only on codes over a declared domain.

smartnoise-synth does the DP work: MST and AIM (Private-PGM), MWEM, and the DP-SGD and
PATE GANs (DPCTGAN, PATECTGAN). We hand it transformers whose cardinalities come from the
spec and that are already "fit", so the library's data-derived inference of types,
categories and bounds never runs. Where a library draws privacy-relevant randomness from a
seedable generator we route it to the operating system or to OpenDP (see `docs/synthesis.md`
for what each mechanism draws, and what stays seeded):

* MST, AIM: the exponential mechanism's selections draw from `random.SystemRandom`;
  Gaussian measurement noise is OpenDP's.
* MWEM: selections draw from `random.SystemRandom`, Laplace noise is OpenDP's; its
  histogram size comes from the declared cardinalities, never from the data's min and
  max, and its row total is a DP count paid from its own epsilon.
* DPCTGAN, PATECTGAN: the row sampler is unconditional and uniform (the library's
  conditional sampler reads exact category frequencies from the data, which no accountant
  covers) and draws from an OS-seeded numpy generator; DP-SGD noise comes from opacus'
  generator, seeded from os.urandom; PATE vote noise is OpenDP's Laplace.

Each synthesizer declares its privacy spend up front (`spend`), so the run adds up what
the mechanisms say they cost rather than trusting a number written elsewhere.
"""

from __future__ import annotations

import importlib
import io
import itertools
import logging
import math
import random
import warnings
from collections.abc import Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator

import dill
import jax.numpy as jnp
from disjoint_set import DisjointSet
import numpy as np
import opendp.prelude as dp
import pandas as pd
import polars as pl
import snsynth.mwem as _mwem_module
import snsynth.utils as _snsynth_utils
from snsynth.utils import cdp_rho, gaussian_noise
from mbi import Dataset, LinearMeasurement, estimation, junction_tree, marginal_oracles
from snsynth.aim import AIMSynthesizer
from snsynth.aim import aim as _aim_module
from snsynth.mst import MSTSynthesizer
from snsynth.mwem import Histogram, MWEMSynthesizer
from snsynth.transform.base import ColumnTransformer
from snsynth.transform.definitions import ColumnType
from snsynth.transform.onehot import OneHotEncoder
from snsynth.transform.table import TableTransformer

from synthpriv import accounting, dp_domain, model_marginals, ordered_runs
from synthpriv.accounting import Spend
from synthpriv.marginals import Marginals
from synthpriv.mrf_sampling import RowSampler
from synthpriv.spec import Privacy, ReleaseSpec

_OS_RANDOM = random.SystemRandom()
SAMPLE_BATCH_ROWS = 1_000_000  # rows drawn, decoded and written at a time: bounds the sample stage's memory
#: Above this many cells in the model's largest junction-tree clique, AIM estimates with mbi's
#: einsum oracle instead of the log-space one (`marginal_oracle_for`).
STABLE_ORACLE_MAX_CELLS = 1_000_000
log = logging.getLogger(__name__)


class _OsChoice:
    """The slice of numpy's `choice` API the libraries use, drawn from the OS generator."""

    def choice(self, n: int, size: int | None = None, replace: bool = True, p: np.ndarray | None = None):  # noqa: ANN201
        population = range(n)
        if size is None:
            return _OS_RANDOM.choices(population, weights=p)[0]
        if not replace:
            return np.array(_OS_RANDOM.sample(population, size))
        return np.array(_OS_RANDOM.choices(population, weights=p, k=size))


_aim_module.prng = _OsChoice()  # AIM's workload subsampling
_snsynth_utils.prng = _OsChoice()  # the exponential mechanism AIM selects with
_mwem_module.random = _OS_RANDOM  # MWEM's exponential mechanism calls random.random()


@contextmanager
def _quiet_library() -> Iterator[None]:
    """Keep the libraries' chatter out of our output.

    smartnoise and AIM `print` diagnostics to stdout, which would break `--json`'s
    one-object contract; they go to the debug log instead. smartnoise also hands mbi
    DataFrames internally, which mbi 1.1 warns about on every call.
    """
    captured = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(captured):
        warnings.filterwarnings("ignore", message="Pandas dataframe inputs are deprecated")
        warnings.filterwarnings("ignore", message="Secure RNG turned off")
        warnings.filterwarnings("ignore", category=UserWarning, module="opacus")
        warnings.filterwarnings("ignore", category=FutureWarning, module="torch")
        yield
    if captured.getvalue().strip():
        log.debug("synthesizer output: %s", captured.getvalue().strip())


class DeclaredCodes(ColumnTransformer):
    """A column already encoded to 0..size-1 over a public domain: nothing to learn from data."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.output_width = 1
        self._fit_complete = True

    @property
    def output_type(self) -> ColumnType:
        return ColumnType.CATEGORICAL

    @property
    def cardinality(self) -> list[int]:
        return [self.size]

    def _clear_fit(self) -> None:
        """Nothing is ever fit from data, so there is nothing to clear."""

    def _fit(self, val: int) -> None:  # pragma: no cover - never called: fit is complete
        raise AssertionError("DeclaredCodes must not be fit on data")

    def _transform(self, val: int) -> int:
        return int(val)

    def _inverse_transform(self, val: int) -> int:
        return int(val)


class DeclaredOneHot(OneHotEncoder):
    """One-hot over `size` declared codes, for the GANs: its width comes from the spec, not from max(data)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.max = size - 1
        self.output_width = size
        self._fit_complete = True

    def _clear_fit(self) -> None:
        """Nothing is ever fit from data, so there is nothing to clear."""

    def _fit(self, val: int) -> None:  # pragma: no cover - never called: fit is complete
        raise AssertionError("DeclaredOneHot must not be fit on data")


class _MarginalMST(MSTSynthesizer):
    """smartnoise's MST, reading the data only through `Marginals`, with OS-drawn selections.

    The library's `MST` hands its estimator the exact row count (`len(data.df)`) as a known
    total: under add/remove neighbours that count is not covered by the Gaussian measurements'
    analysis. Here the total is the minimum-variance estimate from the noisy 1-way marginals,
    which is post-processing. The library also compresses the domain by rewriting every row;
    here compression merges codes in the counts (`Marginals.compressed`), so the rows never
    need to be in memory.
    """

    def exponential_mechanism(self, q, eps, sensitivity, prng=None, monotonic=False):  # noqa: ANN001, ANN201
        return super().exponential_mechanism(q, eps, sensitivity, prng=_OsChoice(), monotonic=monotonic)

    def fit_marginals(self, data: Marginals) -> None:
        rho = cdp_rho(self.epsilon, self.delta)
        sigma = np.sqrt(3 / (2 * rho))
        log1 = self.measure(data, [(col,) for col in data.domain], sigma)
        total = max(1.0, float(estimation.minimum_variance_unbiased_total(log1)))
        data, log1, self.undo_compress_fn = self.compress_domain(data, log1)
        cliques = self.select(data, rho / 3.0, log1, total)
        log2 = self.measure(data, cliques, sigma)
        self.synthesizer = estimation.mirror_descent(data.domain, log1 + log2, known_total=total, iters=5000,
                                                     marginal_oracle=marginal_oracles.message_passing_stable)

    def select(self, data: Marginals, rho: float, measurement_log: list, total: float) -> list[tuple[str, str]]:
        """The library's selection of a spanning tree of pairs, scoring each pair on the
        independent model's marginal from numpy (`model_marginals`): mbi's eager JAX compiled
        and kept a program per pair, about 2.5 GiB on Adult at any table size."""
        est = estimation.mirror_descent(data.domain, measurement_log, known_total=float(total), iters=1000,
                                        marginal_oracle=marginal_oracles.message_passing_stable)
        candidates = list(itertools.combinations(data.domain.attrs, 2))
        independent = model_marginals.Model(est.potentials, total)
        weights = {cl: np.linalg.norm(data.project(cl).datavector() - independent.project(cl), 1) for cl in candidates}
        components, edges = DisjointSet(), []
        epsilon = np.sqrt(8 * rho / (len(data.domain.attrs) - 1))
        for _ in range(len(data.domain.attrs) - 1):
            candidates = [e for e in candidates if not components.connected(*e)]
            edge = candidates[self.exponential_mechanism(np.array([weights[e] for e in candidates]), epsilon, 1.0)]
            components.union(*edge)
            edges.append(edge)
        return edges

    def transform_data(self, data: Marginals, supports: dict[str, np.ndarray]) -> Marginals:
        return data.compressed(supports)


def marginal_oracle_for(domain: object, cliques: list[tuple[str, ...]]) -> Callable:
    """mbi's log-space oracle while the model's junction tree is small, its einsum oracle past
    `STABLE_ORACLE_MAX_CELLS` cells in one junction-tree clique.

    The log-space oracle materializes every junction-tree clique and is the quicker of the two on
    small models, where the einsum oracle compiles a larger program (one 250-step estimate over a
    100k-row model's many small cliques: 16.7 s against 42.8 s). Past a million rows AIM affords
    larger marginals, their union grows a junction-tree clique of millions of cells, and the same
    estimate on a 12M-cell clique took 337 s with it against 44 s with the einsum oracle; near a
    million cells the two are close (docs/synthesis.md). Which oracle runs is a function of the
    cliques chosen so far, already private, so the guarantee is untouched.
    """
    tree, _ = junction_tree.make_junction_tree(domain, [set(cl) for cl in cliques])
    largest = max(domain.size(cl) for cl in junction_tree.maximal_cliques(tree))
    if largest > STABLE_ORACLE_MAX_CELLS:
        return marginal_oracles.message_passing_fast
    return marginal_oracles.message_passing_stable


class _MarginalAIM(AIMSynthesizer):
    """smartnoise's AIM, reading the data only through `Marginals`, each estimate warm-started.

    The library refits the graphical model from zero potentials in every round; Private-PGM's
    reference AIM starts each round from the previous round's potentials, which converges in
    far fewer steps. Warm starts change only the optimizer's starting point, which is
    post-processing of the noisy measurements, so the privacy analysis is untouched.
    `round_iters` steps are taken per round and `final_iters` at the end.
    """

    def __init__(self, *args: object, round_iters: int = 250, final_iters: int = 1000, focus: str | None = None,
                 merge_mass: float = 5.0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.round_iters, self.final_iters, self.focus = round_iters, final_iters, focus
        self.merge_mass = merge_mass
        self.splitters: dict[str, ordered_runs.RunSplitter] = {}

    def fit_marginals(self, data: Marginals) -> None:
        self.rho = cdp_rho(self.epsilon, self.delta)
        workload = self.get_workload(data, degree=self.degree, max_cells=self.max_cells,
                                     num_marginals=self.num_marginals)
        self.AIM(data, workload + self._focused(data))

    def _focused(self, data: Marginals) -> list[tuple[str, ...]]:
        """Every (degree + 1)-way marginal holding the focus column, within `max_cells`.

        AIM spends its rounds on the workload's worst-approximated marginals; a consumer who
        predicts one column needs its joint distribution with pairs of the others, which an
        all-pairs workload never asks for. The workload is public (it comes from the spec),
        so this changes what is measured, not the guarantee.
        """
        if self.focus is None:
            return []
        others = [a for a in data.domain if a != self.focus]
        cliques = [(self.focus, *rest) for rest in itertools.combinations(others, self.degree)]
        return [cl for cl in cliques if data.domain.size(cl) <= self.max_cells]

    def _estimate(self, data: Marginals, measurements: list, potentials: object, iters: int) -> object:
        oracle = marginal_oracle_for(data.domain, [m.clique for m in measurements])
        return estimation.mirror_descent(data.domain, measurements, potentials=potentials, iters=iters,
                                         marginal_oracle=oracle)

    @staticmethod
    def _project(model: object, clique: tuple[str, ...]) -> np.ndarray:
        return model_marginals.Model(model.potentials, model.total).project(clique)

    def _worst_approximated(self, candidates: dict, answers: dict, model: object, eps: float, sigma: float) -> tuple:
        """The library's selection, scoring each candidate on the model's marginal from numpy
        (`model_marginals`): mbi's eager JAX compiles a program per candidate shape and keeps it."""
        scored = model_marginals.Model(model.potentials, model.total)
        errors = {cl: weight * (np.linalg.norm(answers[cl] - scored.project(cl), 1)
                                - np.sqrt(2 / np.pi) * sigma * model.domain.size(cl))
                  for cl, weight in candidates.items()}
        return _aim_module.exponential_mechanism(errors, eps, max(abs(w) for w in candidates.values()))

    @staticmethod
    def _affordable(candidates: dict, model: object, size_limit: float) -> dict:
        """The candidates whose measurement keeps the model's junction tree within `size_limit`
        megabytes, plus those already inside one of its cliques.

        smartnoise's `filter_candidates` sums the measured cliques' sizes, which says nothing
        of the junction tree their union triangulates into: at 10M rows, where the noise is
        small and AIM measures many pairs, pairs of at most ten thousand cells grew a 9.25M-cell
        clique, and scoring one more pair against it by variable elimination raised the fit's peak
        from 2,389 to 5,837 MiB. Private-PGM's reference AIM bounds the junction tree itself
        (`hypothetical_model_size`), which also bounds every elimination the selection runs.
        The bound depends only on cliques already chosen, so the guarantee is untouched.
        """
        free = set(_aim_module.downward_closure(model.cliques))
        return {cl: weight for cl, weight in candidates.items()
                if cl in free or junction_tree.hypothetical_model_size(model.domain, [*model.cliques, cl]) <= size_limit}

    def _merge_runs(self, data: Marginals, oneway: list[LinearMeasurement],
                    sigma: float) -> tuple[Marginals, list[LinearMeasurement]]:
        """Merge each ordered column's sparse adjacent bins into runs holding at least
        `merge_mass` times the noise's standard deviation in noisy rows (`ordered_runs`), and
        restate the one-way measurements over the runs.

        The runs are read off the noisy one-way marginals, so this is post-processing. A run's
        measurement is the sum of its bins' noisy counts, whose noise has k times the variance;
        it is stated scaled by 1/sqrt(k), so every measurement keeps noise of deviation `sigma`
        as the estimator assumes. The focus column keeps its bins: it is what consumers predict.
        Sampling draws runs back apart (`RunSplitter`). On Adult at epsilon 1, focused, this
        raised mean TSTR accuracy by about 0.3 points (docs/synthesis.md, "Measured").
        """
        maps, noisy = {}, {}
        for m in oneway:
            col = m.clique[0]
            if col == self.focus or self.merge_mass <= 0 or data.ordered.get(col, 0) < 2:
                continue
            values = np.asarray(m.noisy_measurement)
            mapping = ordered_runs.runs(values, data.ordered[col], self.merge_mass * sigma)
            if mapping.max() + 1 < mapping.size:
                maps[col], noisy[col] = mapping, values
        self.splitters = {col: ordered_runs.RunSplitter(maps[col], noisy[col]) for col in maps}
        if not maps:
            return data, oneway
        restated = []
        for m in oneway:
            col = m.clique[0]
            if col not in maps:
                restated.append(m)
                continue
            scale = np.sqrt(np.bincount(maps[col]))
            summed = np.bincount(maps[col], weights=noisy[col]) / scale
            restated.append(LinearMeasurement(summed, m.clique, sigma, query=_scaled_vector(scale)))
        return data.merged(maps), restated

    def AIM(self, data: Marginals, workload: list[tuple[str, ...]]) -> None:  # noqa: N802 - the library's name
        rounds = self.rounds or 16 * len(data.domain)
        candidates = _aim_module.compile_workload(workload)
        answers = {cl: data.project(cl).datavector() for cl in candidates}
        sigma = np.sqrt(rounds / (2 * 0.9 * self.rho))
        epsilon = np.sqrt(8 * 0.1 * self.rho / rounds)
        oneway = [cl for cl in candidates if len(cl) == 1]
        rho_used = len(oneway) * 0.5 / sigma ** 2
        measurements = [LinearMeasurement(answers[cl] + np.asarray(gaussian_noise(sigma, answers[cl].size)), cl, sigma)
                        for cl in oneway]
        data, measurements = self._merge_runs(data, measurements, sigma)
        answers = {cl: data.project(cl).datavector() for cl in candidates}
        model = self._estimate(data, measurements, None, self.round_iters)
        terminate = False
        while not terminate:
            if self.rho - rho_used < 2 * (0.5 / sigma ** 2 + 1.0 / 8 * epsilon ** 2):
                remaining = self.rho - rho_used
                sigma = np.sqrt(1 / (2 * 0.9 * remaining))
                epsilon = np.sqrt(8 * 0.1 * remaining)
                terminate = True
            rho_used += 1.0 / 8 * epsilon ** 2 + 0.5 / sigma ** 2
            size_limit = self.max_model_size * rho_used / self.rho
            small = self._affordable(candidates, model, size_limit)
            cl = self._worst_approximated(small, answers, model, epsilon, sigma)
            n = data.domain.size(cl)
            y = answers[cl] + np.asarray(gaussian_noise(sigma, n))
            before = self._project(model, cl)
            measurements.append(LinearMeasurement(y, cl, sigma))
            model = self._estimate(data, measurements, model.potentials, self.round_iters)
            after = self._project(model, cl)
            if np.linalg.norm(after - before, 1) <= sigma * np.sqrt(2 / np.pi) * n:
                sigma /= 2
                epsilon *= 2
        self.synthesizer = self._estimate(data, measurements, model.potentials, self.final_iters)


def _scaled_vector(scale: np.ndarray) -> Callable[[object], object]:
    """A measurement query: the marginal's vector divided elementwise by `scale`."""
    divisor = jnp.asarray(scale)
    return lambda factor: factor.datavector() / divisor


def _names(codes: pd.DataFrame | pl.LazyFrame) -> list[str]:
    return list(codes.columns) if isinstance(codes, pd.DataFrame) else codes.collect_schema().names()


def _in_memory(codes: pd.DataFrame | pl.LazyFrame) -> pd.DataFrame:
    """MWEM and the GANs read rows, not marginals: they need the coded table in memory."""
    return codes if isinstance(codes, pd.DataFrame) else codes.collect(engine="streaming").to_pandas()


class Synthesizer:
    """Fit on integer codes with declared cardinalities; sample codes back.

    `options` are the synthesizer's own parameters, checked against the table the spec
    validates with (`Privacy.OPTIONS`), so an unknown or mistyped one is refused by name.
    """

    name: ClassVar[str]
    _factory: ClassVar[Callable[..., object]]

    def __init__(self, epsilon: float, delta: float, options: dict[str, object] | None = None) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.options = dict(options or {})
        problems = Privacy.option_problems(self.name, self.options)
        if problems:
            raise ValueError("; ".join(problems))
        self._model: object | None = None
        self._columns: list[str] = []

    def spend(self) -> Spend:
        """What fitting will cost: MST and AIM run at the zCDP rho that meets (epsilon, delta)."""
        return Spend(self.epsilon, self.delta, f"smartnoise-synth {self.name} (zCDP)",
                     accounting.rho_for(self.epsilon, self.delta))

    def fit(self, codes: pd.DataFrame | pl.LazyFrame, cardinalities: list[int],
            ordered: Sequence[int] | None = None) -> None:
        """Fit on coded rows: a frame in memory, or a LazyFrame (say, a parquet scan) that MST
        and AIM read only through streamed marginal counts.

        `ordered[i]` says how many leading codes of column i are ordered bins of a number or
        date (`TableCodec.ordered_codes`): AIM merges sparse runs of them; the others ignore it."""
        model = type(self)._factory(epsilon=self.epsilon, delta=self.delta, **self._factory_options(_names(codes)))
        with _quiet_library():
            model.fit_marginals(Marginals.of(codes, cardinalities, ordered))
        self._model = model
        self._columns = _names(codes)

    def _factory_options(self, names: list[str]) -> dict[str, object]:
        """The spec's options as the library mechanism takes them, for coded columns `names`."""
        return dict(self.options)

    def sample(self, rows: int) -> pd.DataFrame:
        """Draw `rows` coded rows from the fitted model: pure post-processing."""
        if self._model is None:
            raise RuntimeError("sample() before fit()")
        with _quiet_library():
            codes = self._draw(rows)
        return pd.DataFrame(np.asarray(codes, dtype=np.int64), columns=self._columns)

    def sample_batches(self, rows: int, batch_rows: int = SAMPLE_BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """`rows` coded rows in batches of at most `batch_rows`, so memory follows the batch, not the release.

        Every synthesizer here draws rows independently from its fitted model, so batches
        concatenate to the same distribution as one draw.
        """
        for start in range(0, rows, batch_rows):
            yield self.sample(min(batch_rows, rows - start))

    def _draw(self, rows: int) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: str) -> None:
        with open(path, "wb") as fh:
            dill.dump(self, fh)

    @staticmethod
    def load(path: str) -> Synthesizer:
        with open(path, "rb") as fh:
            return dill.load(fh)


class _GraphicalModel(Synthesizer):
    """A synthesizer that ends with a Private-PGM model and draws rows with `RowSampler`.

    The sampler (the model's marginals and conditional tables) is built on the first draw and
    kept for the following batches; it is rebuilt after loading rather than saved with the model.
    """

    _sampler: RowSampler | None = None

    def _rows(self, rows: int) -> dict[str, np.ndarray]:
        if self._sampler is None:
            self._sampler = RowSampler(self._model.synthesizer)
        return self._sampler.draw(rows, np.random.default_rng())

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_sampler"}


class MST(_GraphicalModel):
    """Private-PGM's MST. Rows are drawn i.i.d. from the fitted model.

    mbi's default "round" sampler fills each column by the rows' rank within their parent
    group, which makes sibling columns correlate through row order (on the demo table it
    triples the 2-way marginal error); independent draws do not.
    """

    name = "mst"
    _factory = _MarginalMST

    def _draw(self, rows: int) -> np.ndarray:
        data = Dataset(self._rows(rows), self._model.synthesizer.domain)
        return self._model.undo_compress_fn(data).df.to_numpy()


class AIM(_GraphicalModel):
    """Private-PGM's AIM, the default: workload-aware, and the best per epsilon on published benchmarks."""

    name = "aim"
    _factory = _MarginalAIM

    def _factory_options(self, names: list[str]) -> dict[str, object]:
        """`focus` names a column; the mechanism sees columns as `col0..colN-1`, in order."""
        options = dict(self.options)
        if "focus" in options:
            if options["focus"] not in names:
                raise ValueError(f"options.focus: {options['focus']!r} is not among the modelled columns")
            options["focus"] = f"col{names.index(options['focus'])}"
        return options

    def _draw(self, rows: int) -> np.ndarray:
        drawn = self._rows(rows)
        rng = np.random.default_rng()
        for col, splitter in self._model.splitters.items():
            drawn[col] = splitter.split(drawn[col], rng)
        return np.column_stack([drawn[f"col{i}"] for i in range(len(self._columns))])


class _DeclaredMWEM(MWEMSynthesizer):
    """smartnoise's MWEM with its two data-derived shortcuts replaced.

    The library sizes each histogram from the data's per-column min and max (a rare top
    code would change the domain) and starts from the exact row count (not DP under
    add/remove neighbours). Here sizes are the declared cardinalities and the total is a
    DP count, paid for separately.
    """

    def __init__(self, sizes: list[int], rows: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._sizes = sizes
        self._rows = rows

    def _histogram_from_data_attributes(self, data, splits=()):  # noqa: ANN001, ANN201 - library signature
        histograms = []
        for split in splits:
            dims = [self._sizes[i] for i in split]
            for i in split:
                self.mins_maxes[str(i)] = (0, self._sizes[i] - 1)
                self.scale[str(i)] = 1
            flat = np.ravel_multi_index(tuple(data[:, i].astype(np.int64) for i in split), dims)
            counts = np.bincount(flat, minlength=math.prod(dims)).reshape(dims).astype(np.float64)
            histograms.append(Histogram(counts, dims, dims, split))
        return histograms

    def _initialize_a(self, histogram, dimensions):  # noqa: ANN001, ANN201 - library signature
        return np.full(histogram.shape, self._rows / math.prod(dimensions), dtype=np.float64)


def _splits(cardinalities: list[int], max_cells: int) -> list[list[int]]:
    """Consecutive column groups whose joint histogram has at most `max_cells` cells.

    MWEM keeps one dense histogram per group and treats groups as independent, so this
    trades cross-group correlations for memory; it depends on the declared sizes only.
    """
    groups: list[list[int]] = [[]]
    cells = 1
    for i, k in enumerate(cardinalities):
        if groups[-1] and cells * k > max_cells:
            groups.append([])
            cells = 1
        groups[-1].append(i)
        cells *= k
    return groups


class MWEM(Synthesizer):
    """MWEM (Hardt, Ligett, McSherry 2012): pure epsilon-DP, for small domains.

    `count_share` of epsilon (default 5%) buys a DP row total; the rest runs MWEM. Without
    `iterations` or `marginal_width`, both follow the library's own rule, applied to the
    DP total instead of the exact one.
    """

    name = "mwem"
    DEFAULT_COUNT_SHARE = 0.05
    DEFAULT_MAX_CELLS = 10_000

    def _shares(self) -> tuple[float, float]:
        count_eps = self.epsilon * float(self.options.get("count_share", self.DEFAULT_COUNT_SHARE))
        return count_eps, self.epsilon - count_eps

    def spend(self) -> Spend:
        count_eps, mwem_eps = self._shares()
        count = accounting.pure(float(dp_domain.count_measurement(count_eps).map(1)), "OpenDP discrete Laplace row count")
        return accounting.compose([count, accounting.pure(mwem_eps, "smartnoise-synth mwem (pure DP)")])

    def fit(self, codes: pd.DataFrame | pl.LazyFrame, cardinalities: list[int],
            ordered: Sequence[int] | None = None) -> None:
        codes = _in_memory(codes)
        count_eps, mwem_eps = self._shares()
        rows, _ = dp_domain.noisy_count(len(codes), count_eps)
        rows = max(rows, 1)
        o = self.options
        iterations = int(o.get("iterations", int(np.ceil(np.log10(max(rows, 10)))) * 10))
        model = _DeclaredMWEM(
            cardinalities, rows, epsilon=mwem_eps, iterations=iterations,
            q_count=o.get("q_count"), marginal_width=int(o.get("marginal_width", 3 if rows > 10_000 else 2)),
            mult_weights_iterations=int(o.get("mult_weights_iterations", 20)),
            splits=_splits(cardinalities, int(o.get("max_cells", self.DEFAULT_MAX_CELLS))),
        )
        transformer = TableTransformer([DeclaredCodes(k) for k in cardinalities])
        with _quiet_library():
            model.fit(codes.to_numpy(dtype=np.int64), transformer=transformer, preprocessor_eps=0.0)
        # keep only the synthetic histograms: the real ones are the data, and must not be saved with the model
        model.synthetic_histograms = [(synth, None, split) for synth, _real, split in model.synthetic_histograms]
        model.data = model.histograms = model.real_data = None
        self._model = model
        self._columns = list(codes.columns)

    def _draw(self, rows: int) -> np.ndarray:
        rng = np.random.default_rng()  # post-processing of a DP histogram: any generator will do
        out = np.zeros((rows, len(self._columns)), dtype=np.int64)
        for synth, _, split in self._model.synthetic_histograms:
            p = np.ravel(synth) / synth.sum()
            cells = rng.choice(p.size, size=rows, p=p)
            for j, col in zip(np.unravel_index(cells, synth.shape), split):
                out[:, col] = j
        return out


class _UniformRows:
    """The GANs' row sampler without its data-derived conditional vectors.

    The library's `DataSampler` draws conditions from the exact category frequencies of the
    data and then picks real rows holding that category, so rare values are oversampled and
    the frequencies leak into every generated batch; no accountant covers either. This one
    draws rows uniformly at random (what the DP-SGD accountant assumes) from a numpy
    generator seeded by the OS, and offers no conditions.
    """

    def __init__(self, data: np.ndarray, transformers: object, *_: object, **__: object) -> None:
        self._data = data
        self._rng = np.random.default_rng()

    def sample_condvec(self, batch: int) -> None:
        return None

    def sample_original_condvec(self, batch: int) -> None:
        return None

    def sample_data(self, n: int, col: object, opt: object) -> np.ndarray:
        return self._data[self._rng.integers(len(self._data), size=n)]

    def dim_cond_vec(self) -> int:
        return 0

    @property
    def discrete_column_category_prob(self) -> None:
        return None


@contextmanager
def _uniform_rows(module: object) -> Iterator[None]:
    """Swap a GAN module's `DataSampler` for `_UniformRows` while it trains."""
    original = module.DataSampler
    module.DataSampler = _UniformRows
    try:
        yield
    finally:
        module.DataSampler = original


def _os_pate(data, teachers, lap_scale, device="cpu"):  # noqa: ANN001, ANN201 - library signature
    """PATE's noisy vote, with OpenDP's Laplace noise instead of numpy's seedable global generator."""
    import torch

    labels = torch.stack([(t(data) > 0.5).type(torch.int64).squeeze() for t in teachers])
    votes = labels.sum(dim=0).unsqueeze(1).type(torch.DoubleTensor).to(device)
    laplace = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float),
                                1.0 / lap_scale)
    noisy = torch.tensor(laplace(votes.squeeze(1).tolist()), dtype=torch.float64).unsqueeze(1).to(device)
    return (noisy > len(teachers) / 2).type(torch.DoubleTensor).to(device), votes


class _Gan(Synthesizer):
    """A smartnoise GAN fitted on one-hot declared codes, unconditionally (see `_UniformRows`)."""

    _module: ClassVar[str]

    def spend(self) -> Spend:
        """(epsilon, delta) from the library's own accountant; it gives no zCDP rho."""
        return Spend(self.epsilon, self.delta, f"smartnoise-synth {self.name} (RDP accountant)")

    def _kwargs(self, rows: int) -> dict[str, object]:
        return dict(self.options)

    def fit(self, codes: pd.DataFrame | pl.LazyFrame, cardinalities: list[int],
            ordered: Sequence[int] | None = None) -> None:
        codes = _in_memory(codes)
        module = importlib.import_module(self._module)
        model = type(self)._factory(epsilon=self.epsilon, delta=self.delta, cuda=False, verbose=False,
                                    **self._kwargs(len(codes)))
        transformer = TableTransformer([DeclaredOneHot(k) for k in cardinalities])
        with _quiet_library(), _uniform_rows(module):
            model.fit(codes.to_numpy(dtype=np.int64), transformer=transformer, preprocessor_eps=0.0)
        for sampler in (getattr(model, "_data_sampler", None), getattr(model, "cond_generator", None)):
            if sampler is not None:
                sampler._data = None  # the training rows must not be saved with the model
        self._model = model
        self._columns = list(codes.columns)

    def _draw(self, rows: int) -> np.ndarray:
        return np.asarray(self._model.sample(rows), dtype=np.int64).reshape(rows, len(self._columns))


def _dpctgan(**kwargs: object) -> object:
    from snsynth.pytorch.nn.dpctgan import DPCTGAN as Model

    return Model(**kwargs)


def _patectgan(**kwargs: object) -> object:
    import snsynth.pytorch.nn.patectgan as module

    module.pate = _os_pate
    return module.PATECTGAN(**kwargs)


class DPCTGAN(_Gan):
    """smartnoise's DP-SGD CTGAN, with its epoch count fixed before training from the budget.

    The library checks its accountant at the start of each epoch, so the last epoch can
    overshoot epsilon. Here the number of epochs is the largest one (up to `epochs`,
    default 300) whose opacus RDP accounting stays within (epsilon, delta) for the training
    table's size, computed before the first step.
    """

    name = "dpctgan"
    _factory = staticmethod(_dpctgan)
    _module = "snsynth.pytorch.nn.dpctgan"
    _ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))  # the library's own

    def _kwargs(self, rows: int) -> dict[str, object]:
        kwargs = {"epochs": 300, "batch_size": 500, "sigma": 5.0, "max_per_sample_grad_norm": 1.0, **self.options}
        kwargs["epochs"] = self.affordable_epochs(rows, int(kwargs["batch_size"]), float(kwargs["sigma"]),
                                                  int(kwargs["epochs"]))
        return kwargs

    def _epsilon_after(self, epochs: int, rows: int, batch: int, sigma: float) -> float:
        from opacus import privacy_analysis

        # two optimizer steps per batch (fake, then real), each accounted at rate batch / rows
        steps = 2 * max(rows // batch, 1) * epochs
        rdp = privacy_analysis.compute_rdp(min(batch / rows, 1.0), sigma, steps, self._ORDERS)
        return float(privacy_analysis.get_privacy_spent(self._ORDERS, rdp, self.delta)[0])

    def affordable_epochs(self, rows: int, batch: int, sigma: float, requested: int) -> int:
        """The most epochs, up to `requested`, that (epsilon, delta) pays for."""
        lo, hi = 0, requested
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._epsilon_after(mid, rows, batch, sigma) <= self.epsilon:
                lo = mid
            else:
                hi = mid - 1
        if lo == 0:
            raise ValueError(f"dpctgan: epsilon {self.epsilon} does not pay for one epoch at sigma {sigma} "
                             f"and batch_size {batch}; raise epsilon or sigma")
        return lo


class PATECTGAN(_Gan):
    """smartnoise's PATE CTGAN. Its accountant is data-dependent (it reads the teachers' vote
    margins) and it stops on that estimate, so the spec must opt in explicitly."""

    name = "patectgan"
    _factory = staticmethod(_patectgan)
    _module = "snsynth.pytorch.nn.patectgan"

    def _kwargs(self, rows: int) -> dict[str, object]:
        return {k: v for k, v in self.options.items() if k != "accept_data_dependent_accounting"}


REGISTRY: dict[str, type[Synthesizer]] = {}


def register(cls: type[Synthesizer]) -> type[Synthesizer]:
    """Add a synthesizer under its name; a second one with the same name is a bug."""
    if cls.name in REGISTRY:
        raise ValueError(f"synthesizer {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls
    return cls


for _cls in (MST, AIM, MWEM, DPCTGAN, PATECTGAN):
    register(_cls)


def create(name: str, epsilon: float, delta: float, options: dict[str, object] | None = None) -> Synthesizer:
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown synthesizer {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    return cls(epsilon, delta, options)


@dataclass(frozen=True)
class RunPlan:
    """Every mechanism a run will use, each with its declared spend, and their total.

    The ledger reserves `total`; nothing else may be charged, and nothing else may run.
    """

    estimation: tuple[Spend, ...]
    synthesizer: Synthesizer
    total: Spend


def plan(spec: ReleaseSpec) -> RunPlan:
    """Split the release's (epsilon, delta) between DP domain estimation and the synthesizer.

    Estimation spends what each `estimate` column declares; the synthesizer gets the rest
    of epsilon and of delta. The total is composed from what the mechanisms declare, so it
    never exceeds the spec's (epsilon, delta), and the ledger reserves exactly it.
    """
    p = spec.privacy
    columns = list(spec.modelled_columns)
    estimation = dp_domain.estimation_spends(columns, p.delta)
    epsilon = p.epsilon - math.fsum(s.epsilon for s in estimation)
    delta = p.delta - math.fsum(s.delta for s in estimation)
    if epsilon <= 0:
        raise ValueError(f"privacy.epsilon {p.epsilon} leaves nothing for the synthesizer after the columns' "
                         "estimate_epsilon; lower those or raise epsilon")
    options = dict(p.options)
    if p.synthesizer == "aim" and spec.gates.quality.target and "focus" not in options:
        options["focus"] = spec.gates.quality.target  # model what the quality gate's TSTR check predicts
    model = create(p.synthesizer, epsilon, delta, options)
    return RunPlan(tuple(estimation), model, accounting.compose([*estimation, model.spend()]))


__all__ = ["AIM", "DPCTGAN", "MST", "MWEM", "PATECTGAN", "REGISTRY", "RunPlan", "Spend", "Synthesizer",
           "create", "plan", "register"]
