"""HeldOutBatches: the architecture's share of the training split, as batches that are a function of the step.

Bilevel search (DARTS and its family) trains the weights on one part of the training split and the
architecture parameters on the other. ``split_training_data`` makes the two parts (a seeded permutation);
the trainer's data sampler then covers the weights' part, and a method draws the architecture's batches from
``HeldOutBatches``: batch ``step`` of a per-epoch permutation seeded by (seed, epoch), so a resumed run
draws exactly the batches an uninterrupted one would, without saved state. Under torchrun the batch is the
global one and each rank takes its contiguous share (``shard``), as the loop shards the weights' batches.
"""

from __future__ import annotations

import torch

from collections.abc import Callable

from nas.data.splits import TensorSplit
from nas.errors import ConfigError


def split_training_data(train: TensorSplit, fraction: float, seed: int) -> tuple[TensorSplit, TensorSplit]:
    """(the weights' part, the architecture's part) of ``train``: ``fraction`` of it, by a permutation seeded
    with ``seed``, goes to the architecture.

    Example:
        >>> weights, arch = split_training_data(TensorSplit(torch.zeros(10, 1, 2, 2), torch.arange(10)), 0.5, 0)
        >>> len(weights), len(arch), sorted(weights.y.tolist() + arch.y.tolist()) == list(range(10))
        (5, 5, True)
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"arch_fraction must be in (0, 1), got {fraction}: the share of the training split "
                          "that trains the architecture parameters (DARTS: 0.5)")
    n = len(train)
    n_arch = int(round(n * float(fraction)))
    if n_arch < 1 or n_arch >= n:
        raise ConfigError(f"the training split has {n} examples: arch_fraction={fraction} leaves no examples for "
                          "the weights or the architecture; use a larger split")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    weights, arch = order[n_arch:].sort().values, order[:n_arch].sort().values
    return TensorSplit(train.x[weights], train.y[weights]), TensorSplit(train.x[arch], train.y[arch])


class HeldOutBatches:
    """Batches of ``data`` for the architecture step: ``batch(step, size)`` is a pure function of (seed, step).

    Example:
        >>> held_out = HeldOutBatches(TensorSplit(torch.zeros(6, 1, 2, 2), torch.arange(6)), seed=0)
        >>> a = held_out.batch(4, 2)[1].tolist()
        >>> a == HeldOutBatches(held_out.data, seed=0).batch(4, 2)[1].tolist(), len(a)
        (True, 2)
    """

    def __init__(self, data: TensorSplit, seed: int = 0):
        self.data = data
        self.seed = int(seed)
        self._epoch: int | None = None
        self._order: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.data)

    def to(self, device: torch.device | str) -> HeldOutBatches:
        self.data = self.data.to(device)
        return self

    def batch(self, step: int, batch_size: int, shard: Callable[[torch.Tensor], torch.Tensor] | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of the architecture batch of ``batch_size`` at ``step``; ``shard`` (``Execution.shard``)
        picks this rank's share of it under torchrun."""
        per_epoch = len(self.data) // int(batch_size)
        if per_epoch < 1:
            raise ConfigError(f"the architecture's part of the training split has {len(self.data)} examples, "
                              f"fewer than batch_size={batch_size}: lower trainer.batch_size or raise arch_fraction")
        epoch, position = divmod(int(step), per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = torch.randperm(len(self.data), generator=generator).to(self.data.x.device)
            self._epoch = epoch
        indices = self._order[position * batch_size:(position + 1) * batch_size]
        if shard is not None:
            indices = shard(indices)
        return self.data.x[indices], self.data.y[indices]
