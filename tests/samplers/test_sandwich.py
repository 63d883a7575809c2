"""SandwichPathSampler: largest, smallest and n uniform children; delayed shrinking; clear errors."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.training import StepFeedback, TrainingBudget
from samplers import PathSampler, SandwichPathSampler, UniformPathSampler
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace

STEPS = 6_000  # x 2 random children = 12,000 draws


@pytest.fixture(scope="module")
def space() -> ElasticViTSearchSpace:
    return ElasticViTSearchSpace(in_channels=1, input_size=16)


@pytest.fixture(scope="module")
def random_draws(space) -> list:
    sampler = SandwichPathSampler(space, seed=3, num_random=2)
    draws = []
    for step in range(STEPS):
        children = sampler.sample(step)
        assert len(children) == 4
        draws.extend(children[2:])
    return draws


def test_teacher_flag_and_base_defaults(space):
    assert SandwichPathSampler.teacher_first is True
    assert PathSampler.teacher_first is False and UniformPathSampler.teacher_first is False
    uniform = UniformPathSampler(space)
    uniform.set_budget(TrainingBudget(10, 5))  # the base keeps the budget; uniform draws ignore it
    assert uniform.budget.total_steps == 10 and uniform.sample(3) == UniformPathSampler(space).sample(3)


@pytest.mark.parametrize("num_random", [0, 1, 3])
def test_largest_first_then_smallest_then_n_random(space, num_random):
    sampler = SandwichPathSampler(space, seed=0, num_random=num_random)
    for step in range(20):
        children = sampler.sample(step)
        assert len(children) == 2 + num_random
        assert children[0] == space.largest() and children[1] == space.smallest()
        assert all(space.validate(c) == c for c in children)
    if num_random:
        assert len({tuple(sampler.sample(s)[2:]) for s in range(20)}) == 20


def test_random_children_are_uniform_per_decision(space, random_draws):
    """Each option's frequency is within 4.5 binomial standard deviations of 1 / #options."""
    n = len(random_draws)
    assert n >= 10_000
    for name, options in space.decisions.items():
        counts = Counter(arch[name] for arch in random_draws)
        p = 1.0 / len(options)
        bound = 4.5 * math.sqrt(p * (1 - p) / n)
        for option in options:
            assert abs(counts[option] / n - p) <= bound, (name, option, counts)


def test_the_uniformity_check_has_power(space, random_draws):
    """A sampler that favoured the largest child a little (10% of draws) would be caught."""
    biased = random_draws[: int(0.9 * len(random_draws))] + [space.largest()] * int(0.1 * len(random_draws))
    n, p = len(biased), 1.0 / 3
    frequency = sum(a["depth"] == 4 for a in biased) / n
    assert abs(frequency - p) > 4.5 * math.sqrt(p * (1 - p) / n)


def test_pure_function_of_seed_and_step(space):
    a, b = SandwichPathSampler(space, seed=7), SandwichPathSampler(space, seed=7)
    forward = {s: a.sample(s) for s in range(30)}
    assert {s: b.sample(s) for s in reversed(range(30))} == forward
    other = SandwichPathSampler(space, seed=8)
    assert sum(other.sample(s)[2:] != forward[s][2:] for s in range(30)) >= 29
    a.observe(StepFeedback(5, forward[5], losses=[1.0] * 4))
    assert a.sample(5) == forward[5]


def test_delayed_shrinking_trains_only_the_largest_first(space):
    sampler = SandwichPathSampler(space, seed=0, num_random=2, delay_fraction=0.25)
    with pytest.raises(ConfigError, match=r"delay_fraction=0.25 needs the training budget: call set_budget"):
        sampler.sample(0)
    sampler.set_budget(TrainingBudget(101, 10))
    assert sampler.delay_steps == 26
    assert all(sampler.sample(s) == [space.largest()] for s in range(26))
    assert len(sampler.sample(26)) == 4 and sampler.sample(26)[1] == space.smallest()
    assert SandwichPathSampler(space, delay_fraction=0.0).delay_steps == 0  # no budget needed


def test_trainer_tells_the_sampler_its_budget(tmp_path, space):
    import functools

    import torch

    from nas.data import synthetic
    from samplers import UniformDataSampler
    from tests.nas.training.helpers import one_shot_trainer

    data = synthetic(train_size=64, image_size=8)
    tiny = ElasticViTSearchSpace(in_channels=1, num_classes=4, input_size=8, embed_dims=(8,), depths=(1, 2),
                                 num_heads=(1, 2), mlp_ratios=(1, 2), head_dim=4)
    sampler = SandwichPathSampler(tiny, seed=0, num_random=1, delay_fraction=0.5)
    seen = []
    original = sampler.sample
    sampler.sample = lambda step: seen.append(original(step)) or seen[-1]
    trainer = one_shot_trainer(tiny.build_supernet(), data.train, sampler, UniformDataSampler(len(data.train)),
                               tmp_path, optimizer=functools.partial(torch.optim.SGD, lr=0.1), epochs=3,
                               max_steps=8, batch_size=16, progress=False, tensorboard=False, checkpoint_every=0)
    trainer.fit()
    assert sampler.budget == trainer.budget == TrainingBudget(total_steps=8, steps_per_epoch=4)  # max_steps counts
    assert [len(children) for children in seen] == [1, 1, 1, 1, 3, 3, 3, 3]


class UnorderedNB201(NB201SearchSpace):
    """NAS-Bench-201 with the base class's largest()/smallest(): last/first op of every edge, which
    are not its biggest/smallest cells (avg_pool_3x3 has no parameters)."""

    largest = SearchSpace.largest
    smallest = SearchSpace.smallest


def test_spaces_without_a_size_order_are_rejected():
    with pytest.raises(ConfigError) as info:
        SandwichPathSampler(UnorderedNB201(), seed=0)
    message = str(info.value)
    assert "'nb201'" in message and "no size order" in message and "path_sampler=uniform" in message
    # all-none and all-pooling cells have the same (skeleton-only) parameter count
    assert re.search(r"parameters, outside \[([\d,]+), \1\] of smallest\(\)/largest\(\)", message), message


def test_spaces_without_largest_and_smallest_are_rejected():
    class NoExtremes:
        name = "plain"

        def validate(self, arch):
            return arch

        def largest(self):
            raise NotImplementedError("no size order here")

    with pytest.raises(ConfigError, match=r"needs largest\(\) and smallest\(\) children, and search space 'plain'"):
        SandwichPathSampler(NoExtremes(), seed=0)  # type: ignore[arg-type]


def test_elastic_conv_space_is_accepted():
    space = ElasticConvSearchSpace(in_channels=1, input_size=16)
    assert SandwichPathSampler(space).sample(0)[0] == space.largest()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"num_random": -1}, "num_random must be a non-negative integer, got -1"),
    ({"num_random": 1.5}, "num_random must be a non-negative integer"),
    ({"delay_fraction": 1.0}, r"delay_fraction must be in \[0, 1\), got 1.0"),
    ({"delay_fraction": -0.1}, "delay_fraction must be in"),
])
def test_bad_options(space, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SandwichPathSampler(space, **kwargs)


def test_state_dict_round_trip(space):
    source, target = SandwichPathSampler(space, seed=42), SandwichPathSampler(space, seed=0)
    target.load_state_dict(source.state_dict())
    assert [target.sample(s) for s in range(5)] == [source.sample(s) for s in range(5)]
