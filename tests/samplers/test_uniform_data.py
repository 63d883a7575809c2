"""UniformDataSampler: permutations per epoch, purity in (seed, epoch), DDP partitions, state."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from nas.errors import ConfigError
from samplers import DataSampler, UniformDataSampler


def order(sampler: UniformDataSampler, epoch: int) -> list[int]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_is_a_torch_sampler():
    sampler = UniformDataSampler(10)
    assert isinstance(sampler, DataSampler)
    assert isinstance(sampler, Sampler)
    assert sampler.needs == frozenset() and sampler.budget is None  # no feedback wanted, no schedule
    assert len(sampler) == 10


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_each_epoch_is_a_permutation(n):
    sampler = UniformDataSampler(n, seed=3)
    for epoch in range(5):
        indices = order(sampler, epoch)
        assert len(indices) == n
        assert sorted(indices) == list(range(n))
        assert all(isinstance(i, int) for i in indices)
        tensor = sampler.epoch_indices()
        assert tensor.dtype == torch.int64
        assert tensor.tolist() == indices


def test_different_epochs_differ():
    sampler = UniformDataSampler(100, seed=0)
    orders = [tuple(order(sampler, e)) for e in range(10)]
    assert len(set(orders)) == 10
    # Not the identity either.
    assert all(o != tuple(range(100)) for o in orders)


def test_different_seeds_differ():
    a, b = UniformDataSampler(100, seed=0), UniformDataSampler(100, seed=1)
    assert order(a, 0) != order(b, 0)
    assert order(a, 4) != order(b, 4)


def test_same_seed_and_epoch_same_order():
    a, b = UniformDataSampler(200, seed=9), UniformDataSampler(200, seed=9)
    order(b, 17)  # b's history differs from a's
    assert order(a, 3) == order(b, 3)
    assert order(a, 3) == order(a, 3)
    # Iterating twice within an epoch gives the same order.
    a.set_epoch(5)
    assert list(a) == list(a)


@pytest.mark.parametrize("n", [10, 11, 101])
def test_two_ranks_partition_the_truncated_order(n):
    full = UniformDataSampler(n, seed=4)
    ranks = [UniformDataSampler(n, seed=4, rank=r, world_size=2) for r in range(2)]
    for epoch in range(3):
        everything = order(full, epoch)
        parts = [order(r, epoch) for r in ranks]
        usable = n - n % 2
        assert [len(p) for p in parts] == [usable // 2, usable // 2]
        assert [len(r) for r in ranks] == [n // 2, n // 2]
        assert not set(parts[0]) & set(parts[1])
        assert sorted(parts[0] + parts[1]) == sorted(everything[:usable])
        # Interleaved like DistributedSampler: rank r takes every second index of the shared order.
        assert parts[0] == everything[0:usable:2]
        assert parts[1] == everything[1:usable:2]


def test_three_ranks_partition():
    n = 20
    full = UniformDataSampler(n, seed=1)
    parts = [order(UniformDataSampler(n, seed=1, rank=r, world_size=3), 2) for r in range(3)]
    assert [len(p) for p in parts] == [6, 6, 6]
    assert sorted(sum(parts, [])) == sorted(order(full, 2)[:18])


def test_set_epoch_and_state_dict_round_trip():
    source = UniformDataSampler(50, seed=8)
    source.set_epoch(6)
    state = source.state_dict()
    assert state == {"seed": 8, "epoch": 6}
    target = UniformDataSampler(50, seed=0)
    assert list(target) != list(source)
    target.load_state_dict(state)
    assert target.seed == 8 and target.epoch == 6
    assert list(target) == list(source)
    assert target.state_dict() == state
    target.set_epoch(7)
    source.set_epoch(7)
    assert list(target) == list(source)


def test_works_as_dataloader_sampler():
    n = 37
    dataset = TensorDataset(torch.arange(n) * 10, torch.arange(n))
    sampler = UniformDataSampler(n, seed=2)
    sampler.set_epoch(1)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler)
    values, labels = [], []
    for x, y in loader:
        values += x.tolist()
        labels += y.tolist()
    assert sorted(labels) == list(range(n))
    assert values == [10 * i for i in labels]
    assert labels == list(sampler)  # the loader follows the sampler's order
    assert len(loader) == math.ceil(n / 8)


def test_position_of_example_zero_is_uniform():
    """Over many epochs example 0 lands in each half / each tenth as often as chance says."""
    n, epochs = 20, 4_000
    sampler = UniformDataSampler(n, seed=0)
    positions = [order(sampler, e).index(0) for e in range(epochs)]
    p = 1.0 / n
    tolerance = 4.5 * math.sqrt(p * (1 - p) / epochs)
    for position in range(n):
        frequency = positions.count(position) / epochs
        assert abs(frequency - p) <= tolerance, (position, frequency, tolerance)
    mean = sum(positions) / epochs
    sd = math.sqrt((n * n - 1) / 12 / epochs)
    assert abs(mean - (n - 1) / 2) <= 4.5 * sd


@pytest.mark.parametrize("rank, world_size", [(2, 2), (-1, 2), (0, 0), (5, 1)])
def test_bad_rank_raises_config_error(rank, world_size):
    with pytest.raises(ConfigError, match=rf"rank {rank} is not in \[0, world_size={world_size}\)"):
        UniformDataSampler(10, rank=rank, world_size=world_size)


def test_no_examples_raises_config_error():
    with pytest.raises(ConfigError, match="num_examples=0"):
        UniformDataSampler(0)
