"""ControllerTraining: ENAS' alternation of shared-weight training and controller training by REINFORCE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from nas.errors import ConfigError
from nas.losses import DistillationLoss, LabelLoss
from nas.training.budget import TrainingBudget
from nas.training.distributed import state_tensors
from nas.training.execution import Execution
from nas.training.held_out import HeldOutBatches, split_training_data
from nas.training.hooks import TrainingHooks
from nas.training.method import Batch, StepOutput
from nas.training.one_shot import OneShot
from nas.training.optimization import Optimization

if TYPE_CHECKING:
    from nas.data.splits import TensorSplit
    from samplers.path.base import PathSampler
    from supernets.base import Supernet


class ControllerTraining(OneShot):
    """ENAS' two phases on one loop: one-shot steps of the shared weights with the children the learned path
    sampler draws (``OneShot``), and every ``controller_every`` steps (default: once per epoch, as ENAS) a
    controller phase of ``controller_steps`` REINFORCE updates, each rewarding ``controller_batch`` children
    that the sampler ``propose``s with their accuracy on one held-out validation batch (ENAS' reward) of
    ``reward_batch_size`` images (default: the trainer's batch size, or all held-out images if fewer).

    The validation data is ``valid_fraction`` of the training split, held out by a seeded permutation
    (``bind_data``: ENAS holds out 5,000 of CIFAR-10's 50,000); its batches are a function of the controller
    update's number (``HeldOutBatches``), so resume is exact. Rewards are measured with batch statistics (the
    supernet in training mode, no gradients, as ENAS scores children) and the BatchNorm running statistics are
    restored after each phase: the controller phase changes nothing but the controller. The path sampler must be
    a learned one (``learns_from_reward``: ``samplers.ENASPathSampler``), whose state (controller weights, its
    optimizer, the baseline, the memory buffer) is checkpointed with the method's.

    Under torchrun every rank holds the same controller: its children are a function of (seed, step, controller
    weights), the reward batch is global (``reward_batch_size`` must split evenly over the ranks; by default the
    held-out images are rounded down to a multiple of the ranks), each rank scores its share of it, and the
    rewards are averaged over the ranks (equal shares: the accuracy on the whole batch) before the REINFORCE
    update, so controller, baseline and buffer take the same update everywhere; the cross-rank check compares
    their hash (``replicated_tensors``).

    Example:
        >>> import functools, tempfile
        >>> from nas.data import synthetic
        >>> from nas.training import Trainer
        >>> from samplers import ENASPathSampler, UniformDataSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=80)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> sampler = ENASPathSampler(space, seed=0)
        >>> method = ControllerTraining(space.build_supernet(), sampler,
        ...                             Optimization(functools.partial(torch.optim.SGD, lr=0.1)), controller_steps=3)
        >>> train = method.bind_data(data.train)       # 72 images train the weights, 8 reward the controller
        >>> trainer = Trainer(method, train, UniformDataSampler(len(train)), tempfile.mkdtemp(), epochs=2,
        ...                   batch_size=8, progress=False, tensorboard=False)
        >>> trainer.fit().step, sampler.updates        # 9 steps per epoch, one controller phase after each epoch
        (18, 6)
    """

    trains_controller: ClassVar[bool] = True

    def __init__(self, supernet: Supernet, path_sampler: PathSampler, optimization: Optimization,
                 loss: LabelLoss | None = None, distillation: DistillationLoss | None = None,
                 child_loss: str = "sum", valid_fraction: float = 0.1, controller_every: int | None = None,
                 controller_steps: int = 50, controller_batch: int = 1, reward_batch_size: int | None = None,
                 seed: int = 0):
        if not getattr(path_sampler, "learns_from_reward", False):
            raise ConfigError(f"{type(self).__name__} trains a learned path sampler by REINFORCE, and "
                              f"{type(path_sampler).__name__} is not one: use path_sampler=enas")
        super().__init__(supernet, path_sampler, optimization, loss, distillation, child_loss)
        if not 0.0 < float(valid_fraction) < 1.0:
            raise ConfigError(f"valid_fraction must be in (0, 1), got {valid_fraction}: the share of the training "
                              "split held out to reward the controller (ENAS: 0.1)")
        if controller_every is not None and int(controller_every) < 1:
            raise ConfigError(f"controller_every must be >= 1 step or null (once per epoch), got {controller_every}")
        if int(controller_steps) < 1 or int(controller_batch) < 1:
            raise ConfigError(f"controller_steps and controller_batch must be >= 1, got {controller_steps} and "
                              f"{controller_batch}")
        if reward_batch_size is not None and int(reward_batch_size) < 1:
            raise ConfigError(f"reward_batch_size must be >= 1 or null (the trainer's batch size), got "
                              f"{reward_batch_size}")
        self.valid_fraction = float(valid_fraction)
        self.controller_every = None if controller_every is None else int(controller_every)
        self.controller_steps, self.controller_batch = int(controller_steps), int(controller_batch)
        self.reward_batch_size = None if reward_batch_size is None else int(reward_batch_size)
        self.seed = int(seed)
        self.valid: HeldOutBatches | None = None  # set by bind_data()
        self.every = 0                             # set by setup()
        self.last: dict[str, float] = {}

    def bind_data(self, train: TensorSplit) -> TensorSplit:
        weights, valid = split_training_data(train, self.valid_fraction, self.seed)
        self.valid = HeldOutBatches(valid, self.seed)
        return weights

    def setup(self, budget: TrainingBudget, execution: Execution, participants: Sequence[TrainingHooks]) -> None:
        if self.valid is None:
            raise ConfigError(f"{type(self).__name__} needs its validation data: call bind_data(train) before "
                              "building the Trainer (nas train does)")
        if self.reward_batch_size is not None and self.reward_batch_size > len(self.valid):
            raise ConfigError(f"reward_batch_size={self.reward_batch_size} is more than the {len(self.valid)} held-out "
                              "validation images: lower trainer.method.reward_batch_size or raise valid_fraction")
        ranks = execution.world_size
        if self.reward_batch_size is not None and self.reward_batch_size % ranks:
            raise ConfigError(f"the controller's reward batch of {self.reward_batch_size} held-out images does not "
                              f"split evenly over the {ranks} ranks: set trainer.method.reward_batch_size to a "
                              f"multiple of {ranks}")
        if len(self.valid) < ranks:
            raise ConfigError(f"the {len(self.valid)} held-out validation images cannot reward the controller on "
                              f"{ranks} ranks (one image per rank at least): raise trainer.method.valid_fraction")
        super().setup(budget, execution, participants)
        self.valid.to(execution.device)
        self.every = self.controller_every or budget.steps_per_epoch

    def training_step(self, step: int, batch: Batch, needs: frozenset[str]) -> StepOutput:
        output = super().training_step(step, batch, needs)
        if (step + 1) % self.every == 0:
            ranks = self.execution.world_size  # the global batch, or every held-out image that splits evenly
            size = self.reward_batch_size or min(len(batch.y) * ranks, len(self.valid) // ranks * ranks)
            self.train_controller((step + 1) // self.every - 1, size)
        return output

    def train_controller(self, phase: int, batch_size: int) -> dict[str, float]:
        """Controller phase number ``phase``: ``controller_steps`` REINFORCE updates, each on rewards of a global
        batch of ``batch_size`` (this rank scores its share; the ranks average); returns their mean stats."""
        saved = [b.detach().clone() for b in self.supernet.buffers()]
        self.supernet.train()  # batch statistics, as ENAS rewards its children
        totals: dict[str, float] = {}
        try:
            for k in range(self.controller_steps):
                key = phase * self.controller_steps + k
                archs = self.path_sampler.propose(key, self.controller_batch)
                x, y = self.valid.batch(key, batch_size, self.execution.shard)
                with torch.no_grad(), self.execution.autocast():
                    rewards = [float((self.supernet(x, arch).argmax(1) == y).float().mean()) for arch in archs]
                rewards = self.execution.mean(rewards)  # the whole batch's accuracy, the same on every rank
                for name, value in self.path_sampler.reinforce(archs, rewards).items():
                    totals[name] = totals.get(name, 0.0) + value / self.controller_steps
        finally:
            with torch.no_grad():
                for buffer, value in zip(self.supernet.buffers(), saved):
                    buffer.copy_(value)
        self.last = totals
        return totals

    def replicated_tensors(self) -> dict[str, torch.Tensor]:
        """The path sampler's state (controller weights, its optimizer, baseline, buffer rewards): bit-identical
        on every rank."""
        return state_tensors(self.path_sampler.state_dict(), "path_sampler")

    def scalars(self) -> dict[str, float]:
        """The one-shot scalars plus ``controller/<reward|baseline|entropy|loss>`` of the last controller phase."""
        return {**super().scalars(), **{f"controller/{k}": v for k, v in self.last.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "controller_phase": dict(self.last)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.last = dict(state.get("controller_phase", {}))
