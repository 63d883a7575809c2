"""Constrained evolution: regularized evolution that requires cost bounds (as SPOS searches under a FLOPs limit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.searchers.constraints import Constraints
from nas.searchers.evolution import RegularizedEvolution


class ConstrainedEvolution(RegularizedEvolution):
    """``RegularizedEvolution`` whose ``constraints`` must hold at least one bound.

    Every scored child meets the bounds: infeasible children are repaired (re-mutated, then
    resampled) and never scored. Bounds that no architecture meets are a ConfigError up front.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> searcher = ConstrainedEvolution(space, {"max_flops": 50_000_000}, seed=0)
        >>> history = searcher.search(lambda arch: float(str(arch).count("nor_conv_3x3")), budget=30)
        >>> max(t.cost["flops"] for t in history.trials) <= 50_000_000
        True
    """

    def __init__(self, space: SearchSpace, constraints: Constraints | Mapping[str, Any] | None, seed: int = 0,
                 **evolution: Any):
        if not Constraints.coerce(constraints):
            raise ConfigError("constrained evolution needs at least one cost bound, e.g. "
                              "searcher.constraints.max_flops=20000000 (or use searcher=evolution without bounds)")
        super().__init__(space, seed, constraints, **evolution)
