"""Bilevel: DARTS' alternating search (and GDAS, DrNAS, TangleNAS by their weight maps and supernets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from nas.errors import ConfigError
from nas.losses import DistillationLoss, LabelLoss
from nas.training.architecture_search import ArchitectureSearch
from nas.training.method import Batch, StepOutput
from nas.training.optimization import Optimization
from supernets.weight_maps import WeightMap

if TYPE_CHECKING:
    from samplers.path.base import PathSampler
    from supernets.base import Supernet


class Bilevel(ArchitectureSearch):
    """Each step: one architecture step on a held-out batch, then one weights' step on the loop's batch.

    The architecture step minimises the architecture-split loss (plus the weight map's regulariser,
    DrNAS' KL anchor) over the architecture parameters with ``arch_optimization`` (Adam, constant rate);
    the weights' step minimises the loop's batch loss over the weights with ``optimization`` (SGD, cosine),
    the option weights detached. ``weight_map`` decides the method: ``Softmax`` (DARTS, TangleNAS),
    ``GumbelSoftmax`` (GDAS: one sampled option per decision and step), ``Dirichlet`` (DrNAS).

    ``order="first"`` takes the architecture gradient at the current weights (first-order DARTS);
    ``order="second"`` at the weights after one virtual SGD step, ``w' = w - xi (grad_w L_train + wd w)``
    with ``xi`` the weights' current learning rate (unrolled DARTS), whose implicit term
    ``-xi * d2 L_train / (d alpha d w) . grad_w' L_val`` is the finite difference of two gradients at
    ``w +- eps grad_w' L_val``, ``eps = finite_difference / |grad_w' L_val|`` (DARTS' Hessian-vector product).
    The unrolled step needs deterministic weights (``Softmax``) and leaves weights and BatchNorm statistics as
    it found them.

    Under torchrun each rank takes its share of the global held-out batch and the architecture gradient is
    averaged over the ranks before the architecture step (``ArchitectureSearch``); the unrolled step also
    averages the virtual step's gradient and ``grad_w' L_val``, so ``w'`` and ``eps`` are the same on every rank
    and the result is the global batch's hypergradient (every term is linear in the per-rank gradients).

    Example:
        >>> import functools, tempfile
        >>> from nas.data import synthetic
        >>> from nas.training import Trainer
        >>> from samplers import UniformDataSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=128)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> method = Bilevel(space.build_supernet(), Optimization(functools.partial(torch.optim.SGD, lr=0.05)),
        ...                  Optimization(functools.partial(torch.optim.Adam, lr=3e-4), grad_clip_norm=None))
        >>> train = method.bind_data(data.train)      # half for the weights, half for the architecture
        >>> trainer = Trainer(method, train, UniformDataSampler(len(train)), tempfile.mkdtemp(), epochs=1,
        ...                   batch_size=32, progress=False, tensorboard=False)
        >>> trainer.fit().step, space.validate(method.found_architecture()) == method.found_architecture()
        (2, True)
    """

    def __init__(self, supernet: Supernet, optimization: Optimization, arch_optimization: Optimization,
                 weight_map: WeightMap | None = None, order: str = "first", finite_difference: float = 0.01,
                 loss: LabelLoss | None = None, arch_fraction: float = 0.5, seed: int = 0, init_std: float = 1e-3,
                 require_kind: str | None = None, path_sampler: PathSampler | None = None,
                 distillation: DistillationLoss | None = None):
        super().__init__(supernet, optimization, arch_optimization, weight_map, loss, arch_fraction, seed, init_std,
                         require_kind, path_sampler, distillation)
        if order not in ("first", "second"):
            raise ConfigError(f"order must be 'first' or 'second' (unrolled DARTS), got {order!r}")
        if order == "second" and self.weight_map.stochastic:
            raise ConfigError(f"order=second (unrolled DARTS) needs deterministic option weights and "
                              f"{self.weight_map!r} samples them: use order=first, or method=darts")
        if not finite_difference > 0:
            raise ConfigError(f"finite_difference must be > 0, got {finite_difference}")
        self.order = order
        self.finite_difference = float(finite_difference)

    # -- one step -----------------------------------------------------------------------------------------
    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        lr = self.optimizer.param_groups[0]["lr"]
        self._progress = progress = self.budget.progress(step)
        self.supernet.train()
        xa, ya = self.architecture_batch(step, batch)
        if self.order == "second":
            grads, arch_loss = self.unrolled_gradient(batch.x, batch.y, xa, ya, progress, lr)
        else:
            arch_loss = self.architecture_loss(xa, ya, progress)
            grads = self.alpha_gradients(arch_loss)
        self.step_architecture(grads)
        self.last_arch_loss = float(arch_loss.detach())

        self.optimizer.zero_grad(set_to_none=True)
        loss, logits = self.relaxed_loss(self.supernet, batch.x, batch.y, self.option_weights(progress, detach=True),
                                         batch.weights)
        self.execution.backward(loss)
        self.execution.unscale_(self.optimizer)
        self.optimization.clip(self.supernet.parameters())
        self.execution.step(self.optimizer)
        self.scheduler.step()
        value = float(loss.detach())
        accuracy = float((logits.argmax(1) == batch.y).float().mean())
        return StepOutput(value, accuracy, lr, self.feedback(step, batch.indices, batch.y, value, logits, needs))

    def architecture_loss(self, x: torch.Tensor, y: torch.Tensor, progress: float) -> torch.Tensor:
        """The architecture step's objective on a held-out batch: its loss plus the weight map's regulariser."""
        loss, _ = self.relaxed_loss(self.supernet, x, y, self.option_weights(progress, detach=False))
        return loss + self.alphas.regulariser(self.weight_map)

    def unrolled_gradient(self, x: torch.Tensor, y: torch.Tensor, xa: torch.Tensor, ya: torch.Tensor,
                          progress: float, lr: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Second-order DARTS: the architecture gradient through one virtual weights' step (see the class); this
        rank's share of it (``step_architecture`` averages it over the ranks)."""
        params = [p for p in self.supernet.parameters() if p.requires_grad]
        buffers = [b.detach().clone() for b in self.supernet.buffers()]
        backup = [p.detach().clone() for p in params]
        decay = float(self.optimizer.param_groups[0].get("weight_decay", 0.0))

        def train_loss() -> torch.Tensor:
            return self.relaxed_loss(self.supernet, x, y, self.option_weights(progress, detach=False))[0]

        try:
            grads = self.execution.average(torch.autograd.grad(train_loss(), params, allow_unused=True), params)
            with torch.no_grad():
                for p, w, g in zip(params, backup, grads):
                    p.copy_(w - lr * ((g if g is not None else 0.0) + decay * w))
            val_loss = self.architecture_loss(xa, ya, progress)
            alphas = list(self.alphas.parameters())
            both = torch.autograd.grad(val_loss, alphas + params, allow_unused=True)
            d_alpha = [torch.zeros_like(a) if g is None else g for a, g in zip(alphas, both[:len(alphas)])]
            d_w = self.execution.average([torch.zeros_like(p) if g is None else g
                                          for p, g in zip(params, both[len(alphas):])])
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in d_w]))
            if float(norm) == 0.0:
                return d_alpha, val_loss
            eps = self.finite_difference / norm
            finite = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for p, w, g in zip(params, backup, d_w):
                        p.copy_(w + sign * eps * g)
                finite.append(self.alpha_gradients(train_loss()))
            hessian_vector = [(plus - minus) / (2 * eps) for plus, minus in zip(*finite)]
            return [g - lr * h for g, h in zip(d_alpha, hessian_vector)], val_loss
        finally:
            with torch.no_grad():
                for p, w in zip(params, backup):
                    p.copy_(w)
                for b, saved in zip(self.supernet.buffers(), buffers):
                    b.copy_(saved)
