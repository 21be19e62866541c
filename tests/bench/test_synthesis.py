"""The synthesis benchmark's classifier treats binned numbers as ordered, as the quality gate does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.synthesis import accuracy


def test_binned_numbers_stay_ordered_so_unseen_bins_are_still_classified() -> None:
    # training rows hold only even bins, test rows only odd ones: as categories the odd bins
    # were never seen; as ordered bins the threshold between them is
    rng = np.random.default_rng(0)
    train_x, test_x = 2 * rng.integers(0, 50, 2_000), 2 * rng.integers(0, 50, 500) + 1
    train = pd.DataFrame({"x": train_x, "y": (train_x > 50).astype(int)})
    test = pd.DataFrame({"x": test_x, "y": (test_x > 50).astype(int)})
    assert accuracy(train, test, "y", frozenset({"x"})) >= 0.95
    assert accuracy(train, test, "y") < 0.9
