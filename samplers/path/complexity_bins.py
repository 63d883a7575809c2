"""ComplexityBins: a search space cut into bins of equal share by a cost (FLOPs or parameters)."""

from __future__ import annotations

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace

ENUMERATE_LIMIT = 200_000
"""Spaces up to this size are binned on every architecture; larger ones on ``pool_size`` uniform draws."""


class ComplexityBins:
    """``num_bins`` cost ranges, each holding about the same share of the space: the edges are the cost quantiles
    of every architecture (spaces of at most ``ENUMERATE_LIMIT``) or of ``pool_size`` uniform draws. Bin ``b``
    holds the costs in ``[edges[b-1], edges[b])``; architectures of equal cost share a bin, so with many ties
    (NAS-Bench-201's cells take few distinct FLOP counts) the shares are only roughly equal. ``pool`` keeps the
    architectures the edges came from, with their bins.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> bins = ComplexityBins(NB201SearchSpace(), num_bins=4)
        >>> len(bins.edges), bins.bin_of(NB201SearchSpace().smallest()), bins.bin_of(NB201SearchSpace().largest())
        (3, 0, 3)
    """

    def __init__(self, space: SearchSpace, num_bins: int = 5, cost: str = "flops", pool_size: int = 5000,
                 seed: int = 0):
        if cost not in ("flops", "params"):
            raise ConfigError(f"cost must be 'flops' or 'params', got {cost!r}")
        if int(num_bins) < 2:
            raise ConfigError(f"num_bins must be at least 2, got {num_bins}")
        self.space, self.cost, self.num_bins = space, cost, int(num_bins)
        self._measure = space.flops if cost == "flops" else space.params
        if space.size <= ENUMERATE_LIMIT:
            archs = list(space.enumerate())
        else:
            rng = np.random.default_rng([int(seed), 2**31 - 1])
            archs = [space.sample(rng) for _ in range(int(pool_size))]
        costs = np.array([self._measure(a) for a in archs], dtype=float)
        self.edges = np.quantile(costs, np.linspace(0, 1, self.num_bins + 1)[1:-1])
        self.pool = archs
        self.pool_bins = np.searchsorted(self.edges, costs, side="right")
        empty = [b for b in range(self.num_bins) if not (self.pool_bins == b).any()]
        if empty:
            raise ConfigError(f"{self.num_bins} {cost} bins of search space {getattr(space, 'name', '?')!r} leave bins "
                              f"{empty} empty (too many architectures share a cost): lower path_sampler.num_bins")

    def measure(self, arch: Architecture) -> int:
        """The cost (``cost``: FLOPs or params) the bins are cut by."""
        return self._measure(arch)

    def bin_of(self, arch: Architecture) -> int:
        return int(np.searchsorted(self.edges, self._measure(arch), side="right"))
