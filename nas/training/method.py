"""TrainingMethod: what one training step does; the ``Trainer`` loop owns everything around it.

As a LightningModule sits on Lightning's Trainer: a method builds its optimizers once the budget is
known (``setup``), runs one step on a batch (``training_step``) and returns what it measured; the
loop feeds it batches and owns checkpointing, exact resume, signals, logging, progress, the budget
and the callbacks. One-shot training is ``nas.training.one_shot.OneShot``; a bilevel method (DARTS:
architecture parameters and weights, two optimizers) or a controller method (ENAS: a sampler trained
by REINFORCE) is one more subclass beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import torch

from nas.training.budget import TrainingBudget
from nas.training.execution import Execution
from nas.training.feedback import StepFeedback
from nas.training.hooks import TrainingHooks

if TYPE_CHECKING:
    from nas.architecture import Architecture
    from nas.data.splits import TensorSplit
    from supernets.base import Supernet


class Batch(NamedTuple):
    """One batch of the data sampler: inputs, labels, example indices and per-example loss weights (or None)."""

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor | None = None


@dataclass
class StepOutput:
    """What one step reports to the loop: the mean loss and accuracy of its children (logged), the learning
    rate the step ran at, and the feedback for the participants."""

    loss: float
    accuracy: float
    lr: float
    feedback: StepFeedback


class TrainingMethod(ABC):
    """Base class of training methods (one-shot, bilevel, controller-driven).

    A subclass holds ``supernet`` (what ``nas search`` loads from the checkpoint's ``"supernet"`` entry)
    and implements ``training_step``, ``state_dict`` and ``load_state_dict``; the state's keys join the
    checkpoint's top level (``Trainer.LOOP_KEYS`` are the loop's and may not be reused). Samplers or
    other objects that should hear the budget and every step's feedback are returned by
    ``participants()``. See docs/architecture.md, "Training methods".
    """

    supernet: Supernet
    distributed_ready: ClassVar[bool] = False
    """Whether the method runs on several ranks under torchrun (``nas.training.distributed``): every decision it
    takes from data is shared by the ranks (``execution.mean`` / ``execution.average`` over the ranks' shards),
    its optimizers step through ``execution`` (which all-reduces the gradients), and what every rank must hold
    alike is in ``replicated_tensors``. The trainer refuses the others when there is more than one rank."""

    def setup(self, budget: TrainingBudget, execution: Execution, participants: Sequence[TrainingHooks]) -> None:
        """Called once by the trainer's constructor, before any step: move the supernet to
        ``execution.device`` and build optimizers and schedules over ``budget``. ``participants`` are all
        of the run's (data sampler, the method's own, callbacks), with their ``needs``."""

    @abstractmethod
    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        """Train on ``batch`` (one optimizer step); measure what ``needs`` names into the feedback."""

    def participants(self) -> list[TrainingHooks]:
        """The method's own participants (its path sampler, a controller): they get the budget and the feedback."""
        return []

    def bind_data(self, train: TensorSplit) -> TensorSplit:
        """Called before the loop is built with the training split; returns the part the loop's data sampler
        covers. A bilevel method keeps a part for its architecture steps (``nas.training.held_out``)."""
        return train

    def found_architecture(self) -> Architecture | None:
        """The architecture the method itself found (a gradient-based search's argmax), or None."""
        return None

    def architecture_record(self) -> dict[str, Any] | None:
        """What the run records about how the method found its architecture (its parameters), or None."""
        return None

    def set_supernet(self, supernet: Supernet) -> None:
        """Train ``supernet`` from now on (a few-shot split replaces it); the caller updates the optimizer."""
        raise NotImplementedError(f"{type(self).__name__} cannot replace its supernet (few-shot splits need that)")

    def replicated_tensors(self) -> dict[str, torch.Tensor]:
        """Name -> a tensor every rank must hold bit-identical (architecture parameters, a controller's weights),
        beyond the supernet's weights: the trainer's cross-rank check compares their hashes. None by default."""
        return {}

    def scalars(self) -> dict[str, float]:
        """Method-specific TensorBoard scalars, written at every log step beside loss, accuracy and lr."""
        return {}

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly; must hold ``"supernet"``."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` (the checkpoint's whole top level is passed)."""
