"""How sure a ranking's Kendall tau is: a bootstrap interval over cells (of a mean over seeds), and p-values over seeds.

- :func:`tau_interval`: the percentile-bootstrap interval over cells of the mean, over a row's runs, of Kendall
  tau-b: each resample draws cells with replacement and recomputes every run's tau on them
  (:func:`nas.metrics.bootstrap_interval` draws the cells; with one run it is exactly that function's interval);
- :func:`welch_p`: Welch's two-sided t-test of two rows' per-seed taus (``scipy.stats.ttest_ind(equal_var=False)``);
- :func:`above_p`: the one-sided one-sample t-test that a row's mean tau over seeds exceeds a fixed value
  (the best free ranker's tau);
- :func:`against_p`: the two-sided one-sample t-test of a row's per-seed taus against one number (a row
  that is a single ranking, such as a seed ensemble, compared with a multi-seed row).

Example:
    >>> truth = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> runs = [[1, 2, 3, 5, 4, 6, 8, 7], [2, 1, 3, 4, 5, 7, 6, 8]]   # 2 of 28 pairs swapped in each: tau 0.857
    >>> low, high = tau_interval(runs, truth, Bootstrap(resamples=200))
    >>> low < 0.857 < high <= 1.0
    True
    >>> round(welch_p([0.62, 0.64, 0.65], [0.60, 0.61, 0.62]), 3), round(above_p([0.62, 0.64, 0.65], 0.60), 3)
    (0.075, 0.027)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nas.errors import ConfigError
from nas.metrics import bootstrap_interval, kendall_tau

PAIRWISE_LIMIT = 1_500
"""Up to this many cells a resample's taus come from the cells' pairwise sign matrices, computed once (fast, O(n²)
memory per run); above it from :func:`nas.metrics.kendall_tau` on every resample (O(n log² n) each)."""


@dataclass(frozen=True)
class Bootstrap:
    """The bootstrap's settings: resamples, the interval's confidence and the seed that draws the cells."""

    resamples: int = 1_000
    confidence: float = 0.95
    seed: int = 0


def _signs(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """sign(v_i - v_j) for every pair of items."""
    return np.sign(values[:, None] - values[None, :])


def tau_interval(runs: Sequence[ArrayLike], truth: ArrayLike, bootstrap: Bootstrap = Bootstrap()
                 ) -> tuple[float, float]:
    """Bootstrap interval over cells of the mean Kendall tau-b of ``runs`` (each one score per cell) against ``truth``.

    Resamples on which the mean is undefined (a constant resample) are left out; ``(nan, nan)`` if all are.
    A resample that holds cell i c_i times has, for every run, tau-b = cᵀ(Sx∘Sy)c / sqrt(cᵀ|Sx|c · cᵀ|Sy|c)
    with S the pairwise sign matrices of the run's scores and of the truth: exactly :func:`nas.metrics.kendall_tau` of
    the resampled values (copies of one cell are tied in both), at the cost of a few matrix-vector products.
    """
    scores = np.asarray(runs, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != t.size or scores.shape[0] < 1:
        raise ConfigError(f"need one score per cell for every run: runs of shape {scores.shape}, {t.size} cells")
    n = t.size
    if n <= PAIRWISE_LIMIT:
        sign_y = _signs(t)
        untied_y = np.abs(sign_y)
        concordance = np.stack([_signs(run) * sign_y for run in scores])  # (runs, n, n)
        untied_x = np.stack([np.abs(_signs(run)) for run in scores])

        def mean_tau(index: NDArray[np.float64], _: NDArray[np.float64]) -> float:
            counts = np.bincount(index.astype(np.intp), minlength=n).astype(np.float64)
            pairs_y = counts @ untied_y @ counts
            pairs_x = (untied_x @ counts) @ counts
            with np.errstate(divide="ignore", invalid="ignore"):
                taus = ((concordance @ counts) @ counts) / np.sqrt(pairs_x * pairs_y)
            taus[(pairs_x == 0) | (pairs_y == 0)] = np.nan
            return float(np.mean(np.clip(taus, -1.0, 1.0)))
    else:
        def mean_tau(index: NDArray[np.float64], t_drawn: NDArray[np.float64]) -> float:
            cells = index.astype(np.intp)
            return float(np.mean([kendall_tau(run[cells], t_drawn) for run in scores]))

    # bootstrap_interval draws the cells: resampling the cells' indices resamples every run alike.
    return bootstrap_interval(np.arange(n, dtype=np.float64), t, mean_tau, bootstrap.resamples,
                              bootstrap.confidence, bootstrap.seed)


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def welch_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch's two-sided t-test p-value of samples ``a`` and ``b``; ``nan`` with fewer than 2 values on a side or
    no variance at all."""
    a, b = _finite(a), _finite(b)
    if len(a) < 2 or len(b) < 2 or (np.var(a) == 0 and np.var(b) == 0):
        return float("nan")
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def above_p(a: Sequence[float], value: float) -> float:
    """One-sided one-sample t-test p-value that the mean of ``a`` is above ``value``; ``nan`` with fewer than 2
    values or no variance."""
    a = _finite(a)
    if len(a) < 2 or np.var(a) == 0 or not math.isfinite(value):
        return float("nan")
    from scipy import stats

    return float(stats.ttest_1samp(a, value, alternative="greater").pvalue)


def against_p(a: Sequence[float], value: float) -> float:
    """Two-sided one-sample t-test p-value of ``a`` against ``value``; ``nan`` with fewer than 2 values or no
    variance."""
    a = _finite(a)
    if len(a) < 2 or np.var(a) == 0 or not math.isfinite(value):
        return float("nan")
    from scipy import stats

    return float(stats.ttest_1samp(a, value).pvalue)
