"""Confidence of a ranking's tau: the bootstrap over cells of a mean over seeds, and the p-values over seeds."""

import doctest

import numpy as np
import pytest
from scipy import stats

import nas.confidence
from nas.confidence import Bootstrap, above_p, against_p, tau_interval, welch_p
from nas.metrics import bootstrap_interval, kendall_tau


def scores(seed: int, n: int = 40, runs: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.round(rng.normal(size=n), 1)               # rounded: ties in the truth
    noisy = truth + rng.normal(scale=0.8, size=(runs, n))
    return np.round(noisy, 1), truth                      # and ties in the scores


def test_one_run_gives_exactly_the_metrics_bootstrap_interval():
    runs, truth = scores(0, runs=1)
    assert tau_interval(runs, truth, Bootstrap(300, 0.9, 4)) == pytest.approx(
        bootstrap_interval(runs[0], truth, kendall_tau, 300, 0.9, 4), abs=1e-12)


def test_several_runs_resample_the_same_cells_for_every_run():
    runs, truth = scores(1)
    resamples, seed = 200, 3
    draws = np.random.default_rng(seed).integers(0, truth.size, size=(resamples, truth.size))  # bootstrap_interval's
    means = [np.mean([kendall_tau(run[d], truth[d]) for run in runs]) for d in draws]
    expected = np.percentile(means, [2.5, 97.5])
    assert tau_interval(runs, truth, Bootstrap(resamples, 0.95, seed)) == pytest.approx(tuple(expected), abs=1e-12)


def test_the_large_table_path_gives_the_same_interval(monkeypatch):
    runs, truth = scores(2)
    fast = tau_interval(runs, truth, Bootstrap(100))
    monkeypatch.setattr(nas.confidence, "PAIRWISE_LIMIT", 0)   # every resample through kendall_tau
    assert tau_interval(runs, truth, Bootstrap(100)) == pytest.approx(fast, abs=1e-12)


def test_a_constant_ranking_has_no_interval():
    low, high = tau_interval([[1.0] * 10], np.arange(10.0), Bootstrap(50))
    assert np.isnan(low) and np.isnan(high)


def test_p_values_are_scipys_and_undefined_without_two_values_or_variance():
    a, b = [0.70, 0.72, 0.75], [0.61, 0.60, 0.63]
    assert welch_p(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert above_p(a, 0.70) == pytest.approx(stats.ttest_1samp(a, 0.70, alternative="greater").pvalue)
    assert above_p(a, 0.80) > 0.9                          # far below: one-sided, so p near 1
    assert against_p(b, 0.70) == pytest.approx(stats.ttest_1samp(b, 0.70).pvalue)
    assert np.isnan(welch_p([0.7], b)) and np.isnan(above_p([0.7, 0.7], 0.5)) and np.isnan(against_p([0.6], 0.5))


def test_doctests():
    assert doctest.testmod(nas.confidence).failed == 0
