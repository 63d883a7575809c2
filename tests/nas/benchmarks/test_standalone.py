"""StandaloneTraining: the ground truth's loop, stopped anywhere and resumed, ends with the same weights."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import nas.benchmarks.standalone
from nas.benchmarks import StandaloneRecipe
from nas.benchmarks.recipe import train_standalone
from nas.benchmarks.standalone import StandaloneTraining
from nas.data import synthetic
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
DATA = synthetic(train_size=200, valid_size=64, test_size=64)
RECIPE = StandaloneRecipe(train_size=200, epochs=2, batch_size=64)  # 4 steps per epoch, the last one short
ARCH = SPACE.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")


def fresh(seed: int = 1) -> StandaloneTraining:
    torch.manual_seed(seed)
    return StandaloneTraining(SPACE.build_model(ARCH), DATA.train, RECIPE, seed)


@pytest.mark.parametrize("stop_at", [1, 4, 6])  # mid-epoch, at an epoch's end, mid-epoch of the last one
def test_stopped_and_resumed_ends_with_the_weights_of_an_unstopped_run(stop_at):
    whole = fresh()
    whole.run()
    first = fresh()
    first.run(until=stop_at)
    state = first.state_dict()
    torch.manual_seed(123)  # whatever ran in between does not matter
    resumed = StandaloneTraining(SPACE.build_model(ARCH), DATA.train, RECIPE, 1)  # other initial weights
    resumed.load_state_dict(state)
    resumed.run()
    assert resumed.step == whole.step == 8
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.train_accuracy == whole.train_accuracy
    assert resumed.evaluate(DATA.test) == whole.evaluate(DATA.test)


def test_train_standalone_is_this_loop_from_a_seeded_fresh_network():
    record = train_standalone(SPACE, ARCH, DATA, RECIPE, seed=1)
    training = fresh(1)
    training.run()
    assert record["accuracy"] == training.evaluate(DATA.test)
    assert record["train_accuracy"] == training.train_accuracy
    assert 0.0 < record["accuracy"] < 100.0


def test_the_learning_rate_decays_to_zero_on_a_cosine():
    lrs = []
    fresh().run(on_step=lambda r: lrs.append(r.lr))
    expected = [0.5 * RECIPE.lr * (1 + np.cos(np.pi * s / 8)) for s in range(8)]
    assert lrs == pytest.approx(expected)


def test_doctests():
    assert doctest.testmod(nas.benchmarks.standalone).failed == 0
