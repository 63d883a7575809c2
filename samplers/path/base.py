"""PathSampler: decides which children of the supernet train at each step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas.architecture import Architecture
from nas.search_space import SearchSpace
from nas.training.hooks import TrainingHooks

if TYPE_CHECKING:
    from supernets.base import Supernet


class PathSampler(TrainingHooks, ABC):
    """Base class: ``sample(step)`` returns the children to train at ``step``.

    Draws must be a pure function of (seed, step, observed state) so that every DDP rank picks
    the same children and a resumed run picks the ones the uninterrupted run would have.
    The training hooks are those of every participant (``nas.training.hooks.TrainingHooks``):
    ``needs`` names the measurements a sampler wants (e.g. ``"option_grad_norms"``; the trainer
    computes nothing nobody asks for), ``set_budget`` tells it the budget before the first step,
    ``observe`` hands it every step's ``StepFeedback``. ``set_supernet`` tells it which supernet
    trains (at the start and after each few-shot split). ``teacher_first`` says that the first
    child of every step is the teacher of the others (the sandwich rule's largest child):
    in-place distillation needs it.
    """

    teacher_first: ClassVar[bool] = False
    learns_from_reward: ClassVar[bool] = False
    """True for a learned sampler (ENAS' controller: ``propose`` / ``reinforce``) that only a controller training
    method (``nas.training.ControllerTraining``) trains; plain one-shot training refuses it."""

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        self.seed = int(seed)

    def rng(self, step: int) -> np.random.Generator:
        """The random generator of ``step``: the same on every rank and after a resume."""
        return np.random.default_rng([self.seed, int(step)])

    @abstractmethod
    def sample(self, step: int) -> list[Architecture]:
        """The children to train at ``step`` (one or more)."""

    def loss_scales(self, step: int) -> list[float] | None:
        """The factor of each child's loss at ``step``, in the order of ``sample(step)`` (a pure function of the
        step, like ``sample``), or None: every child's loss counts fully. Delayed ε-shrinking (the sandwich
        sampler's ``ramp_epochs``) ramps its subnets' factors up from 0."""
        return None

    def set_supernet(self, supernet: Supernet) -> None:
        """The supernet being trained; samplers that use its declared structure (``option_parameters()``)
        read it here. The default ignores it."""

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
