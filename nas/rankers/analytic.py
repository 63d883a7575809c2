"""Rankers from a space's analytic costs: parameter count and FLOPs, plain or effective (live ops only)."""

from __future__ import annotations

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers.base import PointwiseRanker
from nas.search_space import SearchSpace

METRICS = ("params", "flops")


class CostRanker(PointwiseRanker):
    """Scores a child by its analytic cost: ``space.cost(arch)[metric]``, more is predicted better.

    ``effective=True`` counts only ops on live input-to-output paths (``space.effective_cost``):
    in NAS-Bench-201 the parameters and FLOPs of edges cut off by ``none`` edges are left out.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> dead = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
        >>> CostRanker(space, "params").score([dead]) > CostRanker(space, "params", effective=True).score([dead])
        True
    """

    def __init__(self, space: SearchSpace, metric: str = "params", effective: bool = False, name: str | None = None,
                 progress: bool = False):
        if metric not in METRICS:
            raise ConfigError(f"unknown cost metric {metric!r}; choose one of {list(METRICS)}")
        label = f"effective {metric}" if effective else metric
        super().__init__(name or label.replace(" ", "_"),
                         f"analytic {label}" + (" (live input-to-output paths only)" if effective else ""), progress)
        self.space = space
        self.metric = metric
        self.effective = bool(effective)

    def score_one(self, arch: Architecture) -> float:
        cost = self.space.effective_cost(arch) if self.effective else self.space.cost(arch)
        return float(cost[self.metric])
