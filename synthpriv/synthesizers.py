"""DP synthesizers behind one interface, fitted only on codes over a declared domain.

smartnoise-synth does the DP work (MST and AIM from Private-PGM, noise from OpenDP). We
hand it a transformer whose cardinalities come from the spec and that is already "fit",
so the library's data-derived inference of types, categories and bounds never runs.
The selection steps of MST and AIM draw from an exponential mechanism that the library
samples with numpy's global generator; we route those draws through the operating
system's generator instead, so no seed anywhere can make them predictable.

Each synthesizer declares its privacy spend up front (`spend`), so the run adds up what
the mechanisms say they cost rather than trusting a number written elsewhere.
"""

from __future__ import annotations

import io
import logging
import random
import warnings
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator

import dill
import numpy as np
import pandas as pd
import snsynth.utils as _snsynth_utils
from snsynth.aim import AIMSynthesizer
from snsynth.aim import aim as _aim_module
from snsynth.mst import MSTSynthesizer
from snsynth.transform.base import ColumnTransformer
from snsynth.transform.definitions import ColumnType
from snsynth.transform.table import TableTransformer

from synthpriv import accounting

_OS_RANDOM = random.SystemRandom()
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


class _OsRandomMST(MSTSynthesizer):
    def exponential_mechanism(self, q, eps, sensitivity, prng=None, monotonic=False):  # noqa: ANN001, ANN201
        return super().exponential_mechanism(q, eps, sensitivity, prng=_OsChoice(), monotonic=monotonic)


@dataclass(frozen=True)
class Spend:
    """Privacy loss of one mechanism: (epsilon, delta), and its rho where it is zCDP."""

    epsilon: float
    delta: float
    mechanism: str
    rho: float | None = None


class Synthesizer:
    """Fit on integer codes with declared cardinalities; sample codes back."""

    name: ClassVar[str]
    _factory: ClassVar[Callable[..., object]]

    def __init__(self, epsilon: float, delta: float, options: dict[str, object] | None = None) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.options = dict(options or {})
        self._model: object | None = None
        self._columns: list[str] = []

    def spend(self) -> Spend:
        """What fitting will cost. Preprocessing is free: every domain is public metadata."""
        return Spend(self.epsilon, self.delta, f"smartnoise-synth {self.name} (zCDP)",
                     accounting.rho_for(self.epsilon, self.delta))

    def fit(self, codes: pd.DataFrame, cardinalities: list[int]) -> None:
        model = type(self)._factory(epsilon=self.epsilon, delta=self.delta, **self.options)
        transformer = TableTransformer([DeclaredCodes(k) for k in cardinalities])
        with _quiet_library():
            model.fit(codes.to_numpy(dtype=np.int64), transformer=transformer, preprocessor_eps=0.0)
        self._model = model
        self._columns = list(codes.columns)

    def sample(self, rows: int) -> pd.DataFrame:
        """Draw `rows` coded rows i.i.d. from the fitted model: pure post-processing.

        mbi's default "round" sampler fills each column by the rows' rank within their parent
        group, which makes sibling columns correlate through row order (on the demo table it
        triples the 2-way marginal error); independent draws do not.
        """
        if self._model is None:
            raise RuntimeError("sample() before fit()")
        with _quiet_library():
            codes = self._draw(rows)
        return pd.DataFrame(np.asarray(codes, dtype=np.int64), columns=self._columns)

    def _draw(self, rows: int) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: str) -> None:
        with open(path, "wb") as fh:
            dill.dump(self, fh)

    @staticmethod
    def load(path: str) -> Synthesizer:
        with open(path, "rb") as fh:
            return dill.load(fh)


class MST(Synthesizer):
    name = "mst"
    _factory = _OsRandomMST

    def _draw(self, rows: int) -> np.ndarray:
        data = self._model.synthesizer.synthetic_data(rows=rows, method="sample")
        return self._model.undo_compress_fn(data).df.to_numpy()


class AIM(Synthesizer):
    name = "aim"
    _factory = AIMSynthesizer

    def _draw(self, rows: int) -> np.ndarray:
        data = self._model.synthesizer.synthetic_data(rows=rows, method="sample")
        return data.df[[f"col{i}" for i in range(len(self._columns))]].to_numpy()


REGISTRY: dict[str, type[Synthesizer]] = {}


def register(cls: type[Synthesizer]) -> type[Synthesizer]:
    """Add a synthesizer under its name; a second one with the same name is a bug."""
    if cls.name in REGISTRY:
        raise ValueError(f"synthesizer {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls
    return cls


register(MST)
register(AIM)


def create(name: str, epsilon: float, delta: float, options: dict[str, object] | None = None) -> Synthesizer:
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown synthesizer {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    return cls(epsilon, delta, options)


__all__ = ["AIM", "MST", "REGISTRY", "Spend", "Synthesizer", "create", "register"]
