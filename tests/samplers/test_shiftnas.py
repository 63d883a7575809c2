"""ShiftNAS: the generator proposes children inside the requested bin (constrained decoding on monotone costs,
free decoding elsewhere), bins are drawn with their probabilities, the floor keeps every bin alive, the
probabilities shift to improving bins, and the state round-trips."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from pathlib import Path

from torch import nn

from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.training import StepFeedback
from samplers import ArchitectureGenerator, ComplexityBins, ShiftNASPathSampler
from samplers.path.arch_generator import MonotoneCost
from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.nb201 import NB201SearchSpace

SPACE = NB201SearchSpace(C=8, N=1, in_channels=1, input_size=16, reduction="light")  # FMNIST-201
ELASTIC = ElasticConvSearchSpace(  # conf/search_space/elastic_conv.yaml on FMNIST (1 channel, 16x16, 10 classes)
    in_channels=1, num_classes=10, input_size=16, stem_channels=8, stem_stride=2, stage_channels=(8, 16, 24),
    stage_strides=(1, 2, 2), depths=(1, 2, 3), kernel_sizes=(3, 5, 7), expand_ratios=(2, 3, 4),
    width_multipliers=(0.75, 1.0), channel_divisor=2)


class _Toy(SearchSpace):
    """A space whose cost is a formula of its decisions (``flops``; params the same): no networks."""

    def build_supernet(self):
        raise NotImplementedError

    def build_model(self, arch):
        return nn.Identity()

    def params(self, arch):
        return self.flops(arch)


class Saddle(_Toy):
    """Two decisions whose FLOPs ``a * (b - 1)`` fall with ``a`` when ``b == 0`` and rise when ``b == 2``: no
    ranking of ``a``'s options is monotone."""

    name = "saddle"

    @property
    def decisions(self):
        return {"a": (0, 1, 2), "b": (0, 1, 2)}

    def flops(self, arch):
        return 10 + arch["a"] * (arch["b"] - 1)


class Steps(_Toy):
    """FLOPs ``100 a + b``: monotone, with gaps of 98 between a's levels that a bin can be put into."""

    name = "steps"

    @property
    def decisions(self):
        return {"a": (0, 1, 2), "b": (0, 1)}

    def flops(self, arch):
        return 100 * arch["a"] + arch["b"]


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
    untrained = ArchitectureGenerator(SPACE, bins, hidden_size=128, seed=0, decoding="free")
    assert min(untrained.in_bin_rate(b) for b in range(bins.num_bins)) < 0.5  # the fit is what puts them there
    masked = ArchitectureGenerator(SPACE, bins, hidden_size=128, seed=0)  # ... and the mask alone does not
    assert min(masked.in_bin_rate(b) for b in range(bins.num_bins)) < 0.95


def test_the_elastic_conv_cost_is_monotone_in_every_decision():
    """What the bounds rest on: in the space's own option order, raising any one decision (deeper, larger kernel,
    larger expand ratio, wider) never lowers FLOPs or params, on random children; the cost model finds that
    order and calls the space monotone."""
    rng = np.random.default_rng(0)
    for _ in range(150):
        arch = ELASTIC.sample(rng)
        for name, options in ELASTIC.decisions.items():
            children = [arch.replace(**{name: o}) for o in options]
            for measure in (ELASTIC.flops, ELASTIC.params):
                costs = [measure(c) for c in children]
                assert costs == sorted(costs), (str(arch), name, costs)
    model = MonotoneCost(ELASTIC, ComplexityBins(ELASTIC, num_bins=5, pool_size=500), probes=32)
    assert model.monotone and model.violation is None
    for name, rank in zip(model.names, model.ranks):  # ascending in cost; inactive blocks tie and keep the order
        assert rank == list(range(len(ELASTIC.decisions[name]))), (name, rank)
    fmnist = MonotoneCost(SPACE, ComplexityBins(SPACE, num_bins=5), probes=32)
    assert fmnist.monotone and all([SPACE.decisions[n][j] for j in r][-2:] == ["nor_conv_1x1", "nor_conv_3x3"]
                                   for n, r in zip(fmnist.names, fmnist.ranks))


@pytest.mark.parametrize("space", [ELASTIC, SPACE], ids=["elastic_conv", "fmnist201"])
def test_the_bounds_bracket_every_completion(space):
    """The cheapest and dearest completion of a partial child (generator order) bracket the cost of random
    completions of it, for every option of the next decision."""
    bins = ComplexityBins(space, num_bins=5, pool_size=500)
    generator = ArchitectureGenerator(space, bins, hidden_size=8)
    assert generator.constrained
    rng = np.random.default_rng(1)
    sizes = generator.sizes
    for _ in range(60):
        d = int(rng.integers(len(sizes)))
        prefix = tuple(int(rng.integers(s)) for s in sizes[:d])
        lows, highs = generator.bounds(prefix)
        for j in range(sizes[d]):
            for _ in range(5):
                tail = tuple(int(rng.integers(s)) for s in sizes[d + 1:])
                cost = generator._completion_cost(prefix + (j,), tail)
                assert lows[j] <= cost <= highs[j], (prefix, j, tail, lows, highs, cost)
            assert lows[j] == generator._completion_cost(prefix + (j,), generator._low[d + 1:])


def test_constrained_proposals_land_in_the_bin_on_elastic_conv():
    """The config's generator (hidden 128, 200 epochs, 1,000 per bin, 5,000-child pool) on the elastic conv space:
    at least 95% of its own proposals (no redraws) fall in every bin, and they are diverse; unmasked, the same
    generator misses (the masking is what puts them there)."""
    bins = ComplexityBins(ELASTIC, num_bins=5, pool_size=5000)
    generator = ArchitectureGenerator(ELASTIC, bins, hidden_size=128, seed=0)
    generator.fit(epochs=200, per_bin=1000)
    assert generator.constrained and list(generator.options)[:2] == ["stage1.depth", "width"]  # coarse first
    n = 500
    for b in range(bins.num_bins):
        archs = generator.propose([b] * n, torch.Generator().manual_seed(b))
        rate = sum(bins.bin_of(a) == b for a in archs) / n
        assert rate >= 0.95, (b, rate)
        assert len(set(archs)) >= 0.9 * n, (b, len(set(archs)))
    generator.constrained = False
    assert min(generator.in_bin_rate(b, n=n) for b in range(bins.num_bins)) < 0.8


def test_the_mask_never_removes_every_option():
    """A bin between the costs a decision allows (a dead end): ``allowed`` keeps the nearest options, and the
    proposals are still children of the space."""
    lows, highs = np.array([10.0, 30.0]), np.array([20.0, 40.0])  # options' costs [10, 20] and [30, 40]
    assert ArchitectureGenerator.allowed(lows, highs, 21.0, 27.0).tolist() == [True, False]  # 1 vs 3 away
    assert ArchitectureGenerator.allowed(lows, highs, 23.0, 28.0).tolist() == [False, True]  # 3 vs 2 away
    assert ArchitectureGenerator.allowed(lows, highs, 22.0, 28.0).tolist() == [True, True]   # a tie keeps both
    assert ArchitectureGenerator.allowed(lows, highs, 15.0, 30.0).tolist() == [True, False]  # the top is exclusive
    space = Steps()
    bins = ComplexityBins(space, num_bins=3)
    bins.edges = np.array([50.0, 60.0])  # bin 1 = [50, 60): no child costs that
    generator = ArchitectureGenerator(space, bins, hidden_size=8)
    assert generator.constrained and list(generator.options) == ["a", "b"]
    archs = generator.propose([1] * 200, torch.Generator().manual_seed(0))
    assert all(space.validate(a) == a for a in archs) and {a["a"] for a in archs} <= {0, 1}  # nearest: 1 or 100
    for b in (0, 2):
        assert generator.in_bin_rate(b, n=200) == 1.0  # untrained: the mask alone puts them there


def test_a_non_monotone_cost_falls_back_to_free_decoding():
    space = Saddle()
    bins = ComplexityBins(space, num_bins=2)
    generator = ArchitectureGenerator(space, bins, hidden_size=8)
    assert not generator.cost_model.monotone and "'a'" in generator.cost_model.violation
    assert not generator.constrained and generator.order == [0, 1]
    free = ArchitectureGenerator(space, bins, hidden_size=8, decoding="free")
    assert free.cost_model is None and not free.constrained
    for gen in (generator, free):
        assert len(set(gen.propose([0, 1] * 50, torch.Generator().manual_seed(0)))) > 1
    seeded = torch.Generator().manual_seed(4)
    assert generator.propose([1] * 20, seeded) == free.propose([1] * 20, torch.Generator().manual_seed(4))


def test_seeded_proposals_are_reproducible():
    bins = ComplexityBins(ELASTIC, num_bins=5, pool_size=500)
    first = ArchitectureGenerator(ELASTIC, bins, hidden_size=16, seed=2)
    first.fit(epochs=5, per_bin=50)
    second = ArchitectureGenerator(ELASTIC, bins, hidden_size=16, seed=2)
    second.fit(epochs=5, per_bin=50)
    wanted = [0, 1, 2, 3, 4] * 20
    proposals = first.propose(wanted, torch.Generator().manual_seed(9))
    assert proposals == first.propose(wanted, torch.Generator().manual_seed(9))  # the cost cache changes nothing
    assert proposals == second.propose(wanted, torch.Generator().manual_seed(9))
    assert proposals != first.propose(wanted, torch.Generator().manual_seed(10))
    assert [first.propose([b], torch.Generator().manual_seed(9))[0] for b in wanted[:5]] == \
        [second.propose([b], torch.Generator().manual_seed(9))[0] for b in wanted[:5]]


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
    ({"decoding": "greedy"}, "decoding must be one of"),
])
def test_bad_options(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        small(**kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("space", ["fmnist201", "elastic_conv"])
def test_the_configured_sampler_proposes_inside_every_bin(space):
    """scripts/shiftnas_generator.py's check, full size: the config's sampler (hydra-composed, fit included)
    draws 1,000 children per bin from its generator alone, at least 95% in the bin and diverse."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(str(Path(__file__).resolve().parents[2] / "conf"), version_base=None):
        cfg = compose("run", overrides=[f"search_space={space}", "path_sampler=shiftnas", "seed=0"])
    sampler = instantiate(cfg.path_sampler, space=instantiate(cfg.search_space))
    assert sampler.generator.constrained
    for b in range(sampler.bins.num_bins):
        archs = sampler.generator.propose([b] * 1000, torch.Generator().manual_seed(b))
        assert sum(sampler.bins.bin_of(a) == b for a in archs) / 1000 >= 0.95, b
        assert len(set(archs)) >= 300, b
