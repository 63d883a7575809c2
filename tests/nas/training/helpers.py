"""Build a one-shot trainer in one call (what `nas train` composes from the config)."""

from __future__ import annotations

import functools

import torch

from nas.losses import DistillationLoss, LabelLoss
from nas.training import OneShot, Optimization, Trainer, TrainerCallback


def one_shot_trainer(supernet, train_data, path_sampler, data_sampler, output_dir, *, optimizer=None,
                     warmup_steps: int = 0, grad_clip_norm: float | None = 5.0, loss: LabelLoss | None = None,
                     distillation: DistillationLoss | None = None, child_loss: str = "sum", **loop) -> Trainer:
    """A ``Trainer`` running ``OneShot``; ``loop`` holds the trainer's own options (epochs, batch_size, ...)."""
    optimization = Optimization(optimizer or functools.partial(torch.optim.SGD, lr=0.1), warmup_steps, grad_clip_norm)
    method = OneShot(supernet, path_sampler, optimization, loss=loss, distillation=distillation,
                     child_loss=child_loss)
    return Trainer(method, train_data, data_sampler, output_dir, **loop)


class KillAt(TrainerCallback):
    """Stops training with a RuntimeError after step ``step``, saving nothing (as a SIGKILL would)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.state.step == self.step:
            raise RuntimeError(f"killed at step {self.step}")
