"""Marginals of a fitted Private-PGM model by variable elimination in numpy, not JAX.

AIM scores every candidate marginal against the current model in every round, and MST every
pair against its independent model. mbi answers each with `variable_elimination` in eager
JAX, which compiles and keeps an XLA program for every distinct shape it meets: on Adult's
186 AIM candidates that took 2.8 GB in the first round and was never given back, so peak
memory was set by compiled code, whatever the table's size. The same elimination in numpy
compiles nothing. The model is DP output, so how its marginals are computed is
post-processing; the elimination order is mbi's own (`junction_tree.greedy_order`).
"""

from __future__ import annotations

import numpy as np
from mbi import CliqueVector, Domain, junction_tree
from scipy.special import logsumexp

_Factor = tuple[tuple[str, ...], np.ndarray]  # attributes, log-values with one axis per attribute


def _aligned(factor: _Factor, attrs: tuple[str, ...]) -> np.ndarray:
    """The factor's values with its axes in `attrs` order and size-1 axes for the others."""
    own, values = factor
    ordered = sorted(own, key=attrs.index)
    values = np.transpose(values, [own.index(a) for a in ordered])
    return values.reshape([values.shape[ordered.index(a)] if a in own else 1 for a in attrs])


def _product(factors: list[_Factor], domain: Domain, attrs: tuple[str, ...] = ()) -> _Factor:
    """The product (a sum of log-values) of `factors`, over their attributes after `attrs`."""
    attrs = tuple(dict.fromkeys([*attrs, *(a for own, _ in factors for a in own)]))
    out = np.zeros(tuple(domain[a] for a in attrs))
    for factor in factors:
        out = out + _aligned(factor, attrs)
    return attrs, out


class Model:
    """A fitted model's log-potentials as numpy arrays: converted once per model, then projected
    on every candidate a selection step scores."""

    def __init__(self, potentials: CliqueVector, total: float) -> None:
        self.domain: Domain = potentials.domain
        self.total = total
        self.factors: list[_Factor] = [(tuple(f.domain.attributes), np.asarray(f.values, dtype=np.float64))
                                       for f in potentials.arrays.values()]

    def project(self, clique: tuple[str, ...]) -> np.ndarray:
        """The marginal on `clique` as mbi's `model.project(clique).datavector()` gives it:
        counts summing to the total, flattened with the axes in `clique` order."""
        domain, factors = self.domain, list(self.factors)
        eliminate = [a for a in domain.attributes if a not in clique]
        order, _ = junction_tree.greedy_order(domain, [own for own, _ in factors] + [tuple(clique)], elim=eliminate)
        for z in order:
            attrs, log = _product([f for f in factors if z in f[0]], domain)
            factors = [f for f in factors if z not in f[0]]
            axis = attrs.index(z)
            factors.append((attrs[:axis] + attrs[axis + 1:], logsumexp(log, axis=axis)))
        attrs, log = _product(factors, domain, tuple(clique))
        return (np.exp(log - logsumexp(log)) * self.total).ravel()
