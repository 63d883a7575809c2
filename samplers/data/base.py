"""DataSampler: decides which training examples form the batches of an epoch."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Sampler

from nas.errors import ConfigError
from nas.training.hooks import TrainingHooks


class DataSampler(Sampler[int], TrainingHooks):
    """A ``torch.utils.data.Sampler`` over example indices, with epochs, feedback and state.

    ``set_epoch(e)`` fixes the order of epoch ``e`` (a function of the seed, the epoch and the
    observed feedback); ``epoch_indices()`` returns that order as a tensor for this rank
    (``rank``-th of every ``world_size`` indices, as DistributedSampler does). The training hooks
    are those of path samplers (``nas.training.hooks.TrainingHooks``): ``needs`` declares the
    measurements it wants (e.g. ``"logits"``), ``set_budget`` the budget, ``observe(feedback)``
    every step's feedback (``feedback.indices`` are the batch's examples).
    """

    def __init__(self, num_examples: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if num_examples < 1:
            raise ConfigError(f"a data sampler needs at least one example, got num_examples={num_examples}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is not in [0, world_size={world_size})")
        self.num_examples = int(num_examples)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @abstractmethod
    def global_order(self) -> torch.Tensor:
        """The epoch's example order for all ranks together (int64 tensor)."""

    def epoch_indices(self) -> torch.Tensor:
        order = self.global_order()
        if self.world_size > 1:
            usable = len(order) - len(order) % self.world_size
            order = order[self.rank : usable : self.world_size]
        return order

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_examples // self.world_size

    def loss_weights(self, indices: torch.Tensor) -> torch.Tensor | None:
        """Per-example loss weights of a batch (importance weights), or None for a plain mean."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
