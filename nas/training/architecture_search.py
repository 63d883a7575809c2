"""ArchitectureSearch: what every gradient-based search method shares (DARTS' family, RARTS, TangleNAS).

The architecture parameters (one logit vector per decision of the supernet's relaxation), the weight map
that turns them into option weights, the architecture's optimizer, the split of the training data (the
loop's data sampler covers the weights' part, ``HeldOutBatches`` serves the architecture's), the
architecture found (argmax per decision) and what a run records about it. What a step does is the
subclass's: ``nas.training.bilevel.Bilevel`` (alternating, first or second order) and
``nas.training.rarts.RARTS`` (single level, two networks).

Under torchrun every rank holds the same architecture parameters: the held-out batch is global and each rank
takes its share (``architecture_batch``), the architecture gradients are averaged over the ranks
(``Execution.average``) before the architecture optimizer steps, as the weights' gradients are before theirs,
and the cross-rank check compares their hash (``replicated_tensors``), so every rank finds the same architecture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from nas.errors import ConfigError
from nas.losses import CrossEntropy, DistillationLoss, LabelLoss
from nas.training.budget import TrainingBudget
from nas.training.execution import Execution
from nas.training.feedback import StepFeedback
from nas.training.held_out import HeldOutBatches, split_training_data
from nas.training.hooks import TrainingHooks
from nas.training.method import Batch, TrainingMethod
from nas.training.optimization import Optimization
from supernets.architecture_parameters import ArchitectureParameters
from supernets.relaxable import is_relaxable
from supernets.weight_maps import Softmax, WeightMap

if TYPE_CHECKING:
    from nas.architecture import Architecture
    from nas.data.splits import TensorSplit
    from samplers.path.base import PathSampler
    from supernets.base import Supernet


class ArchitectureSearch(TrainingMethod):
    """Base of the gradient-based methods: see the module docstring.

    ``supernet`` must be ``Relaxable`` (NAS-Bench-201 / FMNIST-201, elastic conv, elastic ViT);
    ``require_kind`` ("shared" or "entangled") refuses the other kind (TangleNAS is the entangled one).
    ``arch_optimization`` steps at a constant learning rate (DARTS' Adam; its ``warmup_steps`` is unused).
    ``path_sampler`` is accepted (``nas run`` builds one for every method) and unused: the architecture
    parameters decide what trains. In-place ``distillation`` is refused.
    """

    distributed_ready: ClassVar[bool] = True

    def __init__(self, supernet: Supernet, optimization: Optimization, arch_optimization: Optimization,
                 weight_map: WeightMap | None = None, loss: LabelLoss | None = None, arch_fraction: float = 0.5,
                 seed: int = 0, init_std: float = 1e-3, require_kind: str | None = None,
                 path_sampler: PathSampler | None = None, distillation: DistillationLoss | None = None):
        name = type(self).__name__
        if not is_relaxable(supernet):
            raise ConfigError(f"{name} needs a supernet with a continuous relaxation (forward_relaxed); "
                              f"{type(supernet).__name__} has none: use search_space=fmnist201 | nb201 | elastic_conv "
                              "| elastic_vit, or method=one_shot")
        if require_kind is not None and supernet.kind != require_kind:
            raise ConfigError(f"this method searches {require_kind} supernets and {type(supernet).__name__} is "
                              f"{supernet.kind}: use search_space=elastic_conv or elastic_vit (TangleNAS), or "
                              "method=darts | gdas | drnas | rarts on a shared cell space")
        if distillation is not None:
            raise ConfigError(f"{name} does not distill (no path sampler picks a teacher): use distillation=none")
        if not 0.0 < float(arch_fraction) < 1.0:
            raise ConfigError(f"arch_fraction must be in (0, 1), got {arch_fraction}: the share of the training "
                              "split that trains the architecture parameters (DARTS: 0.5)")
        self.supernet = supernet
        self.optimization = optimization
        self.arch_optimization = arch_optimization
        self.weight_map = weight_map if weight_map is not None else Softmax()
        self.loss = loss if loss is not None else CrossEntropy()
        self.arch_fraction = float(arch_fraction)
        self.seed = int(seed)
        self.alphas = ArchitectureParameters(supernet.relaxed_decisions(), init_std)
        self.held_out: HeldOutBatches | None = None  # set by bind_data()
        self.execution: Execution | None = None     # set by setup()
        self.budget: TrainingBudget | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.arch_optimizer: torch.optim.Optimizer | None = None
        self.last_arch_loss = float("nan")
        self._progress = 0.0
        self._sample: dict[str, torch.Tensor] = {}  # a stochastic map's last option weights, for the rank check

    # -- data and setup -----------------------------------------------------------------------------------
    def bind_data(self, train: TensorSplit) -> TensorSplit:
        """Keep ``arch_fraction`` of ``train`` for the architecture steps; the loop trains the weights on the rest."""
        weights, arch = split_training_data(train, self.arch_fraction, self.seed)
        self.held_out = HeldOutBatches(arch, self.seed)
        return weights

    def setup(self, budget: TrainingBudget, execution: Execution, participants: Sequence[TrainingHooks]) -> None:
        if self.held_out is None:
            raise ConfigError(f"{type(self).__name__} needs its share of the training data: call "
                              "method.bind_data(train) and build the Trainer on the split it returns")
        wants_norms = [type(p).__name__ for p in participants if "option_grad_norms" in p.needs]
        if wants_norms:
            raise ConfigError(f"{', '.join(wants_norms)} needs per-option gradient norms, which "
                              f"{type(self).__name__} does not measure (every option trains at every step): "
                              "use data_sampler=uniform")
        splits = [type(p).__name__ for p in participants if getattr(p, "split_epochs", None)]
        if splits:
            raise ConfigError(f"{', '.join(splits)} splits the supernet during training, and "
                              f"{type(self).__name__} keeps one set of architecture parameters for one supernet: "
                              "use few_shot=none")
        self.execution, self.budget = execution, budget
        self.supernet = self.supernet.to(execution.device)
        self.alphas = self.alphas.to(execution.device)
        if execution.device.type == "cuda":
            self.held_out.to(execution.device)
        self.optimizer = self.optimization.optimizer_for(self.supernet.parameters())
        self.scheduler = self.optimization.scheduler_for(self.optimizer, budget)
        self.arch_optimizer = self.arch_optimization.optimizer_for(self.alphas.parameters())

    # -- shared pieces of a step ----------------------------------------------------------------------------
    def relaxed_loss(self, supernet: Supernet, x: torch.Tensor, y: torch.Tensor, weights: dict[str, torch.Tensor],
                     example_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits) of the relaxed ``supernet`` on a batch, the forward under the execution's autocast."""
        with self.execution.autocast():
            logits = supernet.forward_relaxed(x, weights)
        full = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits  # fp64 stays fp64
        return self.loss(full, y, example_weights), logits

    def option_weights(self, progress: float, detach: bool) -> dict[str, torch.Tensor]:
        """The weight map's option weights (a fresh sample for GDAS / DrNAS, from the global generator, which
        every rank seeds and advances alike); ``detach`` for a weights' step."""
        with torch.no_grad() if detach else contextlib.nullcontext():
            weights = self.alphas.weights(self.weight_map, progress)
        if self.weight_map.stochastic:
            self._sample = {name: w.detach() for name, w in weights.items()}
        return weights

    def architecture_batch(self, step: int, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The held-out batch of ``step``, as large as the loop's global batch; this rank's share of it."""
        return self.held_out.batch(step, len(batch.y) * self.execution.world_size, self.execution.shard)

    def alpha_gradients(self, loss: torch.Tensor) -> list[torch.Tensor]:
        """d loss / d logits of every decision (zeros where a decision did not take part)."""
        params = list(self.alphas.parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    def step_architecture(self, grads: list[torch.Tensor]) -> None:
        """One step of the architecture optimizer with ``grads``, averaged over the ranks (each rank's are of its
        share of the batch) and clipped by ``arch_optimization``."""
        self.arch_optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.alphas.parameters(), self.execution.average(grads)):
            p.grad = g.detach()
        self.arch_optimization.clip(self.alphas.parameters())
        self.arch_optimizer.step()

    def feedback(self, step: int, indices: torch.Tensor, y: torch.Tensor, loss: float, logits: torch.Tensor,
                 needs: frozenset[str]) -> StepFeedback:
        """The step's feedback: the current argmax architecture as the one child, with what was asked for."""
        kept = logits.detach() if ("logits" in needs or "example_losses" in needs) else None
        example_losses = None
        if "example_losses" in needs:
            with torch.no_grad():
                example_losses = [torch.nn.functional.cross_entropy(kept.float(), y, reduction="none")]
        return StepFeedback(step, [self.found_architecture()], indices, y,
                            losses=[loss] if "losses" in needs else None,
                            logits=[kept] if "logits" in needs else None, example_losses=example_losses)

    # -- what the search found ------------------------------------------------------------------------------
    def found_architecture(self) -> Architecture:
        """The argmax option of every decision, as the space's architecture (``supernet.subnet`` exports it)."""
        return self.supernet.make_architecture(self.alphas.derive())

    def expected_weights(self) -> dict[str, torch.Tensor]:
        """Decision -> its options' expected weights (``WeightMap.expected``: the softmax of the logits for
        DARTS, RARTS and TangleNAS, what their relaxed supernet computes with), detached."""
        return {name: self.weight_map.expected(logits).detach()
                for name, logits in zip(self.alphas.decisions, self.alphas.logits)}

    def architecture_record(self) -> dict[str, Any]:
        return {"method": type(self).__name__, "weight_map": repr(self.weight_map),
                "entropy": self.alphas.entropy(self.weight_map), "parameters": self.alphas.table(self.weight_map)}

    def replicated_tensors(self) -> dict[str, torch.Tensor]:
        """The architecture parameters (``architecture/<decision>``) and a stochastic map's last sample
        (``sample/<decision>``): bit-identical on every rank."""
        alphas = {f"architecture/{name}": logits for name, logits in zip(self.alphas.decisions, self.alphas.logits)}
        return {**alphas, **{f"sample/{name}": w for name, w in self._sample.items()}}

    def scalars(self) -> dict[str, float]:
        """``architecture/loss`` (of the last architecture step), ``architecture/entropy`` and the map's own."""
        return {"architecture/loss": self.last_arch_loss, "architecture/entropy": self.alphas.entropy(self.weight_map),
                **self.weight_map.scalars(self._progress)}

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "architecture": self.alphas.state_dict(),
            "arch_optimizer": self.arch_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.alphas.load_state_dict(state["architecture"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
