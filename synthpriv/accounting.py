"""Privacy accounting: turning what mechanisms spent into totals the ledger can enforce.

Basic sequential composition adds epsilons and deltas. MST and AIM are zero-concentrated
DP (zCDP) mechanisms: each (epsilon, delta) release runs at a rho found by OpenDP, and
rhos add up, so k releases cost far less than k * epsilon when converted back to
(epsilon, delta) once. Both conversions go through OpenDP's own zCDP-to-approximate-DP
conversion, the same one smartnoise-synth uses to pick its noise, so the accounting and the
mechanism cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import opendp.prelude as dp

dp.enable_features("contrib", "floating-point")

_DOMAIN = dp.atom_domain(T=float, nan=False)
_METRIC = dp.absolute_distance(T=float)


def _gaussian(scale: float):  # noqa: ANN202 - an OpenDP Measurement
    return dp.m.make_gaussian(_DOMAIN, _METRIC, scale)


@lru_cache(maxsize=1024)
def rho_for(epsilon: float, delta: float) -> float:
    """The zCDP rho at which a mechanism meets (epsilon, delta): what MST and AIM run at."""
    if delta <= 0:
        raise ValueError("a zCDP mechanism needs delta > 0 to state an (epsilon, delta) guarantee")

    def profile(scale: float):  # noqa: ANN202
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(_gaussian(scale)), delta=delta)

    scale = dp.binary_search_param(profile, d_in=1.0, d_out=(epsilon, delta))
    return float(_gaussian(scale).map(d_in=1.0))


def epsilon_for(rho: float, delta: float) -> float:
    """The epsilon a total rho amounts to at `delta` (OpenDP's conversion)."""
    if rho <= 0:
        return 0.0
    scale = math.sqrt(1.0 / (2.0 * rho))
    eps, _ = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(_gaussian(scale)), delta=delta).map(d_in=1.0)
    return float(eps)


@dataclass(frozen=True)
class Spend:
    """Privacy loss of one mechanism: (epsilon, delta), and its rho where it is zCDP.

    Mechanisms declare this before they touch the data; the run adds the declarations up
    (`compose`) instead of trusting a number written anywhere else.
    """

    epsilon: float
    delta: float
    mechanism: str
    rho: float | None = None


def pure(epsilon: float, mechanism: str) -> Spend:
    """The spend of a pure epsilon-DP mechanism; it is also (epsilon^2 / 2)-zCDP (Bun & Steinke 2016)."""
    return Spend(epsilon, 0.0, mechanism, epsilon * epsilon / 2.0)


def compose(spends: list[Spend]) -> Spend:
    """Basic sequential composition of a run's mechanisms, naming each.

    Epsilons and deltas add; rhos add too, but only when every part is zCDP, since a part
    with only an (epsilon, delta) guarantee has no rho to contribute.
    """
    if not spends:
        raise ValueError("a run must spend through at least one mechanism")
    rhos = [s.rho for s in spends]
    return Spend(
        epsilon=math.fsum(s.epsilon for s in spends),
        delta=math.fsum(s.delta for s in spends),
        mechanism=" + ".join(s.mechanism for s in spends),
        rho=math.fsum(rhos) if all(r is not None for r in rhos) else None,
    )
