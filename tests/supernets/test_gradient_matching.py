"""Gradient matching: distances, bipartitions and decision scores equal hand-built expectations."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError
from search_spaces.nb201 import NB201SearchSpace
from supernets.base import Supernet
from supernets.gradient_matching import (
    best_bipartition,
    bipartitions,
    cosine_distances,
    score_decision,
    shared_parameters,
)

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")


class Signs(Supernet):
    """A shared linear layer whose output each option multiplies by a fixed sign (no own parameters):
    the gradient of the shared weight under option o is sign(o) times the same vector."""

    SIGN = {"plus": 1.0, "minus": -1.0, "also_plus": 1.0}

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(3, 2)

    def forward(self, x, arch):
        return self.SIGN[arch["d"]] * self.shared(x)

    def subnet(self, arch):
        raise NotImplementedError

    def option_parameters(self):
        return {("d", o): [] for o in self.SIGN}


def _score(net, options):
    batches = [(torch.randn(5, 3), torch.zeros(5, dtype=torch.long)) for _ in range(2)]
    rest = [Architecture({"d": "plus"})] * 2
    return score_decision(net, "d", options, batches, rest, Architecture, loss_fn=lambda out, y: out.sum())


def test_identical_gradients_have_cosine_one_and_opposite_minus_one():
    torch.manual_seed(0)
    score = _score(Signs(), ["plus", "minus", "also_plus"])
    d = np.array(score.distances)
    assert d[0, 2] == pytest.approx(0.0, abs=1e-9)  # identical: cosine 1
    assert d[0, 1] == pytest.approx(2.0, abs=1e-9) and d[1, 2] == pytest.approx(2.0, abs=1e-9)  # opposite: -1
    assert score.groups == (("plus", "also_plus"), ("minus",))
    assert score.within == pytest.approx(0.0, abs=1e-9) and score.cut == pytest.approx(4.0)


def test_two_identical_options_cannot_be_told_apart_and_opposite_ones_score_the_maximum():
    torch.manual_seed(0)
    same = _score(Signs(), ["plus", "also_plus"])
    opposite = _score(Signs(), ["plus", "minus"])
    assert same.cut == pytest.approx(0.0, abs=1e-9)
    assert opposite.cut == pytest.approx(2.0)


def test_bipartitions_of_five_options_are_the_fifteen_with_both_groups_non_empty():
    parts = bipartitions(5)
    assert len(parts) == 15 == 2**4 - 1
    seen = {frozenset([frozenset(a), frozenset(b)]) for a, b in parts}
    assert len(seen) == 15
    assert all(a and b and set(a) | set(b) == set(range(5)) and not set(a) & set(b) for a, b in parts)


def test_best_bipartition_is_the_brute_force_minimum_of_within_group_distance():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.uniform(0, 2, (5, 5))
        d = np.triu(m, 1) + np.triu(m, 1).T
        (a, b), within, cut = best_bipartition(d)
        brute = min(sum(d[i, j] for g in (x, set(range(5)) - set(x)) for i, j in itertools.combinations(sorted(g), 2))
                    for r in range(1, 5) for x in itertools.combinations(range(5), r))
        assert within == pytest.approx(brute)
        assert within + cut == pytest.approx(d[np.triu_indices(5, 1)].sum())  # min within == max cut


def test_zero_gradient_is_at_distance_one():
    d = cosine_distances([torch.zeros(3), torch.ones(3)])
    assert d[0, 1] == pytest.approx(1.0)


def test_shared_parameters_leave_out_exactly_the_decisions_own_ops():
    net = SPACE.build_supernet()
    shared = {id(p) for p in shared_parameters(net, "2<-1")}
    own = {id(p) for (d, _), ps in net.option_parameters().items() if d == "2<-1" for p in ps}
    assert own and not shared & own
    assert shared | own == {id(p) for p in net.parameters()}


def test_scoring_an_nb201_edge_leaves_grads_and_bn_statistics_untouched():
    torch.manual_seed(0)
    net = SPACE.build_supernet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = np.random.default_rng(0)
    batches = [(torch.randn(8, 1, 8, 8), torch.randint(0, 4, (8,)))]
    score = score_decision(net, "1<-0", SPACE.decisions["1<-0"], batches, [SPACE.sample(rng)], SPACE.make)
    assert len(score.groups[0]) + len(score.groups[1]) == 5 and score.cut > 0
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_single_option_cannot_be_split():
    with pytest.raises(ConfigError, match="'d' has a single option"):
        _score(Signs(), ["plus"])
