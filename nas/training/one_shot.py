"""OneShot: the one-shot training method: a path sampler picks the children, the shared weights train."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from nas.errors import ConfigError
from nas.losses import CrossEntropy, DistillationLoss, LabelLoss
from nas.training.budget import TrainingBudget
from nas.training.execution import Execution
from nas.training.feedback import StepFeedback
from nas.training.hooks import TrainingHooks
from nas.training.method import Batch, StepOutput, TrainingMethod
from nas.training.optimization import Optimization

if TYPE_CHECKING:
    from samplers.path.base import PathSampler
    from supernets.base import Supernet


class OneShot(TrainingMethod):
    """Each step: the children ``path_sampler.sample(step)`` picks, each trained on the batch with ``loss``
    (summed, or averaged with ``child_loss="mean"``; each times the sampler's ``loss_scales(step)`` factor when it
    gives one) and back-propagated into one gradient; then
    clipping and one optimizer and schedule step (``optimization``).

    In-place distillation (``distillation``, a ``nas.losses.DistillationLoss``) needs a path sampler whose
    first child is the teacher (``teacher_first``, the sandwich rule's largest child): the teacher trains
    on the labels, and its detached logits are the soft labels of the step's other children, which train
    on the distillation loss instead of the labels.

    Example:
        >>> import functools, tempfile
        >>> from nas.data import synthetic
        >>> from nas.training import Trainer
        >>> from samplers import UniformDataSampler, UniformPathSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=64)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> method = OneShot(space.build_supernet(), UniformPathSampler(space),
        ...                  Optimization(functools.partial(torch.optim.SGD, lr=0.1)))
        >>> trainer = Trainer(method, data.train, UniformDataSampler(len(data.train)), tempfile.mkdtemp(),
        ...                   epochs=1, batch_size=32, progress=False, tensorboard=False)
        >>> trainer.fit().step
        2
    """

    distributed_ready: ClassVar[bool] = True
    trains_controller: ClassVar[bool] = False
    """Whether the method trains a learned path sampler (``PathSampler.learns_from_reward``)."""

    def __init__(self, supernet: Supernet, path_sampler: PathSampler, optimization: Optimization,
                 loss: LabelLoss | None = None, distillation: DistillationLoss | None = None,
                 child_loss: str = "sum"):
        if child_loss not in ("sum", "mean"):
            raise ConfigError(f"child_loss must be 'sum' or 'mean', got {child_loss!r}")
        if getattr(path_sampler, "learns_from_reward", False) and not self.trains_controller:
            raise ConfigError(
                f"{type(path_sampler).__name__} is a learned sampler that only a controller method trains; "
                f"{type(self).__name__} would leave it untrained: use method=enas (nas.training.ControllerTraining)")
        if distillation is not None and not path_sampler.teacher_first:
            raise ConfigError(
                f"distillation ({distillation!r}) needs a path sampler whose first child is the teacher; "
                f"{type(path_sampler).__name__} has none: use path_sampler=sandwich, or distillation=none")
        self.supernet = supernet
        self.path_sampler = path_sampler
        self.optimization = optimization
        self.loss = loss if loss is not None else CrossEntropy()
        self.distillation = distillation
        self.child_loss = child_loss
        self.option_counts: Counter[str] = Counter()
        self.execution: Execution | None = None  # set by setup()
        self._option_params = None
        self._option_grad_users: list[str] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None

    # -- setup ----------------------------------------------------------------------------------
    def setup(self, budget: TrainingBudget, execution: Execution, participants: Sequence[TrainingHooks]) -> None:
        self.execution = execution
        self.supernet = self.supernet.to(execution.device)
        self.optimizer = self.optimization.optimizer_for(self.supernet.parameters())
        self.scheduler = self.optimization.scheduler_for(self.optimizer, budget)
        self._option_grad_users = [type(p).__name__ for p in participants if "option_grad_norms" in p.needs]
        self._refresh_supernet()

    def participants(self) -> list[TrainingHooks]:
        return [self.path_sampler]

    def set_supernet(self, supernet: Supernet) -> None:
        self.supernet = supernet.to(self.execution.device)
        self._refresh_supernet()

    def _refresh_supernet(self) -> None:
        if self._option_grad_users:
            try:
                self._option_params = self.supernet.option_parameters()
            except NotImplementedError as exc:
                raise ConfigError(
                    f"{', '.join(self._option_grad_users)} needs the gradient norm of every option's own parameters, "
                    f"and {type(self.supernet).__name__} cannot say which parameters belong to which option ({exc}). "
                    "Use path_sampler=uniform or sandwich with this supernet."
                ) from None
        self.path_sampler.set_supernet(self.supernet)

    # -- one step ---------------------------------------------------------------------------------
    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        lr = self.optimizer.param_groups[0]["lr"]
        archs = self.path_sampler.sample(step)
        factors = self.path_sampler.loss_scales(step) or [1.0] * len(archs)
        if len(factors) != len(archs):
            raise ConfigError(f"{type(self.path_sampler).__name__}.loss_scales({step}) gave {len(factors)} factors "
                              f"for {len(archs)} children: one per child of sample({step})")
        self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        x, y = batch.x, batch.y
        losses, correct, kept = [], 0, []
        scale = 1.0 / len(archs) if self.child_loss == "mean" else 1.0
        soft_labels = None  # the teacher's detached logits, with in-place distillation
        for arch, factor in zip(archs, factors):
            with self.execution.autocast():
                logits = self.supernet(x, arch)
                if soft_labels is None:
                    loss = self.loss(logits.float(), y, batch.weights)
                    if self.distillation is not None:
                        soft_labels = logits.detach().float()
                else:
                    loss = self.distillation(logits, soft_labels)
            self.execution.backward(loss * (scale * factor))
            losses.append(float(loss.detach()))
            correct += int((logits.argmax(1) == y).sum())
            if "logits" in needs or "example_losses" in needs:
                kept.append(logits.detach())
            for name, option in arch.items():
                self.option_counts[f"{name}/{option}"] += 1
        self.execution.unscale_(self.optimizer)
        # participants see the gradients as back-propagated, before clipping rescales them
        norms = self._option_grad_norms() if "option_grad_norms" in needs else None
        self.optimization.clip(self.supernet.parameters())
        self.execution.step(self.optimizer)
        self.scheduler.step()
        feedback = StepFeedback(
            step, archs, batch.indices, y,
            losses=losses if "losses" in needs else None,
            option_grad_norms=norms,
            logits=kept if "logits" in needs else None,
            example_losses=[self._example_losses(out, y) for out in kept] if "example_losses" in needs else None,
        )
        return StepOutput(sum(losses) / len(losses), correct / (len(y) * len(archs)), lr, feedback)

    @staticmethod
    def _example_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return F.cross_entropy(logits.float(), y, reduction="none")

    def _option_grad_norms(self) -> dict:
        """(decision, option) -> L2 norm of the gradient of that option's parameters, for options that got one."""
        norms = {}
        if self._option_params is not None:
            for key, params in self._option_params.items():
                grads = [p.grad for p in params if p.grad is not None]
                if grads:
                    norms[key] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
        return norms

    def scalars(self) -> dict[str, float]:
        """``sampling/<decision>/<option>``: how often each option trained, per child step."""
        total = max(1, sum(self.option_counts.values()) // max(1, len(self.path_sampler.space.decisions)))
        return {f"sampling/{key}": count / total for key, count in self.option_counts.items()}

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "path_sampler": self.path_sampler.state_dict(),
            "option_counts": dict(self.option_counts),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.path_sampler.load_state_dict(state["path_sampler"])
        self.option_counts = Counter(state["option_counts"])
