"""ShiftNASPathSampler: complexity bins whose sampling probability shifts to where subnets still improve."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from nas.training.feedback import StepFeedback
from samplers.path.arch_generator import ArchitectureGenerator
from samplers.path.base import PathSampler
from samplers.path.complexity_bins import ComplexityBins


class ShiftNASPathSampler(PathSampler):
    """ShiftNAS (Zhang et al., ICCV 2023): each step draws a complexity bin, then asks an architecture generator
    for a child inside it; the bins' probabilities shift towards the bins whose children still improve.

    The space is cut into ``num_bins`` bins of about equal share by ``cost`` (``ComplexityBins``). Bin ``b`` is
    drawn with probability ``(1 - floor) * softmax(logits)_b + floor / num_bins`` (the ``floor``: no bin
    starves), then the ``ArchitectureGenerator`` (fitted at construction to propose children uniformly inside a
    bin; ``decoding="constrained"`` masks, decision by decision, the options that cannot reach the bin) proposes
    a child for it, redrawn up to ``max_tries`` times until it falls in the bin, else a uniform child of the
    bin's pool. Every step's training loss of the child is credited to its bin (``needs =
    {"losses"}``); every ``update_every`` steps each bin's *improvement*, its mean loss over the previous window
    minus over this one, is standardised across bins (a bin without losses in both windows counts as the mean)
    and the logits move by ``shift_lr`` times it: bins that still improve get trained more, saturated ones less.

    Reconstructed (ShiftNAS' code is not public; the paper trains both parts end to end with gradients): the
    improvement signal and the standardised logit step stand for the paper's gradient-based probability shift,
    and the generator is fitted by maximum likelihood to the uniform distribution inside each bin instead of
    being trained with the supernet's loss (see ``ArchitectureGenerator``).

    Draws are a pure function of (seed, step, logits): resume is exact (the state holds the logits, the
    windows' losses and the generator's weights).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = ShiftNASPathSampler(NB201SearchSpace(), num_bins=3, generator_epochs=20, per_bin=100,
        ...                               update_every=2)
        >>> sampler.sample(4) == sampler.sample(4), np.round(sampler.probabilities(), 3).tolist()
        (True, [0.333, 0.333, 0.333])
    """

    needs: ClassVar[frozenset[str]] = frozenset({"losses"})

    def __init__(self, space: SearchSpace, seed: int = 0, num_bins: int = 5, cost: str = "flops", floor: float = 0.2,
                 shift_lr: float = 0.5, update_every: int = 200, pool_size: int = 5000, hidden_size: int = 256,
                 generator_epochs: int = 300, per_bin: int = 1000, max_tries: int = 20,
                 decoding: str = "constrained"):
        super().__init__(space, seed)
        if not 0.0 <= float(floor) <= 1.0 or not float(shift_lr) >= 0.0:
            raise ConfigError(f"floor must be in [0, 1] and shift_lr >= 0, got floor={floor}, shift_lr={shift_lr}")
        if int(update_every) < 1 or int(max_tries) < 1:
            raise ConfigError(f"update_every and max_tries must be >= 1, got {update_every} and {max_tries}")
        self.floor, self.shift_lr = float(floor), float(shift_lr)
        self.update_every, self.max_tries = int(update_every), int(max_tries)
        self.bins = ComplexityBins(space, num_bins, cost, pool_size, seed)
        self.generator = ArchitectureGenerator(space, self.bins, hidden_size, seed, decoding)
        self.generator_loss = self.generator.fit(generator_epochs, per_bin)
        self.logits = np.zeros(self.bins.num_bins)
        self.sums = np.zeros(self.bins.num_bins)
        self.counts = np.zeros(self.bins.num_bins)
        self.previous = np.full(self.bins.num_bins, np.nan)  # each bin's mean loss over the last full window
        self.fallbacks = 0
        self._bin_cache: dict[Architecture, int] = {}

    def probabilities(self) -> np.ndarray:
        """Each bin's probability: the floor's uniform share plus the rest by softmax of the logits."""
        weights = np.exp(self.logits - self.logits.max())
        return (1.0 - self.floor) * weights / weights.sum() + self.floor / self.bins.num_bins

    def bin_of(self, arch: Architecture) -> int:
        if arch not in self._bin_cache:
            self._bin_cache[arch] = self.bins.bin_of(arch)
        return self._bin_cache[arch]

    def sample(self, step: int) -> list[Architecture]:
        rng = self.rng(step)
        wanted = int(rng.choice(self.bins.num_bins, p=self.probabilities()))
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        for _ in range(self.max_tries):
            arch = self.generator.propose([wanted], generator)[0]
            if self.bin_of(arch) == wanted:
                return [arch]
        self.fallbacks += 1
        members = np.flatnonzero(self.bins.pool_bins == wanted)
        return [self.bins.pool[int(members[int(rng.integers(len(members)))])]]

    def observe(self, feedback: StepFeedback) -> None:
        for arch, loss in zip(feedback.archs, feedback.losses or []):
            b = self.bin_of(arch)
            self.sums[b] += float(loss)
            self.counts[b] += 1
        if (feedback.step + 1) % self.update_every == 0:
            self.shift()

    def shift(self) -> np.ndarray:
        """Close the window: move the logits by the bins' standardised improvement; returns the improvement."""
        with np.errstate(invalid="ignore", divide="ignore"):
            current = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), np.nan)
        improvement = self.previous - current
        known = np.isfinite(improvement)
        if known.any():
            improvement = np.where(known, improvement, improvement[known].mean())
            std = improvement.std()
            if std > 0:
                self.logits = self.logits + self.shift_lr * (improvement - improvement.mean()) / std
        self.previous = np.where(np.isfinite(current), current, self.previous)
        self.sums[:], self.counts[:] = 0.0, 0.0
        return improvement

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "logits": self.logits.tolist(), "sums": self.sums.tolist(),
                "counts": self.counts.tolist(), "previous": self.previous.tolist(), "fallbacks": self.fallbacks,
                "generator": self.generator.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if len(state["logits"]) != self.bins.num_bins:
            raise ConfigError(f"the saved ShiftNAS state has {len(state['logits'])} bins, this sampler "
                              f"{self.bins.num_bins}: resume with the same path_sampler.num_bins")
        self.logits = np.array(state["logits"], float)
        self.sums, self.counts = np.array(state["sums"], float), np.array(state["counts"], float)
        self.previous = np.array(state["previous"], float)
        self.fallbacks = int(state["fallbacks"])
        self.generator.load_state_dict(state["generator"])
