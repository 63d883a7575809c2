"""Rankers: anything that maps architectures to scores, measured alike against ground truth.

- :class:`Ranker` (and :class:`PointwiseRanker`, cached and timed): the one interface;
- :class:`CostRanker`: parameter count / FLOPs, plain or effective (live ops only);
- :class:`ZeroCostRanker`: synflow, NASWOT, jacob_cov, snip, grad_norm, fisher on a fresh model;
- :class:`SupernetRanker`: a trained supernet's evaluator; :class:`RecordedRanker`: scores from a file;
- :class:`RankAggregation` (no ground truth) and :class:`CalibratedRanker` (fit on k ground-truth cells);
- :func:`evaluate` / :func:`evaluate_held_out`: Kendall tau with a bootstrap interval, Spearman, truth of
  the predicted best and seconds per child;
- :func:`ranker_specs` / :func:`build_rankers`: rankers of ``conf/ranker/`` by name.

Example:
    >>> from search_spaces.nb201 import NB201SearchSpace
    >>> space = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")
    >>> cells = [space.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"),
    ...          space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")]
    >>> connected, dead_edge = CostRanker(space, "params", effective=True).score(cells)
    >>> connected > dead_edge
    True
"""

from nas.rankers.aggregate import RankAggregation
from nas.rankers.analytic import CostRanker
from nas.rankers.base import PointwiseRanker, Ranker
from nas.rankers.calibrated import CalibratedRanker
from nas.rankers.config import build_rankers, ranker_specs
from nas.rankers.evaluation import (
    HeldOutSplit,
    RankerRow,
    evaluate,
    evaluate_held_out,
    held_out_splits,
    markdown_table,
    text_table,
)
from nas.rankers.ranks import average_ranks, normalized_ranks
from nas.rankers.recorded import RecordedRanker
from nas.rankers.supernet import SupernetRanker
from nas.rankers.zero_cost import PROXIES, ZeroCostRanker

__all__ = [
    "PROXIES",
    "CalibratedRanker",
    "CostRanker",
    "HeldOutSplit",
    "PointwiseRanker",
    "RankAggregation",
    "Ranker",
    "RankerRow",
    "RecordedRanker",
    "SupernetRanker",
    "ZeroCostRanker",
    "average_ranks",
    "build_rankers",
    "evaluate",
    "evaluate_held_out",
    "held_out_splits",
    "markdown_table",
    "normalized_ranks",
    "ranker_specs",
    "text_table",
]
