"""Uniform shuffling: a fresh random permutation every epoch."""

from __future__ import annotations

import torch

from samplers.data.base import DataSampler


class UniformDataSampler(DataSampler):
    """Every example once per epoch, in a random order that depends only on (seed, epoch).

    Example:
        >>> sampler = UniformDataSampler(5, seed=1)
        >>> sampler.set_epoch(3)
        >>> sorted(sampler) == [0, 1, 2, 3, 4]
        True
    """

    def global_order(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.num_examples, generator=generator)
