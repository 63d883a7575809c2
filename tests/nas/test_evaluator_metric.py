"""Evaluator(metric="loss"): minus the mean cross-entropy over the valid images, against hand computations."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture
from nas.data import synthetic
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.evaluator import Evaluator
from search_spaces.nb201 import NB201SearchSpace
from supernets.base import Supernet


class LogitsAreInputs(Supernet):
    """A stand-in supernet: the 'images' are the logits (times the child's ``scale``)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x, arch):
        return x.flatten(1) * arch["scale"]

    def subnet(self, arch):
        raise NotImplementedError


VALID = TensorSplit(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]).view(3, 1, 1, 2), torch.tensor([0, 1, 1]))


def hand_loss(scale: float) -> float:
    """-(1/3) sum_i log softmax(logits_i)[y_i] for the three examples of VALID."""
    a = math.log(1 + math.exp(-2 * scale))         # label 0 of [2, 0]
    b = math.log(1 + math.exp(-1 * scale))         # label 1 of [0, 1]
    c = math.log(1 + math.exp(3 * scale))          # label 1 of [3, 0]: wrong and confident
    return -(a + b + c) / 3


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_loss_is_minus_the_mean_cross_entropy(batch_size):
    evaluator = Evaluator(LogitsAreInputs(), VALID, bn_policy="running_stats", metric="loss", batch_size=batch_size,
                          progress=False)
    for scale in (1.0, 0.5):
        assert evaluator.score(Architecture({"scale": scale})) == pytest.approx(hand_loss(scale), abs=1e-6)
    assert hand_loss(1.0) == pytest.approx(-(0.1269 + 0.3133 + 3.0486) / 3, abs=1e-4)


def test_loss_ranks_where_accuracy_ties():
    """Both scales classify 2 of 3 right (accuracy 66.7% each); the loss prefers the less confident mistake."""
    accuracy = Evaluator(LogitsAreInputs(), VALID, bn_policy="running_stats", progress=False)
    loss = Evaluator(LogitsAreInputs(), VALID, bn_policy="running_stats", metric="loss", progress=False)
    sharp, soft = Architecture({"scale": 1.0}), Architecture({"scale": 0.5})
    assert accuracy.score(sharp) == accuracy.score(soft) == pytest.approx(200 / 3)
    assert loss.score(soft) > loss.score(sharp)


def test_loss_on_a_supernet_equals_a_recalibrated_copy():
    data = synthetic(train_size=512, valid_size=100, seed=1)
    space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
    torch.manual_seed(0)
    supernet = space.build_supernet()
    arch = space.sample(np.random.default_rng(0))
    evaluator = Evaluator(supernet, data.valid, data.train, valid_size=None, recalibration_batches=2,
                          recalibration_batch_size=64, batch_size=30, metric="loss", seed=2, progress=False)
    twin = copy.deepcopy(supernet)
    picks = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(2))[:128]
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        twin.train()
        for x in data.train.x[picks].split(64):
            twin(x, arch)
        twin.eval()
        expected = -float(F.cross_entropy(twin(data.valid.x, arch), data.valid.y))
    assert evaluator.score(arch) == pytest.approx(expected, rel=1e-5)
    assert evaluator.score(arch) < 0


def test_an_unknown_metric_is_refused():
    with pytest.raises(ConfigError, match=r"unknown evaluator metric 'top5'; choose one of \['accuracy', 'loss'\]"):
        Evaluator(LogitsAreInputs(), VALID, bn_policy="running_stats", metric="top5")


def test_the_evaluator_docstring_example_runs():
    import doctest

    import nas.evaluator

    result = doctest.testmod(nas.evaluator)
    assert result.failed == 0 and result.attempted > 0
