"""Rank-correlation scores of a supernet's predicted ranking against ground truth.

Pure numpy, no scipy. Every function takes two equally long 1-D sequences of finite
numbers (at least 2 items); higher is better for both ``predicted`` and ``truth``.
Bad input raises :class:`nas.errors.ConfigError`.

Ties: ``kendall_tau`` is Kendall's tau-b and ``spearman_rho`` uses average ranks, so
both match ``scipy.stats.kendalltau`` (variant ``'b'``) and ``scipy.stats.spearmanr``.
When either input is constant the correlation is undefined and, like scipy, the
functions return ``float('nan')``. Top-k selections break ties by a stable order:
among equal scores the item that comes first in the input wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nas.errors import ConfigError

__all__ = [
    "kendall_tau",
    "spearman_rho",
    "precision_at_top_k",
    "kendall_tau_top_k",
    "regret",
    "rank_report",
    "bootstrap_interval",
]


def _as_vector(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a sequence of numbers: {exc}") from exc
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ConfigError(f"{name} must contain only finite numbers; item {bad} is {arr[bad]!r} (NaN or infinite)")
    return arr


def _validate(x: ArrayLike, y: ArrayLike, names: tuple[str, str] = ("x", "y")) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a, b = _as_vector(x, names[0]), _as_vector(y, names[1])
    if a.size != b.size:
        raise ConfigError(f"{names[0]} and {names[1]} must have the same length, got {a.size} and {b.size}")
    if a.size < 2:
        raise ConfigError(f"need at least 2 items to compare rankings, got {a.size}")
    return a, b


def _validate_fraction(fraction: float) -> None:
    if not (isinstance(fraction, (int, float, np.floating)) and 0.0 < float(fraction) <= 1.0):
        raise ConfigError(f"fraction must be a number in (0, 1], got {fraction!r}")


def _top_k_count(n: int, fraction: float) -> int:
    """k = max(1, round(fraction * n)), Python's round (half to even), at most n."""
    return min(n, max(1, round(fraction * n)))


def _top_indices(scores: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """Indices of the k highest scores; among equal scores the earlier index wins."""
    return np.argsort(-scores, kind="stable")[:k]


def _tie_pairs(codes: NDArray[np.int64]) -> int:
    """Number of pairs sharing a value."""
    counts = np.unique(codes, return_counts=True)[1].astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def _count_inversions(a: NDArray[np.int64]) -> int:
    """Pairs i < j with a[i] > a[j] (strictly), by a bottom-up merge sort vectorised per level."""
    n = a.size
    a = a.astype(np.int64, copy=True)
    m = int(a.max()) + 1 if n else 1
    idx = np.arange(n, dtype=np.int64)
    total = 0
    width = 1
    while width < n:
        block = idx // width  # a is sorted inside each block of `width` items
        pair = block // 2
        right = (block % 2).astype(bool)
        key = pair * m + a  # offsets make all left blocks together one sorted array
        left_keys = key[~right]
        right_keys, right_pair = key[right], pair[right]
        end = np.searchsorted(left_keys, (right_pair + 1) * m, side="left")
        le = np.searchsorted(left_keys, right_keys, side="right")
        total += int((end - le).sum())  # left items of the same pair greater than each right item
        a = np.sort(key) % m  # merge: each pair of blocks becomes one sorted block
        width *= 2
    return total


def kendall_tau(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall's tau-b of ``x`` and ``y`` (ties handled), in O(n log^2 n).

    Returns ``nan`` when ``x`` or ``y`` is constant (undefined, as in scipy).

    >>> kendall_tau([1, 2, 3, 4], [1, 2, 3, 4])
    1.0
    >>> round(kendall_tau([1, 2, 3], [1, 3, 2]), 4)
    0.3333
    >>> round(kendall_tau([1, 1, 2], [1, 2, 2]), 4)
    0.5
    """
    a, b = _validate(x, y)
    n = a.size
    rx = np.unique(a, return_inverse=True)[1].astype(np.int64).ravel()
    ry = np.unique(b, return_inverse=True)[1].astype(np.int64).ravel()
    tot = n * (n - 1) // 2
    xtie = _tie_pairs(rx)
    ytie = _tie_pairs(ry)
    if xtie == tot or ytie == tot:
        return float("nan")
    joint = _tie_pairs(rx * (int(ry.max()) + 1) + ry)
    order = np.lexsort((ry, rx))  # by x, ties in x by y: tied-x pairs are never inversions
    dis = _count_inversions(ry[order])
    con_minus_dis = tot - xtie - ytie + joint - 2 * dis
    tau = con_minus_dis / math.sqrt(tot - xtie) / math.sqrt(tot - ytie)
    return float(min(1.0, max(-1.0, tau)))


def _average_ranks(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks; tied values share the mean of their ranks."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], s.size]  # exclusive
    group_rank = (starts + 1 + ends) / 2.0  # mean of starts+1 .. ends
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.repeat(group_rank, ends - starts)
    return ranks


def spearman_rho(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rho: Pearson correlation of average ranks.

    Returns ``nan`` when ``x`` or ``y`` is constant (undefined, as in scipy).

    >>> spearman_rho([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    >>> spearman_rho([1, 2, 3], [3, 2, 1])
    -1.0
    >>> round(spearman_rho([1, 2, 2, 3], [1, 3, 2, 4]), 4)
    0.9487
    """
    a, b = _validate(x, y)
    ra = _average_ranks(a)
    rb = _average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    ssa, ssb = float(ra @ ra), float(rb @ rb)
    if ssa == 0.0 or ssb == 0.0:
        return float("nan")
    rho = float(ra @ rb) / math.sqrt(ssa * ssb)
    return float(min(1.0, max(-1.0, rho)))


def precision_at_top_k(predicted: ArrayLike, truth: ArrayLike, fraction: float = 0.1) -> float:
    """Share of the true top-k found among the predicted top-k.

    k = max(1, round(fraction * n)) with Python's ``round`` (half to even). Ties are
    broken by a stable order: among equal scores the earlier item is ranked higher.

    >>> precision_at_top_k([4, 3, 2, 1], [4, 1, 3, 2], fraction=0.5)
    0.5
    """
    p, t = _validate(predicted, truth, ("predicted", "truth"))
    _validate_fraction(fraction)
    k = _top_k_count(p.size, fraction)
    hits = np.intersect1d(_top_indices(p, k), _top_indices(t, k)).size
    return hits / k


def kendall_tau_top_k(predicted: ArrayLike, truth: ArrayLike, fraction: float = 0.1) -> float:
    """Kendall's tau-b over the items in the TRUE top-k only (k as in :func:`precision_at_top_k`).

    Returns ``nan`` when k < 2 or when either input is constant on those items.

    >>> kendall_tau_top_k([1, 2, 4, 3], [1, 2, 3, 4], fraction=0.5)
    -1.0
    """
    p, t = _validate(predicted, truth, ("predicted", "truth"))
    _validate_fraction(fraction)
    k = _top_k_count(p.size, fraction)
    if k < 2:
        return float("nan")
    top = _top_indices(t, k)
    return kendall_tau(p[top], t[top])


def _predicted_best(p: NDArray[np.float64]) -> int:
    return int(np.argmax(p))  # first of the equal maxima, consistent with the stable order


def regret(predicted: ArrayLike, truth: ArrayLike) -> float:
    """Best truth value minus the truth of the item with the highest predicted score.

    >>> regret([0.1, 0.9, 0.5], [70.0, 60.0, 75.0])
    15.0
    """
    p, t = _validate(predicted, truth, ("predicted", "truth"))
    return float(t.max() - t[_predicted_best(p)])


def _fraction_label(fraction: float) -> str:
    pct = round(float(fraction) * 100, 6)
    return str(int(pct)) if pct == int(pct) else repr(pct).replace(".", "_")


def rank_report(predicted: ArrayLike, truth: ArrayLike, fraction: float = 0.1) -> dict[str, float]:
    """All scores in one dict (``n`` is an int); top-k keys are named from ``fraction`` (0.05 -> ``..._top5``).

    >>> r = rank_report([1, 2, 3, 4], [1, 2, 3, 4], fraction=0.5)
    >>> sorted(r)  # doctest: +NORMALIZE_WHITESPACE
    ['best_predicted_truth', 'kendall_tau', 'kendall_tau_top50', 'n',
     'precision_at_top50', 'regret', 'spearman_rho']
    >>> r['kendall_tau'], r['precision_at_top50'], r['regret'], r['n']
    (1.0, 1.0, 0.0, 4)
    """
    p, t = _validate(predicted, truth, ("predicted", "truth"))
    _validate_fraction(fraction)
    label = _fraction_label(fraction)
    return {
        "kendall_tau": kendall_tau(p, t),
        "spearman_rho": spearman_rho(p, t),
        f"precision_at_top{label}": precision_at_top_k(p, t, fraction),
        f"kendall_tau_top{label}": kendall_tau_top_k(p, t, fraction),
        "regret": regret(p, t),
        "best_predicted_truth": float(t[_predicted_best(p)]),
        "n": int(p.size),
    }


def bootstrap_interval(
    predicted: ArrayLike,
    truth: ArrayLike,
    statistic: Callable[[ArrayLike, ArrayLike], float] = kendall_tau,
    resamples: int = 1_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(predicted, truth)`` over items (cells).

    Each of ``resamples`` resamples draws n items with replacement (the same draws for every
    statistic under one ``seed``); the interval holds the central ``confidence`` share of the
    resampled statistics. Resamples where the statistic is undefined (``nan``: a constant
    resample) are left out; if all are, the interval is ``(nan, nan)``.

    >>> low, high = bootstrap_interval([1, 2, 3, 4, 5, 6], [1, 3, 2, 4, 6, 5], resamples=200)
    >>> -1.0 <= low <= kendall_tau([1, 2, 3, 4, 5, 6], [1, 3, 2, 4, 6, 5]) <= high <= 1.0
    True
    """
    p, t = _validate(predicted, truth, ("predicted", "truth"))
    if not (isinstance(resamples, (int, np.integer)) and resamples >= 1):
        raise ConfigError(f"resamples must be a positive integer, got {resamples!r}")
    if not (isinstance(confidence, (int, float, np.floating)) and 0.0 < float(confidence) < 1.0):
        raise ConfigError(f"confidence must be a number in (0, 1), got {confidence!r}")
    draws = np.random.default_rng(seed).integers(0, p.size, size=(int(resamples), p.size))
    values = np.array([statistic(p[d], t[d]) for d in draws], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - float(confidence)) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
