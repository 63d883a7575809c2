"""RankerObjective: a free ranker as a searcher's objective (`nas search objective=ranker`), no supernet trained."""

from __future__ import annotations

import sys

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers.base import PointwiseRanker, Ranker

SCORE_KEY = "ranker_score"
"""The key under which a ranking scored by a free ranker stores its scores (one of ``nas.run_folder.SCORE_KEYS``)."""


def check_pointwise(ranker_class: type, name: str) -> None:
    """Refuse a ranker class that has no score for one child alone (a mean rank, a calibrated ranker)."""
    if not issubclass(ranker_class, PointwiseRanker):
        raise ConfigError(f"ranker {name!r} ({ranker_class.__name__}) ranks children against each other or against "
                          "ground truth, so it has no score for one child alone, which a searcher asks for: pick a "
                          "ranker that scores a child by itself (params, effective_params, flops, effective_flops, "
                          "synflow, naswot, jacob_cov, snip, grad_norm, fisher)")


class RankerObjective:
    """Scores one child with a pointwise ranker (parameter count, FLOPs, synflow, NASWOT, ...): the searcher then
    searches the proxy instead of a trained supernet, at the proxy's cost per child.

    A ranker that ranks children against each other (a mean rank) or learns from ground truth (calibrated) has no
    score for one child alone, so it is refused. A child the proxy cannot score (``-inf``, e.g. a NaN synflow) gets
    the lowest finite float: ranked last, and every searcher and file format can hold it.

    Example:
        >>> from nas.rankers import CostRanker
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
        >>> objective = RankerObjective(CostRanker(space, "params"))
        >>> convs = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> skips = space.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
        >>> objective(convs) > objective(skips), objective.name, objective.children_scored
        (True, 'params', 2)
    """

    score_key = SCORE_KEY

    def __init__(self, ranker: Ranker):
        check_pointwise(type(ranker), ranker.name)
        self.ranker = ranker

    @property
    def name(self) -> str:
        return self.ranker.name

    @property
    def children_scored(self) -> int:
        return self.ranker.children_scored

    @property
    def seconds_per_child(self) -> float:
        return self.ranker.seconds_per_child

    def __call__(self, arch: Architecture) -> float:
        return max(self.ranker.score([arch])[0], -sys.float_info.max)  # the ranker's NaN is -inf: ranked last

    def __repr__(self) -> str:
        return f"RankerObjective({self.ranker!r})"
