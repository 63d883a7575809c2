"""nas.metrics against scipy.stats and hand-computed cases."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats

import nas.metrics as metrics
from nas.errors import ConfigError
from nas.metrics import (
    kendall_tau,
    kendall_tau_top_k,
    precision_at_top_k,
    rank_report,
    regret,
    spearman_rho,
)

# scipy warns on constant input (where it returns nan, as nas.metrics does).
scipy_quiet = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")


def _random_pairs(seed: int, count: int, ties: bool):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 400))
        if ties:
            hi = int(rng.integers(1, 12))  # few distinct values: many ties, sometimes constant
            x = rng.integers(0, hi, n).astype(float)
            y = rng.integers(0, max(hi, 2), n).astype(float)
        else:
            x, y = rng.standard_normal(n), rng.standard_normal(n)
            if rng.random() < 0.5:  # correlated as well as independent
                y = x + 0.3 * y
        yield x, y


def _assert_close(ours: float, ref: float, *context) -> None:
    assert isinstance(ours, float)
    if math.isnan(ref):
        assert math.isnan(ours), context
    else:
        assert abs(ours - ref) <= 1e-12, (ours, ref, context)


@scipy_quiet
@pytest.mark.parametrize("ties", [False, True])
def test_kendall_tau_matches_scipy(ties):
    for x, y in _random_pairs(1 if ties else 2, 300, ties):
        _assert_close(kendall_tau(x, y), stats.kendalltau(x, y, variant="b").statistic, x, y)


@scipy_quiet
@pytest.mark.parametrize("ties", [False, True])
def test_spearman_rho_matches_scipy(ties):
    for x, y in _random_pairs(3 if ties else 4, 300, ties):
        _assert_close(spearman_rho(x, y), stats.spearmanr(x, y).statistic, x, y)


@scipy_quiet
def test_constant_input_is_nan_like_scipy():
    x, c = [1.0, 2.0, 3.0], [5.0, 5.0, 5.0]
    assert math.isnan(stats.kendalltau(x, c).statistic) and math.isnan(stats.spearmanr(x, c).statistic)
    for a, b in [(x, c), (c, x), (c, c)]:
        assert math.isnan(kendall_tau(a, b))
        assert math.isnan(spearman_rho(a, b))


def test_small_known_values():
    assert kendall_tau([1, 2], [1, 2]) == 1.0
    assert kendall_tau([1, 2], [2, 1]) == -1.0
    # x ties one pair, y ties one pair, none jointly: C=1, D=0, tot=3 -> 1/sqrt(2*2)
    assert kendall_tau([1, 1, 2], [1, 2, 2]) == pytest.approx(0.5, abs=1e-15)
    assert spearman_rho([3, 1, 2], [30, 10, 20]) == 1.0


def test_large_n_runs_and_matches_scipy():
    rng = np.random.default_rng(0)
    n = 15_625  # NAS-Bench-201 size
    truth = rng.standard_normal(n)
    predicted = np.round(truth + rng.standard_normal(n), 1)  # ties in one input
    _assert_close(kendall_tau(predicted, truth), stats.kendalltau(predicted, truth).statistic)
    _assert_close(spearman_rho(predicted, truth), stats.spearmanr(predicted, truth).statistic)
    report = rank_report(predicted, truth)
    assert report["n"] == n


def test_precision_at_top_k_hand_computed():
    # n=10, k=2. true top-2 = items 9, 8; predicted top-2 = items 0, 9.
    truth = list(range(10))
    predicted = [100, 0, 1, 2, 3, 4, 5, 6, 7, 50]
    assert precision_at_top_k(predicted, truth, fraction=0.2) == 0.5
    assert precision_at_top_k(truth, truth, fraction=0.2) == 1.0
    assert precision_at_top_k(predicted, truth, fraction=1.0) == 1.0
    # k = max(1, round(0.1 * 4)) = 1: true best is item 3, predicted best item 0
    assert precision_at_top_k([9, 1, 2, 3], [0, 1, 2, 3]) == 0.0


def test_precision_ties_broken_by_stable_order():
    # predicted ties between items 0..2; k=1 picks item 0 (first in input).
    assert precision_at_top_k([5, 5, 5, 1], [4, 3, 2, 1], fraction=0.25) == 1.0
    assert precision_at_top_k([5, 5, 5, 1], [3, 4, 2, 1], fraction=0.25) == 0.0


def test_kendall_tau_top_k_hand_computed():
    truth = [1, 2, 3, 4, 5, 6]
    # true top-3 = items 3, 4, 5; predicted on them: 10, 30, 20 -> pairs (3,4)+ (3,5)+ (4,5)- -> tau = 1/3
    predicted = [99, 98, 97, 10, 30, 20]
    assert kendall_tau_top_k(predicted, truth, fraction=0.5) == pytest.approx(1 / 3, abs=1e-15)
    # items outside the true top-k do not matter
    assert kendall_tau_top_k([0, 0, 0, 10, 30, 20], truth, fraction=0.5) == pytest.approx(1 / 3, abs=1e-15)
    assert kendall_tau_top_k(truth, truth, fraction=0.5) == 1.0
    # k < 2: undefined
    assert math.isnan(kendall_tau_top_k(predicted, truth, fraction=0.1))


def test_regret_hand_computed():
    assert regret([0.1, 0.9, 0.5], [70.0, 60.0, 75.0]) == 15.0
    assert regret([0.1, 0.5, 0.9], [70.0, 60.0, 75.0]) == 0.0
    # equal predicted maxima: the first one counts
    assert regret([1, 1, 0], [2, 5, 9]) == 7.0


def test_rank_report_keys_and_values():
    predicted = [0.1, 0.9, 0.5, 0.3]
    truth = [70.0, 60.0, 75.0, 50.0]
    r = rank_report(predicted, truth, fraction=0.5)
    assert set(r) == {
        "kendall_tau", "spearman_rho", "precision_at_top50", "kendall_tau_top50",
        "regret", "best_predicted_truth", "n",
    }
    assert r["regret"] == 15.0 and r["best_predicted_truth"] == 60.0 and r["n"] == 4
    assert r["kendall_tau"] == kendall_tau(predicted, truth)
    assert r["spearman_rho"] == spearman_rho(predicted, truth)
    assert r["precision_at_top50"] == 0.5  # true top-2 {2, 0}, predicted top-2 {1, 2}
    assert "precision_at_top10" in rank_report(predicted, truth)
    assert "precision_at_top5" in rank_report(predicted, truth, fraction=0.05)
    assert "kendall_tau_top12_5" in rank_report(predicted, truth, fraction=0.125)


ALL_PAIRWISE = [kendall_tau, spearman_rho, precision_at_top_k, kendall_tau_top_k, regret, rank_report]


@pytest.mark.parametrize("fn", ALL_PAIRWISE)
def test_length_mismatch(fn):
    with pytest.raises(ConfigError, match="same length"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])


@pytest.mark.parametrize("fn", ALL_PAIRWISE)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite(fn, bad):
    with pytest.raises(ConfigError, match="finite"):
        fn([1.0, bad, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="finite"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0, bad])


@pytest.mark.parametrize("fn", ALL_PAIRWISE)
@pytest.mark.parametrize("size", [0, 1])
def test_too_few_items(fn, size):
    with pytest.raises(ConfigError, match="at least 2"):
        fn([1.0] * size, [2.0] * size)


def test_other_bad_input():
    with pytest.raises(ConfigError, match="one-dimensional"):
        kendall_tau([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    with pytest.raises(ConfigError, match="sequence of numbers"):
        spearman_rho(["a", "b"], [1, 2])
    for fraction in (0, -0.1, 1.5):
        with pytest.raises(ConfigError, match="fraction"):
            precision_at_top_k([1, 2], [1, 2], fraction=fraction)


def test_doctests():
    result = doctest.testmod(metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
