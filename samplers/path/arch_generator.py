"""ArchitectureGenerator: proposes a child inside a requested complexity bin (ShiftNAS' architecture generator)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError
from samplers.path.complexity_bins import ComplexityBins


class ArchitectureGenerator(nn.Module):
    """An autoregressive model of p(child | bin): decision ``d``'s option distribution depends on the requested
    bin and on the options of the decisions before it (a masked MLP, MADE: Germain et al. 2015), so it can
    steer the cost of the rest of the child towards the bin. ``propose(bins, generator)`` draws one child per
    requested bin, decision by decision.

    ShiftNAS (Zhang et al. 2023) trains an LSTM generator end to end with the supernet through differentiable
    masks; its code is not public. Reconstructed here: the generator is fitted by maximum likelihood (``fit``:
    full-batch Adam on the cross-entropy of every decision) on the bins' architectures (``ComplexityBins.pool``:
    every architecture of a small space, uniform draws of a large one), at most ``per_bin`` of each bin, so that
    it learns the *uniform distribution inside each bin*: diverse children that land in the requested bin
    (``in_bin_rate``; the tests require at least 95%), unbiased among a bin's children rather than taught to
    prefer the ones with a low loss. A masked MLP replaces the paper's LSTM: one forward pass scores every
    decision of a batch (fitting takes seconds on a CPU).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> bins = ComplexityBins(space, num_bins=3)
        >>> generator = ArchitectureGenerator(space, bins, hidden_size=32)
        >>> loss = generator.fit(epochs=5, per_bin=50)
        >>> [bins.bin_of(a) in (0, 1, 2) for a in generator.propose([0, 2], torch.Generator().manual_seed(0))]
        [True, True]
    """

    def __init__(self, space, bins: ComplexityBins, hidden_size: int = 256, seed: int = 0):
        super().__init__()
        if int(hidden_size) < 1:
            raise ConfigError(f"the generator needs hidden_size >= 1, got {hidden_size}")
        self.space, self.bins, self.seed = space, bins, int(seed)
        self.options = {name: list(options) for name, options in space.decisions.items()}
        sizes = [len(o) for o in self.options.values()]
        self.sizes, self.offsets = sizes, np.cumsum([0] + sizes)
        width, decisions = int(self.offsets[-1]), len(sizes)
        # MADE degrees: input unit of decision i has degree i + 1; hidden units degrees 0..D-1 (0 sees the bin only);
        # the logits of decision d see hidden units of degree <= d, i.e. decisions before d only
        input_degree = torch.repeat_interleave(torch.arange(1, decisions + 1), torch.tensor(sizes))
        hidden_degree = torch.arange(int(hidden_size)) % max(decisions, 1)
        output_degree = torch.repeat_interleave(torch.arange(decisions), torch.tensor(sizes))
        self.register_buffer("mask_in", (hidden_degree[:, None] >= input_degree[None, :]).float())
        self.register_buffer("mask_out", (output_degree[:, None] >= hidden_degree[None, :]).float())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.inputs = nn.Linear(width, int(hidden_size))
            self.condition = nn.Embedding(bins.num_bins, int(hidden_size))
            self.outputs = nn.Linear(int(hidden_size), width)
            self.direct = nn.Embedding(bins.num_bins, width)  # the bin's own bias on every option
            nn.init.zeros_(self.direct.weight)

    def logits(self, onehot: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        """(batch, total options): decision ``d``'s block depends on ``bins`` and the one-hots of decisions < d."""
        hidden = torch.relu(nn.functional.linear(onehot, self.inputs.weight * self.mask_in, self.inputs.bias)
                            + self.condition(bins))
        return nn.functional.linear(hidden, self.outputs.weight * self.mask_out, self.outputs.bias) + self.direct(bins)

    def _onehot(self, archs: Sequence[Architecture]) -> torch.Tensor:
        out = torch.zeros(len(archs), int(self.offsets[-1]))
        for row, arch in enumerate(archs):
            for d, (name, options) in enumerate(self.options.items()):
                out[row, int(self.offsets[d]) + options.index(arch[name])] = 1.0
        return out

    def log_prob(self, archs: Sequence[Architecture], bins: Sequence[int]) -> torch.Tensor:
        """log p(arch | bin) of each pair (differentiable)."""
        onehot = self._onehot(archs)
        logits = self.logits(onehot, torch.as_tensor(list(bins), dtype=torch.long))
        total = torch.zeros(len(archs))
        for d, size in enumerate(self.sizes):
            block = slice(int(self.offsets[d]), int(self.offsets[d]) + size)
            total = total + (torch.log_softmax(logits[:, block], -1) * onehot[:, block]).sum(-1)
        return total

    def fit(self, epochs: int = 300, per_bin: int = 2000, lr: float = 0.01) -> float:
        """Maximum likelihood on at most ``per_bin`` architectures of every bin (drawn with ``seed``); returns
        the final mean negative log-likelihood per child."""
        if int(epochs) < 1 or int(per_bin) < 1:
            raise ConfigError(f"the generator needs epochs >= 1 and per_bin >= 1, got {epochs} and {per_bin}")
        rng = np.random.default_rng([self.seed, 7])
        archs, labels = [], []
        for b in range(self.bins.num_bins):
            members = np.flatnonzero(self.bins.pool_bins == b)
            chosen = rng.choice(members, size=min(int(per_bin), len(members)), replace=False)
            archs += [self.bins.pool[int(i)] for i in chosen]
            labels += [b] * len(chosen)
        onehot, bins = self._onehot(archs), torch.as_tensor(labels, dtype=torch.long)
        target = [onehot[:, int(self.offsets[d]):int(self.offsets[d]) + s].argmax(1) for d, s in enumerate(self.sizes)]
        optimizer = torch.optim.Adam(self.parameters(), lr=float(lr))
        loss = torch.tensor(0.0)
        for _ in range(int(epochs)):
            optimizer.zero_grad()
            logits = self.logits(onehot, bins)
            loss = sum(nn.functional.cross_entropy(logits[:, int(self.offsets[d]):int(self.offsets[d]) + s], target[d])
                       for d, s in enumerate(self.sizes))
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    def propose(self, bins: Sequence[int], generator: torch.Generator) -> list[Architecture]:
        """One child per entry of ``bins``, drawn from the generator (not checked against the bin)."""
        condition = torch.as_tensor(list(bins), dtype=torch.long)
        onehot = torch.zeros(len(condition), int(self.offsets[-1]))
        with torch.no_grad():
            for d, size in enumerate(self.sizes):
                start = int(self.offsets[d])
                probs = torch.softmax(self.logits(onehot, condition)[:, start:start + size], -1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                onehot[torch.arange(len(condition)), start + chosen] = 1.0
        names = list(self.options)
        picked = [onehot[:, int(self.offsets[d]):int(self.offsets[d]) + s].argmax(1) for d, s in enumerate(self.sizes)]
        return [self.space.make({n: self.options[n][int(picked[d][row])] for d, n in enumerate(names)})
                for row in range(len(condition))]

    def in_bin_rate(self, bin_index: int, n: int = 1000, seed: int = 0) -> float:
        """The share of ``n`` proposals for ``bin_index`` that fall in it."""
        archs = self.propose([bin_index] * int(n), torch.Generator().manual_seed(int(seed)))
        return sum(self.bins.bin_of(a) == bin_index for a in archs) / len(archs)
