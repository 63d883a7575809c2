"""Ranks of scores: what rank aggregation and the calibrated ranker combine, and what metrics need."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from nas.errors import ConfigError


def average_ranks(scores: Sequence[float]) -> NDArray[np.float64]:
    """1-based ranks, the highest score ranked ``n``; tied scores share the mean of their ranks.

    ``-inf`` (a child a proxy could not score) ranks below every finite score; ``nan`` is an error.

    >>> average_ranks([0.5, float("-inf"), 2.0, 0.5]).tolist()
    [2.5, 1.0, 4.0, 2.5]
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ConfigError(f"scores must be one-dimensional, got shape {values.shape}")
    if np.isnan(values).any():
        raise ConfigError("scores contain nan: a ranker must give every child a number (-inf ranks it last)")
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if values.size else np.array([], dtype=int)
    ends = np.r_[starts[1:], values.size]
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def normalized_ranks(scores: Sequence[float]) -> NDArray[np.float64]:
    """:func:`average_ranks` mapped to [0, 1] (lowest 0, highest 1); a single score is 0.5.

    >>> normalized_ranks([10.0, 30.0, 20.0]).tolist()
    [0.0, 1.0, 0.5]
    """
    ranks = average_ranks(scores)
    return (ranks - 1.0) / (ranks.size - 1) if ranks.size > 1 else np.full(ranks.size, 0.5)
