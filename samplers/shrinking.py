"""ShrinkingRamp: DεpS's delayed ε-shrinking, the subnets' gradient scale as a function of the global step."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nas.errors import ConfigError
from nas.training.budget import TrainingBudget


@dataclass(frozen=True)
class ShrinkingRamp:
    """The factor in [0, 1] of the subnets' loss at a global step: 0 during the teacher phase (the first
    ``delay_steps`` steps train the largest child alone), then rising linearly to 1 over ``ramp_steps``
    steps, then 1. ``ramp_steps=0`` is a step from 0 to 1 (plain delayed shrinking). The factor is 0 at the
    hand-over step and ``k / ramp_steps`` ``k`` steps after it: continuous, and computed from the step alone,
    so a resumed run ramps exactly as an uninterrupted one.

    Example:
        >>> ramp = ShrinkingRamp(delay_steps=10, ramp_steps=4)
        >>> [ramp.factor(s) for s in (0, 9, 10, 11, 13, 14, 100)]
        [0.0, 0.0, 0.0, 0.25, 0.75, 1.0, 1.0]
        >>> ShrinkingRamp.of(TrainingBudget(100, 10), delay_fraction=0.5, ramp_epochs=2)
        ShrinkingRamp(delay_steps=50, ramp_steps=20)
    """

    delay_steps: int = 0
    ramp_steps: int = 0

    def __post_init__(self) -> None:
        if self.delay_steps < 0 or self.ramp_steps < 0:
            raise ConfigError(f"delay and ramp steps must be >= 0, got {self.delay_steps} and {self.ramp_steps}")

    @classmethod
    def of(cls, budget: TrainingBudget, delay_fraction: float, ramp_epochs: float) -> ShrinkingRamp:
        """The teacher phase is ``ceil(delay_fraction * total_steps)`` steps; the ramp ``ramp_epochs`` epochs
        of ``budget.steps_per_epoch`` steps (rounded). A ramp that would end after training is refused."""
        delay = math.ceil(float(delay_fraction) * budget.total_steps) if delay_fraction else 0
        ramp = int(round(float(ramp_epochs) * budget.steps_per_epoch))
        if delay + ramp > budget.total_steps:
            raise ConfigError(
                f"delayed shrinking: the teacher phase ({delay} steps, delay_fraction={delay_fraction}) and the ramp "
                f"({ramp} steps, ramp_epochs={ramp_epochs}) end after the {budget.total_steps} steps of training: "
                "lower path_sampler.delay_fraction or path_sampler.ramp_epochs")
        return cls(delay, ramp)

    def factor(self, step: int) -> float:
        """The subnets' share of their full gradient scale at global ``step``."""
        if step < self.delay_steps:
            return 0.0
        if self.ramp_steps == 0:
            return 1.0
        return min(1.0, (step - self.delay_steps) / self.ramp_steps)
