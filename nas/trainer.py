"""Trainer: trains a supernet one step at a time on sampled children and sampled examples."""

from __future__ import annotations

import math
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nas.checkpoint import load_checkpoint, rng_state, save_atomic, set_rng_state
from nas.data.splits import TensorSplit
from nas.errors import CheckpointError, ConfigError
from nas.losses import adaptive_alpha_divergence, kl_distillation
from samplers.data.base import DataSampler
from samplers.path.base import PathFeedback, PathSampler
from supernets.base import Supernet


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here: use device=cpu or device=auto")
    return torch.device(device)


def cosine_schedule(total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(step - warmup_steps, total_steps - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@dataclass
class TrainState:
    """Where training stands: resume continues from exactly here."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds: float = 0.0


class TrainerCallback:
    """Hooks into the training loop; every method is optional (the defaults do nothing).

    ``on_epoch_end(trainer)`` runs after each full epoch (it may replace ``trainer.supernet`` with
    ``trainer.set_supernet`` and rebuild the optimizer's parameters); ``on_resume(trainer)`` runs
    after the callback's own ``load_state_dict`` and before the trainer loads the checkpoint's
    weights and optimizer, to rebuild whatever structure they need.
    """

    def on_epoch_end(self, trainer: "Trainer") -> None:
        pass

    def on_resume(self, trainer: "Trainer") -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class Trainer:
    """Owns the supernet training loop.

    Each step: a batch from the data sampler, children from the path sampler, the loss of each
    child (summed, or averaged with ``child_loss="mean"``) back-propagated into one gradient,
    gradient clipping, one optimizer and schedule step. Writes TensorBoard scalars, shows a
    progress bar, and saves an atomic checkpoint every ``checkpoint_every`` steps, at the end,
    and when interrupted (Ctrl-C, SIGTERM). ``fit()`` on an output folder that holds a
    checkpoint resumes exactly (weights, optimizer, schedule, samplers, RNG, step).

    In-place distillation (``distillation="kl"`` or ``"alpha"``) needs a path sampler whose first
    child is the teacher (``teacher_first``, e.g. the sandwich rule's largest child): the teacher
    trains on the labels, and its detached logits are the soft labels of the step's other
    children, which train on KL(teacher || student) or on AlphaNet's adaptive alpha-divergence
    (``distill_alpha_min``, ``distill_alpha_max``, clipping ``distill_beta``) instead of the labels.

    Example:
        >>> import functools, torch, tempfile
        >>> from nas.data import synthetic
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> from samplers import UniformPathSampler, UniformDataSampler
        >>> data = synthetic(train_size=64)
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> trainer = Trainer(space.build_supernet(), data.train, UniformPathSampler(space),
        ...                   UniformDataSampler(len(data.train)), functools.partial(torch.optim.SGD, lr=0.1),
        ...                   output_dir=tempfile.mkdtemp(), epochs=1, batch_size=32, progress=False)
        >>> trainer.fit().step
        2
    """

    CHECKPOINT = "checkpoints/last.pt"

    def __init__(
        self,
        supernet: Supernet,
        train_data: TensorSplit,
        path_sampler: PathSampler,
        data_sampler: DataSampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        output_dir: str | Path,
        epochs: int = 10,
        batch_size: int = 256,
        max_steps: int | None = None,
        warmup_steps: int = 0,
        grad_clip_norm: float | None = 5.0,
        child_loss: str = "sum",
        drop_last: bool = True,
        checkpoint_every: int = 200,
        log_every: int = 20,
        device: str = "auto",
        amp: bool = True,
        progress: bool = True,
        tensorboard: bool = True,
        fingerprint: str | None = None,
        distillation: str | None = None,
        distill_alpha_min: float = -1.0,
        distill_alpha_max: float = 1.0,
        distill_beta: float = 5.0,
        callbacks: Sequence[TrainerCallback] = (),
    ):
        if child_loss not in ("sum", "mean"):
            raise ConfigError(f"child_loss must be 'sum' or 'mean', got {child_loss!r}")
        if distillation not in (None, "kl", "alpha"):
            raise ConfigError(f"distillation must be null, 'kl' or 'alpha', got {distillation!r}")
        if distillation is not None and not path_sampler.teacher_first:
            raise ConfigError(
                f"distillation={distillation!r} needs a path sampler whose first child is the teacher; "
                f"{type(path_sampler).__name__} has none: use path_sampler=sandwich, or trainer.distillation=null")
        if distillation == "alpha" and not distill_alpha_min <= distill_alpha_max:
            raise ConfigError(f"distill_alpha_min ({distill_alpha_min}) must not exceed distill_alpha_max "
                              f"({distill_alpha_max})")
        if batch_size < 1 or epochs < 1:
            raise ConfigError(f"batch_size and epochs must be positive, got {batch_size} and {epochs}")
        if len(train_data) < batch_size and drop_last:
            raise ConfigError(
                f"the training split has {len(train_data)} examples, fewer than batch_size={batch_size} with "
                "drop_last=true: lower trainer.batch_size"
            )
        self.device = resolve_device(device)
        self.supernet = supernet.to(self.device)
        self.train_data = train_data.to(self.device) if self.device.type == "cuda" else train_data
        self.path_sampler = path_sampler
        self.data_sampler = data_sampler
        self.optimizer = optimizer(self.supernet.parameters())
        self.output_dir = Path(output_dir)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.steps_per_epoch = self._steps_per_epoch()
        self.total_steps = self.epochs * self.steps_per_epoch
        if max_steps is not None:
            self.total_steps = min(self.total_steps, int(max_steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, cosine_schedule(self.total_steps, warmup_steps)
        )
        self.grad_clip_norm = grad_clip_norm
        self.child_loss = child_loss
        self.checkpoint_every = int(checkpoint_every)
        self.log_every = max(1, int(log_every))
        self.amp_dtype = self._amp_dtype(amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.progress = progress
        self.use_tensorboard = tensorboard
        self.fingerprint = fingerprint
        self.distillation = distillation
        self.distill_alpha = (float(distill_alpha_min), float(distill_alpha_max), float(distill_beta))
        self.callbacks = list(callbacks)
        self._option_params = None
        self._refresh_option_params()
        self.state = TrainState()
        self.option_counts: Counter[str] = Counter()
        self._writer = None
        self._stop_requested = False

    # -- setup helpers ---------------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        n = len(self.data_sampler)
        steps = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if steps < 1:
            raise ConfigError(f"an epoch of {n} examples has no batch of {self.batch_size}: lower batch_size")
        return steps

    def _amp_dtype(self, amp: bool) -> torch.dtype | None:
        if not amp or self.device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def _refresh_option_params(self) -> None:
        if "option_grad_norms" not in self.path_sampler.needs:
            return
        try:
            self._option_params = self.supernet.option_parameters()
        except NotImplementedError as exc:
            raise ConfigError(
                f"{type(self.path_sampler).__name__} needs the gradient norm of every option's own parameters, "
                f"and {type(self.supernet).__name__} cannot say which parameters belong to which option ({exc}). "
                "Use path_sampler=uniform or sandwich with this supernet."
            ) from None

    def set_supernet(self, supernet: Supernet) -> None:
        """Train ``supernet`` from now on (a callback's few-shot split); the caller updates the optimizer."""
        self.supernet = supernet.to(self.device)
        self._refresh_option_params()

    @property
    def checkpoint_path(self) -> Path:
        return self.output_dir / self.CHECKPOINT

    # -- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "fingerprint": self.fingerprint,
            "train_state": vars(self.state).copy(),
            "total_steps": self.total_steps,
            "supernet": self.supernet.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "path_sampler": self.path_sampler.state_dict(),
            "data_sampler": self.data_sampler.state_dict(),
            "option_counts": dict(self.option_counts),
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
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.path_sampler.load_state_dict(state["path_sampler"])
        self.data_sampler.load_state_dict(state["data_sampler"])
        self.option_counts = Counter(state["option_counts"])
        self.state = TrainState(**state["train_state"])
        set_rng_state(state["rng"])

    def save_checkpoint(self) -> Path:
        save_atomic(self.state_dict(), self.checkpoint_path)
        return self.checkpoint_path

    def resume_if_possible(self) -> bool:
        """Load ``output_dir``'s checkpoint if there is one; return whether it did."""
        if not self.checkpoint_path.exists():
            return False
        self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.device))
        return True

    # -- the loop ------------------------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor) -> tuple[float, float]:
        """One optimizer step on every child the path sampler picks; returns (mean loss, accuracy)."""
        step = self.state.step
        archs = self.path_sampler.sample(step)
        self.supernet.train()
        self.optimizer.zero_grad(set_to_none=True)
        losses, correct = [], 0
        scale = 1.0 / len(archs) if self.child_loss == "mean" else 1.0
        needs_scores = self.data_sampler.needs_scores
        weights = self.data_sampler.loss_weights(indices)  # importance weights 1/(N p), or None
        if weights is not None:
            weights = weights.to(self.device)
        soft_labels = None  # the teacher's detached logits, with in-place distillation
        for arch in archs:
            with torch.autocast(self.device.type, self.amp_dtype) if self.amp_dtype else nullcontext():
                logits = self.supernet(x, arch)
                if soft_labels is None:
                    loss = self._label_loss(logits.float(), y, weights)
                    if self.distillation is not None:
                        soft_labels = logits.detach().float()
                else:
                    loss = self._distillation_loss(logits, soft_labels)
            backward = loss * scale
            (self.scaler.scale(backward) if self.scaler else backward).backward()
            losses.append(float(loss.detach()))
            correct += int((logits.argmax(1) == y).sum())
            for name, option in arch.items():
                self.option_counts[f"{name}/{option}"] += 1
        if needs_scores:  # PA&DA's proxy: |softmax - onehot| of the last child's logits, no extra backward
            with torch.no_grad():
                probs = logits.float().softmax(1)
                probs[torch.arange(len(y)), y] -= 1.0
                self.data_sampler.observe(indices, probs.norm(dim=1).cpu())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        # the sampler sees the gradients as back-propagated, before clipping rescales them
        self.path_sampler.observe(PathFeedback(step, archs, losses, self._option_grad_norms()))
        if self.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.grad_clip_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        return sum(losses) / len(losses), correct / (len(y) * len(archs))

    def _distillation_loss(self, logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        if self.distillation == "kl":
            return kl_distillation(logits, teacher_logits)
        alpha_min, alpha_max, beta = self.distill_alpha
        return adaptive_alpha_divergence(logits, teacher_logits, alpha_min, alpha_max, beta)

    @staticmethod
    def _label_loss(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        if weights is None:
            return F.cross_entropy(logits, y)
        return (F.cross_entropy(logits, y, reduction="none") * weights).mean()

    def _option_grad_norms(self) -> dict:
        """(decision, option) -> L2 norm of the gradient of that option's parameters, for options that got one."""
        norms = {}
        if self._option_params is not None:
            for key, params in self._option_params.items():
                grads = [p.grad for p in params if p.grad is not None]
                if grads:
                    norms[key] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
        return norms

    def fit(self) -> TrainState:
        """Train to ``total_steps``, resuming from ``output_dir`` when a checkpoint is there."""
        resumed = self.resume_if_possible()
        self.path_sampler.set_total_steps(self.total_steps)
        if self.state.step >= self.total_steps:
            return self.state
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}
        signal.signal(signal.SIGTERM, self._on_sigterm)
        bar = tqdm(total=self.total_steps, initial=self.state.step, desc="supernet", unit="step",
                   disable=not self.progress, file=sys.stderr, dynamic_ncols=True)
        if resumed:
            bar.write(f"resumed from {self.checkpoint_path} at step {self.state.step}")
        window_loss, window_acc, window_n = 0.0, 0.0, 0
        started = time.perf_counter() - self.state.seconds
        try:
            while self.state.step < self.total_steps:
                self.data_sampler.set_epoch(self.state.epoch)
                order = self.data_sampler.epoch_indices()
                batches = order.split(self.batch_size)
                if self.drop_last and len(batches[-1]) < self.batch_size:
                    batches = batches[:-1]
                while self.state.batch_in_epoch < len(batches) and self.state.step < self.total_steps:
                    indices = batches[self.state.batch_in_epoch]
                    x, y = self.train_data.x[indices], self.train_data.y[indices]
                    if x.device != self.device:
                        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                    lr = self.optimizer.param_groups[0]["lr"]
                    loss, acc = self.train_step(x, y, indices)
                    self.state.step += 1
                    self.state.batch_in_epoch += 1
                    self.state.seconds = time.perf_counter() - started
                    window_loss, window_acc, window_n = window_loss + loss, window_acc + acc, window_n + 1
                    if self.state.step % self.log_every == 0 or self.state.step == self.total_steps:
                        self._log(window_loss / window_n, window_acc / window_n, lr)
                        bar.set_postfix(loss=f"{window_loss / window_n:.3f}", acc=f"{100 * window_acc / window_n:.1f}%")
                        window_loss, window_acc, window_n = 0.0, 0.0, 0
                    bar.update(1)
                    if self.checkpoint_every and self.state.step % self.checkpoint_every == 0:
                        self.save_checkpoint()
                    if self._stop_requested:
                        raise KeyboardInterrupt
                if self.state.batch_in_epoch >= len(batches):
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
                    for callback in self.callbacks:
                        callback.on_epoch_end(self)
        except KeyboardInterrupt:
            self.save_checkpoint()
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

            self._writer = SummaryWriter(log_dir=str(self.output_dir / "tensorboard"))
        step = self.state.step
        self._writer.add_scalar("train/loss", loss, step)
        self._writer.add_scalar("train/accuracy", 100 * acc, step)
        self._writer.add_scalar("train/lr", lr, step)
        total = max(1, sum(self.option_counts.values()) // max(1, len(self.path_sampler.space.decisions)))
        for key, count in self.option_counts.items():
            self._writer.add_scalar(f"sampling/{key}", count / total, step)
