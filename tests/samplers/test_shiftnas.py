"""ShiftNAS: the generator proposes children inside the requested bin, bins are drawn with their probabilities,
the floor keeps every bin alive, the probabilities shift to improving bins, and the state round-trips."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from nas.errors import ConfigError
from nas.training import StepFeedback
from samplers import ArchitectureGenerator, ComplexityBins, ShiftNASPathSampler
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")  # FMNIST-201


@pytest.fixture(scope="module")
def bins() -> ComplexityBins:
    return ComplexityBins(SPACE, num_bins=5)


def small(**kwargs) -> ShiftNASPathSampler:
    options = dict(num_bins=5, generator_epochs=10, per_bin=50, hidden_size=16, update_every=10)
    options.update(kwargs)
    return ShiftNASPathSampler(SPACE, **options)


def test_bins_split_the_space_by_flops(bins):
    counts = np.bincount(bins.pool_bins)
    assert len(bins.pool) == SPACE.size and counts.sum() == SPACE.size and counts.min() > 0.1 * SPACE.size
    flops = [SPACE.flops(a) for a in bins.pool[:500]]
    order = np.argsort(flops, kind="stable")
    assert all(bins.bin_of(bins.pool[int(a)]) <= bins.bin_of(bins.pool[int(b)]) for a, b in zip(order, order[1:]))


def test_the_generator_proposes_inside_the_requested_bin(bins):
    """At least 95% of 1,000 proposals per bin fall in it (the config's generator), and they are diverse."""
    generator = ArchitectureGenerator(SPACE, bins, hidden_size=128, seed=0)
    generator.fit(epochs=200, per_bin=1000)
    for b in range(bins.num_bins):
        archs = generator.propose([b] * 1000, torch.Generator().manual_seed(b))
        rate = sum(bins.bin_of(a) == b for a in archs) / 1000
        assert rate >= 0.95, (b, rate)
        assert len(set(archs)) >= 300  # not a handful of memorised children
    untrained = ArchitectureGenerator(SPACE, bins, hidden_size=128, seed=0)
    assert min(untrained.in_bin_rate(b) for b in range(bins.num_bins)) < 0.5  # the fit is what puts them there


def test_the_floor_keeps_every_bin_alive():
    sampler = small(floor=0.2)
    sampler.logits = np.array([50.0, 0.0, -50.0, 0.0, 0.0])
    p = sampler.probabilities()
    assert p.sum() == pytest.approx(1.0) and p.min() >= 0.2 / 5 - 1e-12 and p[0] == pytest.approx(0.8 + 0.04)


def test_bins_are_drawn_with_their_probabilities():
    sampler = small(floor=0.1, max_tries=1)  # a poor generator's misses go to the bin's pool: always in the bin
    sampler.logits = np.array([1.0, 0.0, 0.0, -1.0, 0.5])
    p, n = sampler.probabilities(), 1000
    counts = Counter(sampler.bin_of(sampler.sample(step)[0]) for step in range(n))
    for b in range(5):
        assert abs(counts[b] / n - p[b]) < 4.5 * np.sqrt(p[b] * (1 - p[b]) / n), (b, counts, p)


def test_probability_shifts_to_the_bin_that_still_improves():
    sampler = small(update_every=4, shift_lr=0.5)
    archs = [sampler.bins.pool[int(np.flatnonzero(sampler.bins.pool_bins == b)[0])] for b in range(5)]
    def window(step0, losses):
        for k, loss in enumerate(losses):
            sampler.observe(StepFeedback(step0 + k, [archs[k]], losses=[loss]))
    window(0, [2.0, 2.0, 2.0, 2.0])                 # bins 0-3 seen; first window: nothing to compare
    assert np.allclose(sampler.logits, 0.0)
    window(4, [1.0, 1.9, 1.9, 2.0])                 # bin 0 improved by 1.0, bins 1-2 by 0.1, bin 3 not at all
    assert sampler.logits.argmax() == 0 and sampler.logits[3] == sampler.logits.min()
    assert sampler.logits[4] == pytest.approx(0.0, abs=1e-12)  # no losses in bin 4: counted as the mean, no shift
    p = sampler.probabilities()
    assert p[0] > 0.2 > p[3] and p.min() >= sampler.floor / 5


def test_sampling_is_pure_and_the_state_round_trips():
    source = small(seed=3)
    for step in range(20):
        source.observe(StepFeedback(step, source.sample(step), losses=[2.0 - 0.05 * step * (step % 3)]))
    assert not np.allclose(source.logits, 0.0)
    target = small(seed=3)
    target.load_state_dict(source.state_dict())
    assert [target.sample(s) for s in range(30, 40)] == [source.sample(s) for s in range(30, 40)]
    assert np.array_equal(target.previous, source.previous, equal_nan=True)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"floor": 1.5}, r"floor must be in \[0, 1\]"),
    ({"update_every": 0}, "update_every and max_tries must be >= 1"),
    ({"num_bins": 1}, "num_bins must be at least 2"),
    ({"cost": "latency"}, "cost must be 'flops' or 'params'"),
])
def test_bad_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        small(**kwargs)
