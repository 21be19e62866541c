"""Gates: checks that must pass before anything is published.

Every gate returns the same result shape, which goes verbatim into the manifest and the
report. A gate that raises is a failed gate, never a skipped one (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GateResult:
    """One check's verdict. `value` and `threshold` are aggregates, never data values."""

    gate: str
    metric: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        if self.value is None:
            return f"{self.gate}.{self.metric}: {self.detail}"
        return f"{self.gate}.{self.metric} = {self.value:g} (threshold {self.threshold:g}) {self.detail}".rstrip()


def errored(gate: str, metric: str, exc: BaseException) -> GateResult:
    """A gate that could not be computed: a failure, named by its exception type only.

    The message of an exception raised while reading data could quote a value, so only the
    type goes into the result that may be published.
    """
    return GateResult(gate, metric, False, None, None, f"errored ({type(exc).__name__}); the run log has the trace")


def guarded(gate: str, metric: str, judge: Callable[[], GateResult]) -> GateResult:
    """`judge()`, or `errored(...)` when it raises: a metric that cannot be computed fails, never skips."""
    try:
        return judge()
    except Exception as exc:  # noqa: BLE001 - any failure must fail the gate, not the run silently
        return errored(gate, metric, exc)


def uniform_rows(table: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Up to `max_rows` rows drawn uniformly without replacement, kept in table order.

    Statistical checks converge long before ten million rows while their memory and time keep
    growing with the table; a uniform sample keeps them honest estimates of the same figures.
    """
    if len(table) <= max_rows:
        return table
    return table.iloc[np.sort(rng.choice(len(table), max_rows, replace=False))]
