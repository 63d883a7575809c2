"""TrainingBudget: how long training runs, in steps; the one place every schedule reads it from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas.errors import ConfigError


@dataclass(frozen=True)
class TrainingBudget:
    """``total_steps`` optimizer steps, ``steps_per_epoch`` of them per pass over the data.

    The trainer builds it once (``trainer.epochs`` epochs, cut at ``trainer.max_steps``) and hands it
    to every participant through ``set_budget``: path samplers, data samplers, callbacks and the
    training method. A schedule that ramps over training reads its progress here, so ``max_steps``
    is honoured everywhere.

    Example:
        >>> budget = TrainingBudget.of(epochs=8, steps_per_epoch=195, max_steps=1463)
        >>> budget.total_steps, budget.epochs, budget.full_epochs
        (1463, 8, 7)
        >>> round(budget.progress(731), 4), round(budget.epoch_progress(4), 4)   # epoch 4 starts at step 780
        (0.4997, 0.5332)
    """

    total_steps: int
    steps_per_epoch: int

    def __post_init__(self) -> None:
        if self.steps_per_epoch < 1:
            raise ConfigError(f"an epoch needs at least one step, got steps_per_epoch={self.steps_per_epoch}")
        if self.total_steps < 1:
            raise ConfigError(f"the training budget needs at least one step, got total_steps={self.total_steps}: "
                              "raise trainer.epochs or trainer.max_steps")

    @classmethod
    def of(cls, epochs: int, steps_per_epoch: int, max_steps: int | None = None) -> TrainingBudget:
        """``epochs`` epochs of ``steps_per_epoch`` steps, stopped at ``max_steps`` when it is smaller."""
        total = int(epochs) * int(steps_per_epoch)
        return cls(total if max_steps is None else min(total, int(max_steps)), int(steps_per_epoch))

    @property
    def epochs(self) -> int:
        """Epochs that train at least one step (the last one may be cut short by ``max_steps``)."""
        return math.ceil(self.total_steps / self.steps_per_epoch)

    @property
    def full_epochs(self) -> int:
        """Epochs that run to their end (``on_epoch_end`` fires after each of them)."""
        return self.total_steps // self.steps_per_epoch

    def progress(self, step: int) -> float:
        """Fraction of the budget done before ``step`` (0 at the start, 1 at the end)."""
        return step / self.total_steps

    def epoch_progress(self, epoch: int) -> float:
        """Fraction of the budget done when ``epoch`` starts; ``epoch / epochs`` when no ``max_steps`` cuts it."""
        return epoch * self.steps_per_epoch / self.total_steps
