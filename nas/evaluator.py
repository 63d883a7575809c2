"""Evaluator: scores children with inherited weights, fast and cached."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack, contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.progress import track
from supernets.base import Supernet

BN_POLICIES = ("recalibrate", "batch_stats", "running_stats")
METRICS = ("accuracy", "loss")
"""What a score is: ``accuracy`` in %, or ``loss``: minus the mean cross-entropy (higher is better)."""


class Evaluator:
    """The score of any child on a held-out split, with the supernet's inherited weights.

    ``metric``: ``"accuracy"`` (%, the default) or ``"loss"``: minus the mean cross-entropy over the
    valid images, so that higher is better for both.

    BatchNorm policy (``bn_policy``):
      - ``"recalibrate"``: reset the running statistics, re-estimate them on ``recalibration_batches``
        fixed batches of training images with the child's path, then evaluate in eval mode;
      - ``"batch_stats"``: evaluate with each evaluation batch's own statistics;
      - ``"running_stats"``: use the statistics accumulated during supernet training as they are.
    Only the BatchNorm layers run in training mode (for recalibration and batch statistics); every
    other module stays in eval mode, so stochastic training heuristics (path dropout) never act while
    scoring. A supernet whose BatchNorm layers keep no running statistics (NAS-Bench-201's
    ``bn_track_running_stats=False``) always normalises with batch statistics: only ``batch_stats``
    says so, the other policies are refused. The supernet's own running statistics are restored after
    scoring.

    Snapshot ensemble (``snapshots`` = K >= 2): ``snapshot_supernets`` holds K - 1 earlier weights of the
    same supernet (the last epochs' snapshots, ``nas.training.snapshots``), and a child's score is the
    mean of its scores on ``supernet`` (the final weights) and on each of them; K = 0 or 1 scores the
    final weights only. Scores are cached by architecture; ``state_dict()`` holds the cache.

    Under torchrun the evaluator runs on rank 0 alone (`nas run` searches there after every rank trained), on
    the full recalibration set, so recalibrated statistics are exactly those of one process on the union of
    the recalibration data.

    Example:
        >>> from nas.data import synthetic
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> data = synthetic()
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> evaluator = Evaluator(space.build_supernet(), data.valid, data.train, recalibration_batch_size=64,
        ...                       progress=False)
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> 0.0 <= evaluator.score(arch) <= 100.0 and arch in evaluator.cache
        True
        >>> by_loss = Evaluator(evaluator.supernet, data.valid, data.train, recalibration_batch_size=64,
        ...                     metric="loss", progress=False)
        >>> by_loss.score(arch) < 0      # minus the mean cross-entropy
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
        metric: str = "accuracy",
        snapshots: int = 0,
        snapshot_supernets: Sequence[Supernet] = (),
    ):
        if bn_policy not in BN_POLICIES:
            raise ConfigError(f"unknown bn_policy {bn_policy!r}; choose one of {list(BN_POLICIES)}")
        if metric not in METRICS:
            raise ConfigError(f"unknown evaluator metric {metric!r}; choose one of {list(METRICS)}")
        if bn_policy == "recalibrate" and (train_data is None or recalibration_batches < 1):
            raise ConfigError("bn_policy='recalibrate' needs train_data and recalibration_batches >= 1")
        snapshot_supernets = list(snapshot_supernets)
        if len(snapshot_supernets) != max(int(snapshots) - 1, 0):
            raise ConfigError(f"evaluator.snapshots={snapshots} averages the final weights and {max(snapshots - 1, 0)} "
                              f"earlier snapshots, got {len(snapshot_supernets)} snapshot supernets: load them with "
                              "nas.training.load_snapshots(run_folder, space.build_supernet, snapshots)")
        self.supernet = supernet
        self.metric = metric
        self.device = torch.device(device) if device is not None else next(supernet.parameters()).device
        self.supernets = [supernet, *(net.to(self.device) for net in snapshot_supernets)]
        """The final weights first, then the snapshots: a child's score is the mean over them."""
        untracked = sum(1 for net in self.supernets for m in _batch_norms(net) if not m.track_running_stats)
        if untracked and bn_policy != "batch_stats":
            raise ConfigError(
                f"{untracked} BatchNorm layers of the supernet keep no running statistics (built with "
                f"search_space.bn_track_running_stats=false): they always normalise with batch statistics, so "
                f"bn_policy={bn_policy!r} cannot apply to them; use evaluator.bn_policy=batch_stats")
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
        self._norms = _batch_norms(supernet)
        self._net_norms = [self._norms, *(_batch_norms(net) for net in self.supernets[1:])]

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
                for arch in track(todo, desc, unit="child", enabled=self.progress):
                    self.cache[arch] = self._score(arch)
        return [self.cache[a] for a in archs]

    def score_relaxed(self, weights: Mapping[str, torch.Tensor]) -> float:
        """The score of the relaxed supernet, every option of every decision weighted by ``weights``
        (``Relaxable.forward_relaxed``): what a gradient-based search trains before it discretises. The same
        images, BatchNorm policy and metric as ``score``; not cached, final weights only. One-hot weights score
        exactly as ``score`` scores that child (tests/nas/test_evaluator.py)."""
        with self._preserved_norm_state():
            return self._score_on(_RelaxedForward(self.supernet, weights), self._norms, None)

    def _score(self, arch: Architecture) -> float:
        scores = [self._score_on(net, norms, arch) for net, norms in zip(self.supernets, self._net_norms)]
        return scores[0] if len(scores) == 1 else sum(scores) / len(scores)

    @torch.no_grad()
    def _score_on(self, net: Supernet, norms: list[nn.Module], arch: Architecture) -> float:
        if self.bn_policy == "recalibrate":
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # cumulative average over the recalibration batches
            _norms_in_training_mode(net, norms)
            for x in self.recalibration:
                net(x, arch)
            net.eval()
        elif self.bn_policy == "batch_stats":
            _norms_in_training_mode(net, norms)
            for norm in norms:
                norm.momentum = 0.0  # use batch statistics, leave running statistics untouched
        else:
            net.eval()
        total = 0.0
        for start in range(0, len(self.valid_y), self.batch_size):
            logits = net(self.valid_x[start : start + self.batch_size], arch)
            labels = self.valid_y[start : start + self.batch_size]
            if self.metric == "accuracy":
                total += int((logits.argmax(1) == labels).sum())
            else:
                total += float(F.cross_entropy(logits.float(), labels, reduction="sum"))
        if self.metric == "accuracy":
            return 100.0 * total / len(self.valid_y)
        return -total / len(self.valid_y)

    @contextmanager
    def _preserved_norm_state(self):
        with ExitStack() as stack:
            for net, norms in zip(self.supernets, self._net_norms):
                stack.enter_context(_preserved(net, norms))
            yield


class _RelaxedForward:
    """``net(x, arch)`` for the scoring loop: the supernet's relaxed forward at fixed option weights."""

    def __init__(self, supernet: Supernet, weights: Mapping[str, torch.Tensor]):
        self.supernet, self.weights = supernet, dict(weights)

    def __call__(self, x: torch.Tensor, arch: Architecture | None) -> torch.Tensor:
        return self.supernet.forward_relaxed(x, self.weights)

    def eval(self) -> None:
        self.supernet.eval()


def _batch_norms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _norms_in_training_mode(net: nn.Module, norms: list[nn.Module]) -> None:
    """BatchNorm layers in training mode (batch statistics), every other module in eval mode."""
    net.eval()
    for norm in norms:
        norm.train()


@contextmanager
def _preserved(net: nn.Module, norms: list[nn.modules.batchnorm._BatchNorm]):
    """Restore ``net``'s training flag and its BatchNorm momenta and running statistics on exit."""
    was_training = net.training
    saved = [(m.momentum, m.running_mean.clone() if m.running_mean is not None else None,
              m.running_var.clone() if m.running_var is not None else None,
              m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in norms]
    try:
        yield
    finally:
        for m, (momentum, mean, var, count) in zip(norms, saved):
            m.momentum = momentum
            if mean is not None:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
            if count is not None:
                m.num_batches_tracked.copy_(count)
        net.train(was_training)
