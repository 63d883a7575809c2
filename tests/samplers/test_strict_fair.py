import numpy as np
import pytest

from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.strict_fair import StrictFairPathSampler
from search_spaces.nb201 import NB201SearchSpace


def test_every_option_of_every_decision_exactly_once_per_step():
    space = NB201SearchSpace()
    sampler = StrictFairPathSampler(space, seed=0)
    for step in range(200):
        children = sampler.sample(step)
        assert len(children) == 5
        for name, options in space.decisions.items():
            assert sorted(c[name] for c in children) == sorted(options)


def test_permutations_are_uniform():
    space = NB201SearchSpace()
    sampler = StrictFairPathSampler(space, seed=1)
    n = 10_000
    first = np.zeros(5)
    for step in range(n):
        first[list(space.decisions["1<-0"]).index(sampler.sample(step)[0]["1<-0"])] += 1
    p = 0.2
    assert np.all(np.abs(first / n - p) <= 4.5 * np.sqrt(p * (1 - p) / n))


def test_unequal_option_counts_are_refused():
    class Uneven(SearchSpace):
        name = "uneven"
        decisions = property(lambda self: {"a": (1, 2), "b": (1, 2, 3)})
        build_supernet = build_model = params = flops = lambda self, *a: 0

    with pytest.raises(ConfigError, match="same number of options"):
        StrictFairPathSampler(Uneven())
