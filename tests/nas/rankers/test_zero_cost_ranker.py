"""ZeroCostRanker: fresh seeded models on fixed batches, deterministic under a seed, costs measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nas.data import synthetic
from nas.errors import ConfigError
from nas.rankers import PROXIES, ZeroCostRanker
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
CELLS = [SPACE.sample(np.random.default_rng(i)) for i in range(4)] + [
    SPACE.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")]


@pytest.fixture(scope="module")
def train():
    return synthetic().train


@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_scores_are_deterministic_under_a_seed_and_change_with_it(proxy, train):
    first = ZeroCostRanker(SPACE, proxy, train, batch_size=16, seed=0).score(CELLS)
    again = ZeroCostRanker(SPACE, proxy, train, batch_size=16, seed=0).score(CELLS)
    other = ZeroCostRanker(SPACE, proxy, train, batch_size=16, seed=1).score(CELLS)
    assert first == again
    assert first != other  # another initialisation (and other images)
    assert all(isinstance(s, float) and not np.isnan(s) for s in first)


def test_scoring_leaves_the_global_random_state_alone(train):
    ranker = ZeroCostRanker(SPACE, "naswot", train, batch_size=16)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ranker.score(CELLS)
    assert torch.equal(torch.rand(3), expected)


def test_each_child_sees_the_model_the_space_builds_under_the_seed(train):
    ranker = ZeroCostRanker(SPACE, "snip", train, batch_size=16, seed=3)
    torch.manual_seed(3)
    reference = SPACE.build_model(CELLS[-1])
    built = ranker.build(CELLS[-1])
    assert built.training
    assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), built.state_dict().values()))


def test_cost_is_measured_per_child_and_cached_children_are_free(train):
    ranker = ZeroCostRanker(SPACE, "grad_norm", train, batch_size=16)
    ranker.score(CELLS)
    seconds = ranker.seconds
    ranker.score(CELLS + CELLS[:2])
    assert ranker.children_scored == len(CELLS) and ranker.seconds == seconds
    assert 0.0 < ranker.seconds_per_child == seconds / len(CELLS)


def test_a_disconnected_cell_ranks_last_under_synflow_and_jacob_cov(train):
    dead = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    for proxy in ("synflow", "jacob_cov"):
        scores = ZeroCostRanker(SPACE, proxy, train, batch_size=16).score([dead, *CELLS])
        assert scores[0] < min(scores[1:]), proxy


def test_bad_settings_are_clear_errors(train):
    with pytest.raises(ConfigError, match="unknown zero-cost proxy 'zen'"):
        ZeroCostRanker(SPACE, "zen", train)
    with pytest.raises(ConfigError, match="the split has 512"):
        ZeroCostRanker(SPACE, "snip", train, batches=3, batch_size=256)
