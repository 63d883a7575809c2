"""PathSampler: decides which children of the supernet train at each step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from nas.architecture import Architecture, Option
from nas.search_space import SearchSpace


@dataclass
class PathFeedback:
    """What the trainer measured on the children of one step.

    ``option_grad_norms`` is filled only for samplers whose ``needs`` contains it.
    """

    step: int
    archs: list[Architecture]
    losses: list[float]
    option_grad_norms: dict[tuple[str, Option], float] = field(default_factory=dict)


class PathSampler(ABC):
    """Base class: ``sample(step)`` returns the children to train at ``step``.

    Draws must be a pure function of (seed, step, observed state) so that every DDP rank picks
    the same children and a resumed run picks the ones the uninterrupted run would have.
    ``needs`` names the feedback a sampler wants (e.g. ``"option_grad_norms"``); the trainer
    computes nothing a sampler does not ask for. ``teacher_first`` says that the first child of
    every step is the teacher of the others (the sandwich rule's largest child): the trainer's
    in-place distillation needs it.
    """

    needs: ClassVar[frozenset[str]] = frozenset()
    teacher_first: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        self.seed = int(seed)

    def rng(self, step: int) -> np.random.Generator:
        """The random generator of ``step``: the same on every rank and after a resume."""
        return np.random.default_rng([self.seed, int(step)])

    @abstractmethod
    def sample(self, step: int) -> list[Architecture]:
        """The children to train at ``step`` (one or more)."""

    def set_total_steps(self, total_steps: int) -> None:
        """Told once by the trainer when ``fit()`` starts; samplers with a schedule use it."""

    def observe(self, feedback: PathFeedback) -> None:
        """Receive what the trainer measured; stateless samplers ignore it."""

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seed = int(state["seed"])
