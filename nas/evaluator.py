"""Evaluator: scores children with inherited weights, fast and cached."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import contextmanager

import torch
from torch import nn
from tqdm.auto import tqdm

from nas.architecture import Architecture
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from supernets.base import Supernet

BN_POLICIES = ("recalibrate", "batch_stats", "running_stats")


class Evaluator:
    """Accuracy (%) of any child on a held-out split, with the supernet's inherited weights.

    BatchNorm policy (``bn_policy``):
      - ``"recalibrate"``: reset the running statistics, re-estimate them on ``recalibration_batches``
        fixed batches of training images with the child's path, then evaluate in eval mode;
      - ``"batch_stats"``: evaluate with each evaluation batch's own statistics;
      - ``"running_stats"``: use the statistics accumulated during supernet training as they are.
    The supernet's own running statistics are restored after scoring. Scores are cached by
    architecture; ``state_dict()`` holds the cache.

    Example:
        >>> from nas.data import synthetic
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic()
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> evaluator = Evaluator(space.build_supernet(), data.valid, data.train, progress=False)
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> 0.0 <= evaluator.score(arch) <= 100.0 and arch in evaluator.cache
        True
    """

    def __init__(
        self,
        supernet: Supernet,
        valid_data: TensorSplit,
        train_data: TensorSplit | None = None,
        valid_size: int | None = 5_000,
        bn_policy: str = "recalibrate",
        recalibration_batches: int = 4,
        recalibration_batch_size: int = 256,
        batch_size: int = 2_000,
        seed: int = 0,
        device: str | torch.device | None = None,
        progress: bool = True,
    ):
        if bn_policy not in BN_POLICIES:
            raise ConfigError(f"unknown bn_policy {bn_policy!r}; choose one of {list(BN_POLICIES)}")
        if bn_policy == "recalibrate" and (train_data is None or recalibration_batches < 1):
            raise ConfigError("bn_policy='recalibrate' needs train_data and recalibration_batches >= 1")
        self.supernet = supernet
        self.device = torch.device(device) if device is not None else next(supernet.parameters()).device
        valid = valid_data.head(valid_size)
        self.valid_x, self.valid_y = valid.x.to(self.device), valid.y.to(self.device)
        self.bn_policy = bn_policy
        self.batch_size = int(batch_size)
        self.recalibration: list[torch.Tensor] = []
        if bn_policy == "recalibrate":
            generator = torch.Generator().manual_seed(seed)
            need = recalibration_batches * recalibration_batch_size
            if len(train_data) < need:
                raise ConfigError(
                    f"BN recalibration needs {need} training images ({recalibration_batches} x "
                    f"{recalibration_batch_size}), the split has {len(train_data)}"
                )
            picks = torch.randperm(len(train_data), generator=generator)[:need]
            self.recalibration = list(train_data.x[picks].to(self.device).split(recalibration_batch_size))
        self.progress = progress
        self.cache: dict[Architecture, float] = {}
        self._norms = [m for m in supernet.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def state_dict(self) -> dict:
        return {"cache": {arch.to_json(): score for arch, score in self.cache.items()}}

    def load_state_dict(self, state: dict, arch_type: type[Architecture] = Architecture) -> None:
        self.cache = {arch_type.from_json(text): float(score) for text, score in state["cache"].items()}

    def clear(self) -> None:
        """Forget cached scores (after the supernet's weights change)."""
        self.cache.clear()

    def score(self, arch: Architecture) -> float:
        if arch not in self.cache:
            with self._preserved_norm_state():
                self.cache[arch] = self._score(arch)
        return self.cache[arch]

    def score_many(self, archs: Iterable[Architecture], desc: str = "scoring children") -> list[float]:
        archs = list(archs)
        todo = [a for a in dict.fromkeys(archs) if a not in self.cache]
        if todo:
            with self._preserved_norm_state():
                for arch in tqdm(todo, desc=desc, unit="child", disable=not self.progress, file=sys.stderr,
                                 dynamic_ncols=True):
                    self.cache[arch] = self._score(arch)
        return [self.cache[a] for a in archs]

    @torch.no_grad()
    def _score(self, arch: Architecture) -> float:
        net = self.supernet
        if self.bn_policy == "recalibrate":
            for norm in self._norms:
                norm.reset_running_stats()
                norm.momentum = None  # cumulative average over the recalibration batches
            net.train()
            for x in self.recalibration:
                net(x, arch)
            net.eval()
        elif self.bn_policy == "batch_stats":
            net.train()
            for norm in self._norms:
                norm.momentum = 0.0  # use batch statistics, leave running statistics untouched
        else:
            net.eval()
        correct = 0
        for start in range(0, len(self.valid_y), self.batch_size):
            logits = net(self.valid_x[start : start + self.batch_size], arch)
            correct += int((logits.argmax(1) == self.valid_y[start : start + self.batch_size]).sum())
        return 100.0 * correct / len(self.valid_y)

    @contextmanager
    def _preserved_norm_state(self):
        was_training = self.supernet.training
        saved = [(m.momentum, m.running_mean.clone() if m.running_mean is not None else None,
                  m.running_var.clone() if m.running_var is not None else None,
                  m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
                 for m in self._norms]
        try:
            yield
        finally:
            for m, (momentum, mean, var, count) in zip(self._norms, saved):
                m.momentum = momentum
                if mean is not None:
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
                if count is not None:
                    m.num_batches_tracked.copy_(count)
            self.supernet.train(was_training)
