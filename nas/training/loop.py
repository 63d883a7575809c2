"""Trainer: the one training loop every training method runs on.

It owns what all methods share: batches from the data sampler, the budget, atomic checkpoints and
exact resume, Ctrl-C / SIGTERM, TensorBoard scalars, the progress bar, the callbacks, and running on
several ranks under ``torchrun`` (``nas.training.distributed``). What a step does belongs to the method
(``nas.training.method.TrainingMethod``).
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nas.checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from nas.data.splits import TensorSplit
from nas.errors import CheckpointError, ConfigError
from nas.progress import progress_bar
from nas.run_folder import RunFolder
from nas.training.budget import TrainingBudget
from nas.training.distributed import Distributed
from nas.training.feedback import check_needs
from nas.training.hooks import TrainingHooks
from nas.training.method import Batch, StepOutput, TrainingMethod

if TYPE_CHECKING:
    from samplers.data.base import DataSampler
    from supernets.base import Supernet


@dataclass
class TrainState:
    """Where training stands: resume continues from exactly here."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds: float = 0.0


class TrainerCallback(TrainingHooks):
    """Hooks into the loop's events; every method is optional (the defaults do nothing).

    ``on_train_start`` runs when ``fit()`` starts (after a resume); ``on_step_end`` after every step
    (before the periodic checkpoint, so what it changes is saved); ``on_epoch_end`` after each full
    epoch (it may replace the supernet with ``trainer.method.set_supernet``); ``on_train_end`` after
    the last step, before the final checkpoint. ``on_resume`` runs after the callback's own
    ``load_state_dict`` and before the trainer loads the checkpoint's weights and optimizer, to rebuild
    whatever structure they need. Callback state is saved in every checkpoint.
    """

    def on_train_start(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
        pass

    def on_resume(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Trainer:
    """Runs ``method`` for ``epochs`` epochs of ``batch_size`` examples (stopped at ``max_steps``).

    Each step: the data sampler's next batch (and its per-example loss weights), one
    ``method.training_step``, then every participant — the data sampler, the method's own (its path
    sampler) and the callbacks — ``observe``s the step's feedback, restricted to what it ``needs``.
    The budget (``TrainingBudget``) is handed to every participant and to the method when the
    trainer is built. Writes TensorBoard scalars, shows a progress bar, and saves an atomic checkpoint
    every ``checkpoint_every`` steps, at the end, and when interrupted (Ctrl-C, SIGTERM). ``fit()`` on an
    output folder that holds a checkpoint resumes exactly (weights, optimizer, schedule, samplers,
    callbacks, RNG, step); a checkpoint with another ``fingerprint`` is refused.

    Under ``torchrun`` (``distributed``, by default read from torchrun's environment) ``batch_size`` is the
    global batch: every rank trains the same children on its contiguous share of each global batch of the
    data sampler's order, the method's optimizer step all-reduces the gradients once
    (``DistributedExecution``), the participants observe the feedback of the whole global batch, and every
    ``distributed.check_every`` steps the ranks compare their children and the method's
    ``replicated_tensors`` (architecture parameters, a controller). Rank 0 alone writes checkpoints
    (BatchNorm running statistics averaged over the ranks first), TensorBoard scalars and the progress bar;
    every rank resumes from the checkpoint. Methods that are not ``distributed_ready`` are refused.

    Example:
        >>> import functools, torch, tempfile
        >>> from nas.data import synthetic
        >>> from nas.training import OneShot, Optimization
        >>> from samplers import UniformDataSampler, UniformPathSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic(train_size=64)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> method = OneShot(space.build_supernet(), UniformPathSampler(space),
        ...                  Optimization(functools.partial(torch.optim.SGD, lr=0.1)))
        >>> trainer = Trainer(method, data.train, UniformDataSampler(len(data.train)), tempfile.mkdtemp(),
        ...                   epochs=2, batch_size=32, max_steps=3, progress=False, tensorboard=False)
        >>> trainer.budget
        TrainingBudget(total_steps=3, steps_per_epoch=2)
        >>> trainer.fit().step
        3
    """

    LOOP_KEYS = frozenset({"format", "fingerprint", "train_state", "total_steps", "scaler", "data_sampler", "rng",
                           "callbacks"})
    """The checkpoint entries the loop writes; a method's ``state_dict()`` adds its own beside them."""

    def __init__(
        self,
        method: TrainingMethod,
        train_data: TensorSplit,
        data_sampler: DataSampler,
        output_dir: str | Path,
        epochs: int = 10,
        batch_size: int = 256,
        max_steps: int | None = None,
        drop_last: bool = True,
        device: str = "auto",
        amp: bool = True,
        checkpoint_every: int = 200,
        log_every: int = 20,
        progress: bool = True,
        tensorboard: bool = True,
        fingerprint: str | None = None,
        callbacks: Sequence[TrainerCallback] = (),
        distributed: Distributed | None = None,
    ):
        if batch_size < 1 or epochs < 1:
            raise ConfigError(f"batch_size and epochs must be positive, got {batch_size} and {epochs}")
        if len(train_data) < batch_size and drop_last:
            raise ConfigError(
                f"the training split has {len(train_data)} examples, fewer than batch_size={batch_size} with "
                "drop_last=true: lower trainer.batch_size"
            )
        self.distributed = distributed if distributed is not None else Distributed()
        if self.distributed.enabled:
            self.distributed.local_batch_size(batch_size)  # refused unless it splits evenly over the ranks
            if not method.distributed_ready:
                raise ConfigError(f"{type(method).__name__} does not run on several ranks (it is not "
                                  "distributed_ready: its updates are not shared across ranks): train it in one "
                                  "process")
            if getattr(data_sampler, "world_size", 1) != 1:
                raise ConfigError("under torchrun the trainer shards each global batch itself: build the data "
                                  f"sampler with world_size=1, not {data_sampler.world_size}")
        self.method = method
        self.execution = self.distributed.execution(device, amp)
        self.device = self.execution.device
        self.train_data = train_data.to(self.device) if self.device.type == "cuda" else train_data
        self.data_sampler = data_sampler
        self.output_dir = Path(output_dir)
        self.folder = RunFolder(self.output_dir)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.budget = TrainingBudget.of(self.epochs, self._steps_per_epoch(), max_steps)
        self.checkpoint_every = int(checkpoint_every)
        self.log_every = max(1, int(log_every))
        self.progress = progress and self.distributed.is_main
        self.use_tensorboard = tensorboard and self.distributed.is_main
        self.fingerprint = fingerprint
        self.callbacks = list(callbacks)
        self.participants: list[TrainingHooks] = [data_sampler, *method.participants(), *self.callbacks]
        self._needs = [check_needs(p) for p in self.participants]
        self.needs = frozenset().union(*self._needs)
        self.state = TrainState()
        self._writer = None
        self._stop_requested = False
        for participant in self.participants:
            participant.set_budget(self.budget)
        method.setup(self.budget, self.execution, self.participants)

    def _steps_per_epoch(self) -> int:
        n = len(self.data_sampler)
        steps = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if steps < 1:
            raise ConfigError(f"an epoch of {n} examples has no batch of {self.batch_size}: lower batch_size")
        return steps

    @property
    def total_steps(self) -> int:
        return self.budget.total_steps

    @property
    def supernet(self) -> Supernet:
        """The method's supernet (replaced by a few-shot split)."""
        return self.method.supernet

    @property
    def checkpoint_path(self) -> Path:
        return self.folder.checkpoint

    # -- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = self.method.state_dict()
        clash = self.LOOP_KEYS & state.keys()
        if clash:
            raise ConfigError(f"{type(self.method).__name__}.state_dict() uses the trainer's keys {sorted(clash)}: "
                              "rename them")
        return {
            "format": 1,
            "fingerprint": self.fingerprint,
            "train_state": vars(self.state).copy(),
            "total_steps": self.total_steps,
            **state,
            "scaler": self.execution.state_dict(),
            "data_sampler": self.data_sampler.state_dict(),
            "rng": rng_state(),
            "callbacks": [callback.state_dict() for callback in self.callbacks],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("format") != 1:
            raise CheckpointError("checkpoint was not written by this trainer (unknown format)")
        if self.fingerprint is not None and state.get("fingerprint") not in (None, self.fingerprint):
            raise CheckpointError(
                f"{self.checkpoint_path} belongs to a run with another training configuration "
                f"({state.get('fingerprint')} vs {self.fingerprint}); use another run_dir, or delete the folder to "
                "start over"
            )
        for callback, callback_state in zip(self.callbacks, state.get("callbacks", [])):
            callback.load_state_dict(callback_state)
            callback.on_resume(self)
        self.method.load_state_dict(state)
        self.execution.load_state_dict(state.get("scaler"))
        self.data_sampler.load_state_dict(state["data_sampler"])
        self.state = TrainState(**state["train_state"])
        set_rng_state(state["rng"])

    def save_checkpoint(self, collective: bool = True) -> Path:
        """Write the checkpoint atomically (rank 0 only). ``collective``: every rank calls this at the same step,
        so the ranks first average their BatchNorm running statistics; ``False`` on an interrupt, where ranks
        may stand at different points."""
        if collective:
            self.distributed.average_buffers(self.supernet)
        if self.distributed.is_main:
            save_atomic(self.state_dict(), self.checkpoint_path)
        return self.checkpoint_path

    def resume_if_possible(self) -> bool:
        """Load ``output_dir``'s checkpoint if there is one; return whether it did."""
        if not self.checkpoint_path.exists():
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.device))
        return True

    # -- the loop ------------------------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor) -> StepOutput:
        """One step of the method on a batch, then every participant observes what it needs of the feedback."""
        weights = self.data_sampler.loss_weights(indices)  # importance weights 1/(N p), or None
        if weights is not None:
            weights = weights.to(self.device)
        output = self.method.training_step(self.state.step, Batch(x, y, indices, weights), self.needs)
        feedback = self.distributed.gather_feedback(output.feedback)  # the global batch's, on every rank
        self.distributed.check_architectures(self.state.step, feedback.archs, self.method.replicated_tensors)
        for participant, needs in zip(self.participants, self._needs):
            participant.observe(feedback.restricted(needs))
        return output

    def fit(self) -> TrainState:
        """Train to ``total_steps``, resuming from ``output_dir`` when a checkpoint is there."""
        resumed = self.resume_if_possible()
        if self.state.step >= self.total_steps:
            return self.state
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}
        signal.signal(signal.SIGTERM, self._on_sigterm)
        bar = progress_bar(self.total_steps, "supernet", unit="step", initial=self.state.step, enabled=self.progress)
        if resumed and self.distributed.is_main:
            bar.write(f"resumed from {self.checkpoint_path} at step {self.state.step}")
        window_loss, window_acc, window_n = 0.0, 0.0, 0
        started = time.perf_counter() - self.state.seconds
        try:
            for callback in self.callbacks:
                callback.on_train_start(self)
            while self.state.step < self.total_steps:
                self.data_sampler.set_epoch(self.state.epoch)
                order = self.data_sampler.epoch_indices()
                batches = order.split(self.batch_size)
                if self.drop_last and len(batches[-1]) < self.batch_size:
                    batches = batches[:-1]
                while self.state.batch_in_epoch < len(batches) and self.state.step < self.total_steps:
                    indices = self.distributed.shard(batches[self.state.batch_in_epoch])  # this rank's share
                    x, y = self.train_data.x[indices], self.train_data.y[indices]
                    if x.device != self.device:
                        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                    output = self.train_step(x, y, indices)
                    self.state.step += 1
                    self.state.batch_in_epoch += 1
                    self.state.seconds = time.perf_counter() - started
                    window_loss, window_acc = window_loss + output.loss, window_acc + output.accuracy
                    window_n += 1
                    if self.state.step % self.log_every == 0 or self.state.step == self.total_steps:
                        window_loss, window_acc = self.distributed.mean([window_loss, window_acc])
                        self._log(window_loss / window_n, window_acc / window_n, output.lr)
                        bar.set_postfix(loss=f"{window_loss / window_n:.3f}", acc=f"{100 * window_acc / window_n:.1f}%")
                        window_loss, window_acc, window_n = 0.0, 0.0, 0
                    bar.update(1)
                    for callback in self.callbacks:
                        callback.on_step_end(self)
                    if self.checkpoint_every and self.state.step % self.checkpoint_every == 0:
                        self.save_checkpoint()
                    if self._stop_requested:
                        raise KeyboardInterrupt
                if self.state.batch_in_epoch >= len(batches):
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
                    for callback in self.callbacks:
                        callback.on_epoch_end(self)
            for callback in self.callbacks:
                callback.on_train_end(self)
            self.distributed.verify(self.method.replicated_tensors())  # the last steps, before the final checkpoint
        except KeyboardInterrupt:
            self.save_checkpoint(collective=False)
            bar.write(f"interrupted: checkpoint saved at step {self.state.step} in {self.checkpoint_path}")
            raise
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._writer is not None:
                self._writer.flush()
        self.save_checkpoint()
        return self.state

    def _on_sigterm(self, signum, frame) -> None:  # pragma: no cover - exercised by the CLI
        self._stop_requested = True

    def _log(self, loss: float, acc: float, lr: float) -> None:
        if not self.use_tensorboard:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.folder.tensorboard))
        step = self.state.step
        self._writer.add_scalar("train/loss", loss, step)
        self._writer.add_scalar("train/accuracy", 100 * acc, step)
        self._writer.add_scalar("train/lr", lr, step)
        for name, value in self.method.scalars().items():
            self._writer.add_scalar(name, value, step)
