"""Rank aggregation (mean rank / Borda count) on hand examples."""

from __future__ import annotations

import pytest

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.rankers import CalibratedRanker, RankAggregation, average_ranks

from tests.nas.rankers.helpers import Key


def cells(rows):
    return [Architecture(dict(zip("abc", r))) for r in rows]


def test_mean_rank_of_two_rankers_by_hand():
    archs = cells([(10, 3, 0), (20, 1, 0), (30, 2, 0), (40, 4, 0)])
    # ranks under a: 1 2 3 4; under b: 3 1 2 4  -> means 2, 1.5, 2.5, 4
    assert RankAggregation([Key("a"), Key("b")]).score(archs) == [2.0, 1.5, 2.5, 4.0]


def test_ties_share_ranks_and_weights_count():
    archs = cells([(1, 5, 0), (1, 6, 0), (2, 7, 0)])
    # a: ranks 1.5 1.5 3; b: 1 2 3; weights 3:1 -> (3*1.5+1)/4, (3*1.5+2)/4, 3
    assert RankAggregation([Key("a"), Key("b")], weights=[3, 1]).score(archs) == [1.375, 1.625, 3.0]


def test_minus_infinity_ranks_last():
    assert average_ranks([2.0, float("-inf"), 1.0]).tolist() == [3.0, 1.0, 2.0]


def test_cost_is_the_members_sum_and_names_say_what_is_used():
    a, b = Key("a"), Key("b")
    aggregate = RankAggregation([a, b])
    aggregate.score(cells([(1, 2, 0), (2, 1, 0)]))
    assert aggregate.seconds_per_child == pytest.approx(a.seconds_per_child + b.seconds_per_child)
    assert aggregate.name == "mean rank(a, b)" and "no ground truth" in aggregate.uses


def test_members_that_need_ground_truth_are_refused():
    with pytest.raises(ConfigError, match="needs ground truth"):
        RankAggregation([Key("a"), CalibratedRanker([Key("b")])])
    with pytest.raises(ConfigError, match="weights"):
        RankAggregation([Key("a")], weights=[1, 2])
