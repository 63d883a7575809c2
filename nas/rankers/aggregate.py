"""Rank aggregation: the mean rank (Borda count) of several rankers, no ground truth needed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers.base import Ranker
from nas.rankers.ranks import average_ranks


AGGREGATION_USES = "ranks of "
"""How a rank aggregation's ``uses`` begins: what tells a recorded ranker's file that it is a combination."""


class RankAggregation(Ranker):
    """Scores each child by the (weighted) mean of its ranks under ``members`` among the children
    scored together: the Borda count. Uses no ground truth; costs what its members cost.

    Example:
        >>> from nas.architecture import Architecture
        >>> from nas.rankers.base import PointwiseRanker
        >>> class Key(PointwiseRanker):
        ...     def __init__(self, key): super().__init__(key); self.key = key
        ...     def score_one(self, arch): return float(arch[self.key])
        >>> archs = [Architecture({"a": a, "b": b}) for a, b in [(1, 30), (2, 10), (3, 20)]]
        >>> RankAggregation([Key("a"), Key("b")]).score(archs)   # ranks a: 1,2,3; b: 3,1,2
        [2.0, 1.5, 2.5]
    """

    def __init__(self, members: Sequence[Ranker], weights: Sequence[float] | None = None, name: str | None = None):
        if not members:
            raise ConfigError("rank aggregation needs at least one member ranker")
        if weights is not None and (len(weights) != len(members) or any(w < 0 for w in weights) or sum(weights) <= 0):
            raise ConfigError(f"rank aggregation weights must be {len(members)} non-negative numbers, not all 0; "
                              f"got {list(weights)}")
        self.members = list(members)
        self.weights = np.asarray(weights if weights is not None else [1.0] * len(members), dtype=np.float64)
        self.name = name or "mean rank(" + ", ".join(m.name for m in self.members) + ")"
        self.uses = AGGREGATION_USES + ", ".join(m.name for m in self.members) + "; no ground truth"
        if any(m.needs_ground_truth for m in self.members):
            raise ConfigError(f"{self.name}: a member needs ground truth; aggregate rankers that need none")

    def score(self, archs: Sequence[Architecture]) -> list[float]:
        archs = list(archs)
        ranks = np.stack([average_ranks(m.score(archs)) for m in self.members])
        return (self.weights @ ranks / self.weights.sum()).tolist()

    @property
    def seconds_per_child(self) -> float:
        costs = [m.seconds_per_child for m in self.members]
        return float(sum(costs)) if not any(math.isnan(c) for c in costs) else float("nan")
