"""EPNAS: temperature sampling (uniform when hot, argmax when cold), K unique picks per level, progressive
levels, determinism under a seed, exact resume, constraints and a pluggable surrogate."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from nas.errors import ConfigError
from nas.searchers import EPNAS, MLPSurrogate, RidgeSurrogate, sample_unique, sampling_probabilities
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace()


def convs(arch) -> float:
    """A toy objective: how many 3x3 convolutions (additive, so a ridge surrogate fits it exactly)."""
    return float(sum(op == "nor_conv_3x3" for op in arch.values())) + 0.1 * sum(op == "nor_conv_1x1" for op in
                                                                             arch.values())


def test_probabilities_are_near_uniform_when_hot_and_argmax_when_cold():
    predicted = np.random.default_rng(0).normal(size=50) * 1e-3 + 0.9  # tiny spread: standardised first
    hot, cold = sampling_probabilities(predicted, 1e4), sampling_probabilities(predicted, 1e-3)
    assert np.abs(hot - 1 / 50).max() < 1e-5
    assert cold[np.argmax(predicted)] > 0.999
    assert np.allclose(sampling_probabilities(1000 * predicted, 0.5), sampling_probabilities(predicted, 0.5))
    assert np.allclose(sampling_probabilities(np.ones(4), 0.01), 0.25)  # no information: uniform


def test_the_searcher_samples_uniformly_when_hot():
    """Level-2 picks of many seeds at temperature 1e4 are uniform over the 25 expansions of level 1."""
    counts: Counter = Counter()
    for seed in range(200):
        searcher = EPNAS(SPACE, seed=seed, samples_per_level=1, temperature_start=1e4, temperature_end=1e4,
                         surrogate=RidgeSurrogate())
        searcher.search(convs, budget=5)     # level 1: all 5 partials, one child each
        searcher._expand()                   # level 2: 1 of the 25 expansions... of one pick only
        counts[searcher.frontier[0][1]] += 1
    assert len(counts) == 5 and max(counts.values()) - min(counts.values()) < 30  # 40 expected each


def test_the_searcher_picks_the_predicted_top_k_when_cold():
    searcher = EPNAS(SPACE, seed=0, samples_per_level=3, temperature_start=1e-6, temperature_end=1e-6,
                     surrogate=RidgeSurrogate(alpha=1e-3))
    history = searcher.search(convs, budget=3 * 4)  # levels 1-4: 3 children each
    previous = searcher.frontier
    searcher._expand()  # level 5: the 3 best-predicted expansions of level 4's picks, in that order
    candidates = [p + (o,) for p in previous for o in SPACE.decisions[searcher.names[4]]]
    predicted = searcher.predict(candidates)
    picked = sorted(predicted[candidates.index(p)] for p in searcher.frontier)
    assert np.allclose(picked, np.sort(predicted)[-3:])  # the three highest predictions (ties drawn at random)
    assert np.ptp(predicted) > 0.5  # the surrogate does tell the candidates apart
    assert len(history) == 12 and searcher.level == 5


def test_sample_unique_draws_in_proportion():
    """The first of k draws follows sampling_probabilities; k draws are distinct."""
    predicted, rng = np.array([0.0, 1.0, 2.0, 3.0]), np.random.default_rng(0)
    firsts = Counter(sample_unique(predicted, 1.0, 3, rng)[0] for _ in range(20_000))
    expected = sampling_probabilities(predicted, 1.0)
    assert max(abs(firsts[i] / 20_000 - expected[i]) for i in range(4)) < 0.01
    assert all(len(set(sample_unique(predicted, 0.5, 4, rng))) == 4 for _ in range(50))


def test_k_unique_samples_per_level_and_levels_grow():
    searcher = EPNAS(SPACE, seed=1, samples_per_level=7, surrogate=RidgeSurrogate())
    sizes = []
    for level in range(6):
        searcher._expand()
        assert len(searcher.frontier) == len(set(searcher.frontier)) == (5 if level == 0 else 7)
        assert {len(p) for p in searcher.frontier} == {level + 1}
        assert len(searcher.queue) == len(set(searcher.queue)) == len(searcher.frontier)
        sizes.append(len(searcher.frontier))
        for arch in list(searcher.queue):
            searcher.tell(arch, convs(arch))
        searcher.queue = []
    assert sizes == [5, 7, 7, 7, 7, 7]
    assert len(searcher.history) == len({t.arch for t in searcher.history.trials}) == 40


def test_temperature_schedule_is_geometric():
    searcher = EPNAS(SPACE, temperature_start=1.0, temperature_end=0.01, surrogate=RidgeSurrogate())
    assert [round(searcher.temperature(level), 6) for level in range(6)] == \
        [round(0.01 ** (level / 5), 6) for level in range(6)]


def test_deterministic_under_a_seed_and_different_across_seeds():
    runs = [EPNAS(SPACE, seed=s, surrogate=MLPSurrogate(hidden=(16,), epochs=30, seed=s)).search(convs, budget=20)
            for s in (3, 3, 4)]
    assert [t.arch for t in runs[0].trials] == [t.arch for t in runs[1].trials]
    assert [t.arch for t in runs[0].trials] != [t.arch for t in runs[2].trials]


def test_resume_continues_exactly(tmp_path):
    straight = EPNAS(SPACE, seed=5, samples_per_level=4, surrogate=RidgeSurrogate())
    straight.search(convs, budget=40)
    first = EPNAS(SPACE, seed=5, samples_per_level=4, surrogate=RidgeSurrogate())
    first.search(convs, budget=13)  # mid-level, with children queued
    assert first.queue
    first.save(tmp_path / "epnas.pt")
    resumed = EPNAS(SPACE, seed=5, samples_per_level=4, surrogate=RidgeSurrogate())
    resumed.load(tmp_path / "epnas.pt")
    resumed.search(convs, budget=40)
    assert [t.arch for t in resumed.history.trials] == [t.arch for t in straight.history.trials]


def test_constraints_hold():
    searcher = EPNAS(SPACE, seed=0, constraints={"max_flops": 50_000_000}, surrogate=RidgeSurrogate())
    history = searcher.search(convs, budget=40)
    assert len(history) == 40 and max(t.cost["flops"] for t in history.trials) <= 50_000_000


@pytest.mark.parametrize("kwargs, fragment", [
    ({"samples_per_level": 0}, "samples_per_level, decisions_per_level and completion_tries must be >= 1"),
    ({"temperature_end": 0.0}, "temperatures must be > 0"),
])
def test_bad_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        EPNAS(SPACE, **kwargs)
