"""nas.metrics.bootstrap_interval: contains the estimate, deterministic under a seed, right width."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from nas.errors import ConfigError
from nas.metrics import bootstrap_interval, kendall_tau, spearman_rho

RNG = np.random.default_rng(3)
TRUTH = RNG.normal(size=200)
PREDICTED = TRUTH + RNG.normal(size=200)


@pytest.mark.parametrize("statistic", [kendall_tau, spearman_rho])
def test_interval_contains_the_point_estimate_and_is_deterministic(statistic):
    low, high = bootstrap_interval(PREDICTED, TRUTH, statistic, resamples=500, seed=0)
    assert low < statistic(PREDICTED, TRUTH) < high
    assert (low, high) == bootstrap_interval(PREDICTED, TRUTH, statistic, resamples=500, seed=0)
    assert (low, high) != bootstrap_interval(PREDICTED, TRUTH, statistic, resamples=500, seed=1)


def test_interval_is_the_percentiles_of_resampled_taus():
    draws = np.random.default_rng(5).integers(0, 200, size=(300, 200))
    taus = [kendalltau(PREDICTED[d], TRUTH[d]).statistic for d in draws]
    expected = np.percentile(taus, [5.0, 95.0])
    assert bootstrap_interval(PREDICTED, TRUTH, resamples=300, confidence=0.9, seed=5) == pytest.approx(tuple(expected))


def test_more_cells_give_a_narrower_interval():
    small = bootstrap_interval(PREDICTED[:50], TRUTH[:50], resamples=400)
    large = bootstrap_interval(PREDICTED, TRUTH, resamples=400)
    assert large[1] - large[0] < small[1] - small[0]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_interval(PREDICTED, TRUTH, confidence=1.5)
    with pytest.raises(ConfigError, match="resamples"):
        bootstrap_interval(PREDICTED, TRUTH, resamples=0)
