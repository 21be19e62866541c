"""Sparse ordered bins merge into intervals by their noisy counts, and are drawn back apart in proportion."""

from __future__ import annotations

import numpy as np
import pytest

from synthpriv.ordered_runs import RunSplitter, runs


def test_adjacent_bins_merge_until_each_run_holds_the_mass_asked_for():
    noisy = np.array([500.0, 3, -4, 10, 0, 20, 300, 5, 7, 40])
    # bin 0 is a run alone; bins 1-6 reach 100 together; 7-8 fall short and join them;
    # code 9 lies past the 9 ordered codes (a null code) and keeps a run of its own
    assert runs(noisy, 9, 100).tolist() == [0, 1, 1, 1, 1, 1, 1, 1, 1, 2]


def test_bins_each_holding_the_mass_stay_apart_and_order_is_kept():
    noisy = np.array([200.0, 150, 120, 101])
    assert runs(noisy, 4, 100).tolist() == [0, 1, 2, 3]
    mapping = runs(np.array([1.0, 90, 2, 300, 50, 50]), 6, 80)
    assert (np.diff(mapping) >= 0).all() and set(np.diff(mapping)) <= {0, 1}


def test_a_column_too_sparse_for_one_run_becomes_a_single_run_before_its_unordered_codes():
    assert runs(np.array([1.0, 2, 3, 50]), 3, 100).tolist() == [0, 0, 0, 1]
    assert runs(np.array([5.0, 6]), 0, 100).tolist() == [0, 1]
    with pytest.raises(ValueError, match="5 ordered codes among 2"):
        runs(np.array([5.0, 6]), 5, 100)


def test_a_run_is_split_back_into_its_bins_in_proportion_to_their_noisy_counts():
    noisy = np.array([500.0, 30, -4, 60, 10, 7])
    mapping = np.array([0, 1, 1, 1, 2, 2])
    draws = 200_000
    drawn = RunSplitter(mapping, noisy).split(np.repeat([0, 1, 2], draws), np.random.default_rng(5))
    assert (drawn[:draws] == 0).all()
    middle = np.bincount(drawn[draws:2 * draws], minlength=6) / draws
    assert middle[[0, 2, 4, 5]].tolist() == [0, 0, 0, 0]  # a bin counted below zero is never drawn
    assert middle[1] == pytest.approx(1 / 3, abs=0.01) and middle[3] == pytest.approx(2 / 3, abs=0.01)
    last = np.bincount(drawn[2 * draws:], minlength=6) / draws
    assert last[4] == pytest.approx(10 / 17, abs=0.01) and last[:4].sum() == 0


def test_a_run_whose_noisy_counts_are_all_below_zero_is_split_evenly():
    drawn = RunSplitter(np.array([0, 0, 0, 1]), np.array([-3.0, -1, -8, 40])).split(
        np.zeros(90_000, dtype=np.int64), np.random.default_rng(1))
    assert np.bincount(drawn, minlength=4)[:3] / 90_000 == pytest.approx([1 / 3] * 3, abs=0.01)
