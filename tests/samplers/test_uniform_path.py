"""UniformPathSampler: the distribution it actually produces, purity in (seed, step), state."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from nas.errors import ConfigError
from nas.training import StepFeedback
from samplers import PathSampler, UniformPathSampler
from search_spaces.nb201 import EDGE_NAMES, OPS, NB201Architecture, NB201SearchSpace

DRAWS = 12_000


@pytest.fixture(scope="module")
def space() -> NB201SearchSpace:
    return NB201SearchSpace()


@pytest.fixture(scope="module")
def draws(space) -> list[NB201Architecture]:
    """One child per step for ``DRAWS`` different steps (what a training run would see)."""
    sampler = UniformPathSampler(space, seed=3)
    out = []
    for step in range(DRAWS):
        archs = sampler.sample(step)
        assert len(archs) == 1
        out.append(archs[0])
    return out


def test_is_a_path_sampler(space):
    sampler = UniformPathSampler(space, seed=0)
    assert isinstance(sampler, PathSampler)
    assert sampler.needs == frozenset()


def test_samples_are_valid_architectures_of_the_space(space, draws):
    for arch in draws[:500]:
        assert isinstance(arch, NB201Architecture)
        assert space.validate(arch) == arch
        assert set(arch) == set(EDGE_NAMES)


def test_each_edge_op_frequency_is_one_fifth(draws):
    n, p = len(draws), 1.0 / len(OPS)
    tolerance = 4.5 * math.sqrt(p * (1 - p) / n)
    for edge in EDGE_NAMES:
        counts = Counter(arch[edge] for arch in draws)
        assert set(counts) == set(OPS), (edge, counts)
        for op in OPS:
            frequency = counts[op] / n
            assert abs(frequency - p) <= tolerance, (edge, op, frequency, tolerance)


@pytest.mark.parametrize("first, second", [("1<-0", "2<-1"), ("2<-0", "3<-2"), ("3<-0", "3<-1")])
def test_joint_of_two_edges_is_uniform(draws, first, second):
    counts = Counter((arch[first], arch[second]) for arch in draws)
    observed = np.array([counts[(a, b)] for a in OPS for b in OPS], dtype=float)
    assert observed.sum() == len(draws)
    result = stats.chisquare(observed)  # expected: uniform over the 25 cells
    assert result.pvalue > 1e-4, (first, second, observed, result)


def test_joint_chi_square_would_reject_a_biased_sampler(draws):
    """The chi-square check has power: dropping one cell's draws is rejected."""
    counts = Counter((arch["1<-0"], arch["2<-1"]) for arch in draws if
                     (arch["1<-0"], arch["2<-1"]) != ("none", "none"))
    observed = np.array([counts[(a, b)] for a in OPS for b in OPS], dtype=float)
    assert stats.chisquare(observed).pvalue < 1e-4


def test_many_distinct_children(draws, space):
    # 12,000 draws from 15,625 cells: expected distinct = N (1 - exp(-n/N)) ~ 8,085.
    distinct = len(set(draws))
    expected = space.size * (1 - math.exp(-len(draws) / space.size))
    assert abs(distinct - expected) < 150, (distinct, expected)


def test_sample_is_a_pure_function_of_seed_and_step(space):
    # Two instances = two DDP ranks; call order differs on purpose.
    rank0 = UniformPathSampler(space, seed=11)
    rank1 = UniformPathSampler(space, seed=11)
    steps = list(range(50))
    on_rank0 = {s: rank0.sample(s) for s in steps}
    on_rank1 = {s: rank1.sample(s) for s in reversed(steps)}
    assert on_rank0 == on_rank1
    # Repeated calls on the same instance give the same child.
    assert rank0.sample(7) == rank0.sample(7) == on_rank0[7]


def test_sample_differs_across_steps_and_seeds(space):
    sampler = UniformPathSampler(space, seed=11)
    by_step = [sampler.sample(s)[0] for s in range(40)]
    assert len(set(by_step)) >= 38  # collisions in 15,625 cells are rare
    other = UniformPathSampler(space, seed=12)
    differing = sum(sampler.sample(s) != other.sample(s) for s in range(40))
    assert differing >= 38


def test_matches_the_documented_rng(space):
    """sample(step) draws from default_rng([seed, step]) via space.sample."""
    sampler = UniformPathSampler(space, seed=5, num_paths=2)
    rng = np.random.default_rng([5, 123])
    expected = [space.sample(rng), space.sample(rng)]
    assert sampler.sample(123) == expected


def test_observe_does_not_change_draws(space):
    sampler = UniformPathSampler(space, seed=2)
    before = sampler.sample(9)
    sampler.observe(StepFeedback(step=9, archs=before, losses=[123.0]))
    assert sampler.sample(9) == before


def test_num_paths_three_returns_three_archs(space):
    sampler = UniformPathSampler(space, seed=0, num_paths=3)
    for step in range(20):
        archs = sampler.sample(step)
        assert len(archs) == 3
        assert all(isinstance(a, NB201Architecture) for a in archs)
    # Within a step the three children are independent draws: over 20 steps they are rarely all equal.
    assert sum(len(set(sampler.sample(s))) == 3 for s in range(20)) >= 19
    # The first child of num_paths=3 is the single child of num_paths=1 (same stream).
    single = UniformPathSampler(space, seed=0, num_paths=1)
    assert all(sampler.sample(s)[0] == single.sample(s)[0] for s in range(20))


@pytest.mark.parametrize("bad", [0, -1])
def test_num_paths_below_one_raises_config_error(space, bad):
    with pytest.raises(ConfigError, match=f"num_paths must be at least 1, got {bad}"):
        UniformPathSampler(space, seed=0, num_paths=bad)


def test_state_dict_round_trip(space):
    source = UniformPathSampler(space, seed=42)
    state = source.state_dict()
    assert state == {"seed": 42}
    target = UniformPathSampler(space, seed=0)
    assert [target.sample(s) for s in range(10)] != [source.sample(s) for s in range(10)]
    target.load_state_dict(state)
    assert target.seed == 42
    assert target.state_dict() == state
    assert [target.sample(s) for s in range(10)] == [source.sample(s) for s in range(10)]
