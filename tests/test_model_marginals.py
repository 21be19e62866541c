"""AIM's scoring marginals from numpy equal mbi's own, so the selection it feeds is unchanged."""

from __future__ import annotations

import itertools

import numpy as np
from mbi import CliqueVector, Domain, Factor, MarkovRandomField, marginal_oracles

from synthpriv import model_marginals


def test_every_marginal_up_to_three_way_equals_mbis_in_every_axis_order():
    rng = np.random.default_rng(0)
    domain = Domain(["a", "b", "c", "d", "e"], [3, 4, 2, 5, 3])
    cliques = [("a", "b"), ("b", "c", "d"), ("d", "e"), ("e",), ("c", "a")]
    potentials = CliqueVector(domain, cliques, {cl: Factor(domain.project(cl), rng.normal(size=domain.project(cl).shape))
                                                for cl in cliques})
    model = MarkovRandomField(potentials=potentials, total=1000.0,
                              marginals=marginal_oracles.message_passing_stable(potentials, 1000.0))
    ours_model = model_marginals.Model(potentials, 1000.0)
    for k in (1, 2, 3):
        for clique in itertools.permutations(domain.attributes, k):
            ours = ours_model.project(clique)
            assert np.allclose(ours, np.asarray(model.project(clique).datavector()), rtol=1e-9, atol=1e-9), clique
            assert abs(ours.sum() - 1000.0) < 1e-6
