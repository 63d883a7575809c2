"""Retrain one child with a stand-alone recipe: checkpoints, exact resume, TensorBoard, a progress bar.

:class:`Retraining` runs :class:`nas.benchmarks.standalone.StandaloneTraining` (the loop every ground-truth
record comes from) for one seed in its own folder: a checkpoint every ``checkpoint_every`` steps, at the end,
and when interrupted (Ctrl-C, SIGTERM); a rerun resumes from it, and ends with the weights of a run that was
never stopped. A checkpoint made for another child, recipe, seed or initialisation is refused.

Example:
    >>> import tempfile, torch
    >>> from torch import nn
    >>> from nas.benchmarks import StandaloneRecipe
    >>> from nas.data import synthetic
    >>> data = synthetic(train_size=64, valid_size=32, test_size=32)
    >>> make = lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    >>> job = Retraining(make, data, StandaloneRecipe(train_size=64, epochs=1, batch_size=32), seed=0,
    ...                  checkpoint=tempfile.mkdtemp() + "/checkpoint.pt", fingerprint="x", progress=False,
    ...                  tensorboard=None)
    >>> result = job.fit()
    >>> result["steps"], 0.0 <= result["accuracy"] <= 100.0
    (2, True)
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.benchmarks.recipe import StandaloneRecipe
from nas.benchmarks.standalone import StandaloneTraining, StepResult
from nas.checkpoint import load_checkpoint, save_atomic
from nas.data.splits import ImageDataset
from nas.errors import CheckpointError
from nas.progress import progress_bar

INITS = ("scratch", "inherited")
"""``scratch``: a freshly initialised network (the ground truth's); ``inherited``: the supernet's weights."""


def retrain_fingerprint(arch: str, init: str, recipe: dict[str, Any], space: dict[str, Any], dataset: str,
                        seed: int, source: str | None) -> str:
    """A short hash of what decides a retrained network's weights (``source``: the supernet, when inherited)."""
    payload = {"arch": arch, "init": init, "recipe": recipe, "space": space, "dataset": dataset, "seed": int(seed),
               "source": source if init == "inherited" else None}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Retraining:
    """One seed of `nas retrain`: the model from ``make_model`` trained with ``recipe``, resumable in ``checkpoint``.

    ``make_model`` is called under ``torch.manual_seed(seed)``: a fresh network from scratch (exactly
    ``train_standalone``'s), or the inherited child. ``fit()`` returns the seed's record: ``accuracy`` on
    ``recipe.eval_split``, the last epoch's ``train_accuracy``, ``steps`` and training ``seconds``.
    """

    def __init__(self, make_model: Callable[[], nn.Module], data: ImageDataset, recipe: StandaloneRecipe, seed: int,
                 checkpoint: str | Path, fingerprint: str, checkpoint_every: int = 100,
                 tensorboard: str | Path | None = None, progress: bool = True, device: str | torch.device = "cpu",
                 desc: str = "retrain"):
        self.data, self.recipe, self.seed = data, recipe, int(seed)
        self.checkpoint_path, self.fingerprint = Path(checkpoint), str(fingerprint)
        self.checkpoint_every, self.progress, self.desc = int(checkpoint_every), bool(progress), desc
        self.tensorboard = Path(tensorboard) if tensorboard is not None else None
        torch.manual_seed(self.seed)
        self.training = StandaloneTraining(make_model(), data.train, recipe, self.seed, device)
        self.seconds = 0.0
        self._stop_requested = False
        self._writer = None

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "training": self.training.state_dict(), "seconds": self.seconds,
                "total_steps": self.training.total_steps}

    def save_checkpoint(self) -> None:
        save_atomic(self.state_dict(), self.checkpoint_path)

    def resume_if_possible(self) -> bool:
        """Load the checkpoint when there is one (refusing one of another job); True when it did."""
        if not self.checkpoint_path.is_file():
            return False
        state = load_checkpoint(self.checkpoint_path)
        if state.get("fingerprint") != self.fingerprint:
            raise CheckpointError(f"{self.checkpoint_path} belongs to another retraining (another child, recipe, "
                                  f"seed or init: {state.get('fingerprint')} vs {self.fingerprint}); use another "
                                  "retrain.dir, or delete it to start over")
        self.training.load_state_dict(state["training"])
        self.seconds = float(state.get("seconds", 0.0))
        return True

    # -- the loop ------------------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train to the recipe's last step (resuming), then evaluate on ``recipe.eval_split``."""
        resumed = self.resume_if_possible()
        training = self.training
        if not training.done:
            previous = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
            bar = progress_bar(training.total_steps, self.desc, unit="step", initial=training.step,
                               enabled=self.progress)
            if resumed:
                bar.write(f"resumed from {self.checkpoint_path} at step {training.step}")
            started = time.perf_counter() - self.seconds

            def on_step(result: StepResult) -> None:
                self.seconds = time.perf_counter() - started
                self._log(result)
                bar.update(1)
                bar.set_postfix(loss=f"{result.loss:.3f}", acc=f"{result.accuracy:.1f}%")
                if self.checkpoint_every and result.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
                if self._stop_requested:
                    raise KeyboardInterrupt

            try:
                training.run(on_step=on_step)
            except KeyboardInterrupt:
                self.save_checkpoint()
                bar.write(f"interrupted: checkpoint saved at step {training.step} in {self.checkpoint_path}")
                raise
            finally:
                bar.close()
                signal.signal(signal.SIGTERM, previous)
            self.save_checkpoint()
        split = self.data.test if self.recipe.eval_split == "test" else self.data.valid
        accuracy = training.evaluate(split)
        if self._writer is not None or self.tensorboard is not None:
            self._scalar(f"{self.recipe.eval_split}/accuracy", accuracy, training.step)
            self._writer.flush()
        return {"seed": self.seed, "accuracy": accuracy, "train_accuracy": training.train_accuracy,
                "steps": training.step, "seconds": round(self.seconds, 3)}

    def _on_sigterm(self, signum, frame) -> None:  # pragma: no cover - exercised by the CLI
        self._stop_requested = True

    def _log(self, result: StepResult) -> None:
        self._scalar("train/loss", result.loss, result.step)
        self._scalar("train/accuracy", result.accuracy, result.step)
        self._scalar("train/lr", result.lr, result.step)

    def _scalar(self, name: str, value: float, step: int) -> None:
        if self.tensorboard is None:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.tensorboard))
        self._writer.add_scalar(name, value, step)
