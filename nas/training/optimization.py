"""Optimization: an optimizer, its learning-rate schedule over the budget, and gradient clipping."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

from nas.errors import ConfigError
from nas.training.budget import TrainingBudget


def cosine_schedule(total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(step - warmup_steps, total_steps - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class Optimization:
    """How one set of parameters is optimized: ``optimizer`` (a partial taking the parameters), a
    cosine schedule with ``warmup_steps`` of linear warm-up over the training budget, and clipping of
    the gradient norm at ``grad_clip_norm`` (``None``: no clipping).

    A training method holds one per set of parameters it optimizes (a bilevel method: the weights'
    and the architecture's).

    Example:
        >>> import functools
        >>> w = nn.Parameter(torch.ones(3))
        >>> optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1), warmup_steps=2)
        >>> optimizer = optimization.optimizer_for([w])
        >>> scheduler = optimization.scheduler_for(optimizer, TrainingBudget(10, 5))
        >>> optimizer.param_groups[0]["lr"]        # warm-up: step 0 runs at half the rate
        0.05
    """

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], warmup_steps: int = 0,
                 grad_clip_norm: float | None = 5.0):
        if int(warmup_steps) < 0:
            raise ConfigError(f"warmup_steps must be non-negative, got {warmup_steps}")
        if grad_clip_norm is not None and not grad_clip_norm >= 0:
            raise ConfigError(f"grad_clip_norm must be non-negative or null, got {grad_clip_norm}")
        self.optimizer = optimizer
        self.warmup_steps = int(warmup_steps)
        self.grad_clip_norm = grad_clip_norm

    def optimizer_for(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        return self.optimizer(params)

    def scheduler_for(self, optimizer: torch.optim.Optimizer, budget: TrainingBudget
                      ) -> torch.optim.lr_scheduler.LambdaLR:
        """The cosine schedule of ``optimizer`` over ``budget.total_steps`` (stepped once per training step)."""
        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(budget.total_steps, self.warmup_steps))

    def clip(self, params: Iterable[nn.Parameter]) -> None:
        """Clip the gradient norm of ``params`` at ``grad_clip_norm`` (nothing when it is ``None`` or 0)."""
        if self.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip_norm)
