"""DataSampler: decides which training examples form the batches of an epoch."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch.utils.data import Sampler

from nas.errors import ConfigError


class DataSampler(Sampler[int]):
    """A ``torch.utils.data.Sampler`` over example indices, with epochs, feedback and state.

    ``set_epoch(e)`` fixes the order of epoch ``e`` (a function of the seed, the epoch and the
    observed scores); ``epoch_indices()`` returns that order as a tensor for this rank
    (``rank``-th of every ``world_size`` indices, as DistributedSampler does). Samplers with
    ``needs_scores = True`` receive ``observe(indices, scores)`` after each batch.
    """

    needs_scores: ClassVar[bool] = False

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

    def observe(self, indices: torch.Tensor, scores: torch.Tensor) -> None:
        """Per-example scores of a batch (importance samplers use them)."""

    def loss_weights(self, indices: torch.Tensor) -> torch.Tensor | None:
        """Per-example loss weights of a batch (importance weights), or None for a plain mean."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
