"""RARTS: the relaxed, single-level, first-order architecture search (Xue, Qi and Xin), by data and network splitting."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from nas.errors import ConfigError
from nas.losses import DistillationLoss, LabelLoss
from nas.training.architecture_search import ArchitectureSearch
from nas.training.budget import TrainingBudget
from nas.training.execution import Execution
from nas.training.hooks import TrainingHooks
from nas.training.method import Batch, StepOutput
from nas.training.optimization import Optimization
from supernets.weight_maps import WeightMap

if TYPE_CHECKING:
    from samplers.path.base import PathSampler
    from supernets.base import Supernet


class RARTS(ArchitectureSearch):
    """Two networks, ``w`` (the supernet, on the weights' part of the training split) and its copy ``y`` (on the
    architecture's part), share the architecture parameters and are tied by a relaxation term:

        L(w, y, alpha) = lambda * L_train(w, alpha) + L_val(y, alpha) + beta / 2 * |w - y|^2

    with ``lambda = train_weight`` and ``beta = coupling``. Each step is one Gauss-Seidel sweep of gradient
    steps over the three blocks, each at the newest values of the others: ``w`` (``optimization``), then ``y``
    (its own optimizer of the same kind), then ``alpha`` on ``grad_alpha (L_val(y) + lambda L_train(w))``
    (``arch_optimization``). No unrolling and no mixed second derivatives: first order, yet the architecture
    sees both splits. The found architecture is exported from ``w`` (the ``"supernet"`` of the checkpoint).
    Under torchrun both networks' gradients are all-reduced at their optimizer steps and the architecture's
    before its step (``ArchitectureSearch``), so ``w``, ``y`` and ``alpha`` stay the same on every rank.

    Example:
        >>> import functools, tempfile
        >>> from nas.data import synthetic
        >>> from nas.training import Trainer
        >>> from samplers import UniformDataSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=128)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> method = RARTS(space.build_supernet(), Optimization(functools.partial(torch.optim.SGD, lr=0.05)),
        ...                Optimization(functools.partial(torch.optim.Adam, lr=3e-4), grad_clip_norm=None))
        >>> train = method.bind_data(data.train)
        >>> trainer = Trainer(method, train, UniformDataSampler(len(train)), tempfile.mkdtemp(), epochs=1,
        ...                   batch_size=32, progress=False, tensorboard=False)
        >>> trainer.fit().step, sorted(method.state_dict())[:3]
        (2, ['arch_optimizer', 'architecture', 'copy'])
    """

    def __init__(self, supernet: Supernet, optimization: Optimization, arch_optimization: Optimization,
                 weight_map: WeightMap | None = None, train_weight: float = 1.0, coupling: float = 0.1,
                 loss: LabelLoss | None = None, arch_fraction: float = 0.5, seed: int = 0, init_std: float = 1e-3,
                 require_kind: str | None = None, path_sampler: PathSampler | None = None,
                 distillation: DistillationLoss | None = None):
        super().__init__(supernet, optimization, arch_optimization, weight_map, loss, arch_fraction, seed, init_std,
                         require_kind, path_sampler, distillation)
        if not train_weight > 0 or not coupling >= 0:
            raise ConfigError(f"RARTS needs train_weight > 0 and coupling >= 0, got {train_weight} and {coupling}")
        self.train_weight, self.coupling = float(train_weight), float(coupling)
        self.copy: Supernet = copy.deepcopy(supernet)
        self.copy_optimizer: torch.optim.Optimizer | None = None
        self.copy_scheduler: torch.optim.lr_scheduler.LambdaLR | None = None

    def setup(self, budget: TrainingBudget, execution: Execution, participants: Sequence[TrainingHooks]) -> None:
        super().setup(budget, execution, participants)
        self.copy = self.copy.to(execution.device)
        self.copy_optimizer = self.optimization.optimizer_for(self.copy.parameters())
        self.copy_scheduler = self.optimization.scheduler_for(self.copy_optimizer, budget)

    def _weights_step(self, net: Supernet, other: Supernet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                      y: torch.Tensor, scale: float, weights: dict[str, torch.Tensor],
                      example_weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One gradient step of ``net`` on ``scale * loss + coupling / 2 * |net - other|^2``."""
        optimizer.zero_grad(set_to_none=True)
        loss, logits = self.relaxed_loss(net, x, y, weights, example_weights)
        self.execution.backward(scale * loss)
        self.execution.unscale_(optimizer)
        if self.coupling:
            with torch.no_grad():
                for p, q in zip(net.parameters(), other.parameters()):
                    pull = self.coupling * (p - q)
                    p.grad = pull if p.grad is None else p.grad + pull
        self.optimization.clip(net.parameters())
        self.execution.step(optimizer)
        return loss, logits

    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        lr = self.optimizer.param_groups[0]["lr"]
        self._progress = progress = self.budget.progress(step)
        self.supernet.train()
        self.copy.train()
        xa, ya = self.architecture_batch(step, batch)
        weights = self.option_weights(progress, detach=True)
        loss, logits = self._weights_step(self.supernet, self.copy, self.optimizer, batch.x, batch.y,
                                          self.train_weight, weights, batch.weights)
        self._weights_step(self.copy, self.supernet, self.copy_optimizer, xa, ya, 1.0, weights, None)
        self.scheduler.step()
        self.copy_scheduler.step()

        val_loss, _ = self.relaxed_loss(self.copy, xa, ya, self.option_weights(progress, detach=False))
        train_loss, _ = self.relaxed_loss(self.supernet, batch.x, batch.y, self.option_weights(progress, detach=False))
        arch_loss = val_loss + self.train_weight * train_loss + self.alphas.regulariser(self.weight_map)
        self.step_architecture(self.alpha_gradients(arch_loss))
        self.last_arch_loss = float(val_loss.detach())
        value = float(loss.detach())
        accuracy = float((logits.argmax(1) == batch.y).float().mean())
        return StepOutput(value, accuracy, lr, self.feedback(step, batch.indices, batch.y, value, logits, needs))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "copy": self.copy.state_dict(),
                "copy_optimizer": self.copy_optimizer.state_dict(), "copy_scheduler": self.copy_scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.copy.load_state_dict(state["copy"])
        self.copy_optimizer.load_state_dict(state["copy_optimizer"])
        self.copy_scheduler.load_state_dict(state["copy_scheduler"])
