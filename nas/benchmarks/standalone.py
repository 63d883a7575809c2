"""StandaloneTraining: one network trained with a :class:`StandaloneRecipe`, step by step, resumable exactly.

This is the loop behind every ground-truth record (``train_standalone``, `nas bench build`) and behind
`nas retrain`: SGD with Nesterov momentum, per-step cosine decay of the learning rate to 0, one shuffle
generator seeded with the run's seed (one permutation per epoch). ``state_dict()`` holds everything that
decides the next step (weights, optimizer, schedule, the shuffle generator, the epoch's order, the step), so a
run stopped after any step and resumed from its state ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from nas.data.splits import TensorSplit

if TYPE_CHECKING:  # the recipe's train_standalone runs this loop: a type-only import, no circle
    from nas.benchmarks.recipe import StandaloneRecipe


@dataclass(frozen=True)
class StepResult:
    """What one training step measured."""

    step: int          # steps done, this one included (1-based)
    epoch: int         # the epoch of this step (0-based)
    loss: float
    accuracy: float    # % of this batch
    lr: float          # the learning rate this step used


class StandaloneTraining:
    """Train ``model`` on the first ``recipe.train_size`` images of ``train`` with ``recipe`` and ``seed``.

    Build the model under ``torch.manual_seed(seed)`` first (as ``train_standalone`` does) for a record
    that others reproduce. ``run(until)`` trains to step ``until`` (default: the end); ``on_step`` hears every
    step and may raise to stop (``KeyboardInterrupt``: save ``state_dict()`` and resume later).

    Example:
        >>> from torch import nn
        >>> from nas.benchmarks.recipe import StandaloneRecipe
        >>> data = TensorSplit(torch.randn(64, 1, 4, 4), torch.randint(0, 2, (64,)))
        >>> recipe = StandaloneRecipe(train_size=64, epochs=2, batch_size=16)
        >>> make = lambda: (torch.manual_seed(0), nn.Sequential(nn.Flatten(), nn.Linear(16, 2)))[1]
        >>> whole = StandaloneTraining(make(), data, recipe, seed=0); whole.run()
        >>> half = StandaloneTraining(make(), data, recipe, seed=0); half.run(until=3)
        >>> resumed = StandaloneTraining(make(), data, recipe, seed=0); resumed.load_state_dict(half.state_dict())
        >>> resumed.run(); resumed.step == whole.step == 8
        True
        >>> all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), whole.model.parameters()))
        True
    """

    def __init__(self, model: nn.Module, train: TensorSplit, recipe: StandaloneRecipe, seed: int,
                 device: str | torch.device = "cpu"):
        self.recipe, self.seed, self.device = recipe, int(seed), torch.device(device)
        self.train = train.head(recipe.train_size).to(self.device)
        self.model = model.to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
        total = self.total_steps
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total)))
        self.shuffle = torch.Generator().manual_seed(self.seed)
        self.step = 0
        self.order: torch.Tensor | None = None  # this epoch's permutation of the training images
        self.correct = self.seen = 0             # this epoch's training hits so far

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.train) / self.recipe.batch_size)

    @property
    def total_steps(self) -> int:
        return self.recipe.epochs * self.steps_per_epoch

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    @property
    def train_accuracy(self) -> float:
        """Training accuracy (%) of the current (at the end: the last) epoch so far."""
        return 100.0 * self.correct / max(self.seen, 1)

    def run(self, until: int | None = None, on_step: Callable[[StepResult], None] | None = None) -> None:
        """Train from the current step to step ``until`` (default and at most: the last step)."""
        until = self.total_steps if until is None else min(int(until), self.total_steps)
        batch_size, n = self.recipe.batch_size, len(self.train)
        self.model.train()
        while self.step < until:
            epoch, index_in_epoch = divmod(self.step, self.steps_per_epoch)
            if index_in_epoch == 0:
                self.order = torch.randperm(n, generator=self.shuffle).to(self.device)
                self.correct = self.seen = 0
            start = index_in_epoch * batch_size
            index = self.order[start: start + batch_size]
            x, y = self.train.x[index], self.train.y[index]
            lr = self.optimizer.param_groups[0]["lr"]
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.schedule.step()
            hits = int((logits.argmax(1) == y).sum())
            self.correct += hits
            self.seen += len(y)
            self.step += 1
            if on_step is not None:
                on_step(StepResult(self.step, epoch, float(loss.detach()), 100.0 * hits / len(y), float(lr)))

    @torch.no_grad()
    def evaluate(self, split: TensorSplit, batch_size: int = 1_000) -> float:
        """Top-1 accuracy (%) on ``split`` in eval mode (the model returns to training mode after)."""
        was_training = self.model.training
        self.model.eval()
        split = split.to(self.device)
        hits = sum(int((self.model(split.x[i: i + batch_size]).argmax(1) == split.y[i: i + batch_size]).sum())
                   for i in range(0, len(split), batch_size))
        self.model.train(was_training)
        return 100.0 * hits / len(split)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "shuffle": self.shuffle.get_state(), "step": self.step,
                "order": None if self.order is None else self.order.cpu(), "correct": self.correct,
                "seen": self.seen, "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.shuffle.set_state(state["shuffle"])
        self.step, self.correct, self.seen = int(state["step"]), int(state["correct"]), int(state["seen"])
        self.order = None if state["order"] is None else state["order"].to(self.device)
        torch.set_rng_state(state["torch_rng"])
