"""ArchitectureGenerator: proposes a child inside a requested complexity bin (ShiftNAS' architecture generator)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nas.architecture import Architecture
from nas.errors import ConfigError
from samplers.path.complexity_bins import ComplexityBins

DECODINGS = ("constrained", "free")


class MonotoneCost:
    """The bins' cost (FLOPs or params) of a child given as option indices, and whether it is *monotone*: every
    decision's options can be ranked so that moving any one decision to a higher-ranked option, all else fixed,
    never lowers the cost. Then the cheapest completion of a partial child takes every remaining decision's
    lowest-ranked option and the dearest its highest-ranked one: exact bounds on the cost of any completion.

    The ranks and the check come from ``probes`` seeded uniform children: each decision's options are ranked by
    their mean cost over the probes (stable), and every probe must be non-decreasing along that rank in every
    decision (all ``probes * total options`` children are costed). A random check, not a proof: the elastic conv
    space is monotone by construction (deeper, larger kernel, larger expand, wider add non-negative terms);
    NAS-Bench-201's ``flops`` and ``params`` sum each edge's own op cost (``none`` and ``skip_connect`` 0,
    ``avg_pool_3x3`` 0 FLOPs, then the 1x1 and 3x3 convolutions), so they are monotone too. A space that fails
    (``monotone`` False, ``violation`` says where) gets no bounds. ``influence`` is each decision's mean cost
    range over the probes relative to their mean cost (how coarse the decision is). Costs are cached by index
    tuple (at most ``cache_size``).

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> cost = MonotoneCost(space, ComplexityBins(space, num_bins=3), probes=8)
        >>> cost.monotone, [space.decisions["1<-0"][i] for i in cost.ranks[0]]
        (True, ['none', 'skip_connect', 'avg_pool_3x3', 'nor_conv_1x1', 'nor_conv_3x3'])
    """

    def __init__(self, space, bins: ComplexityBins, probes: int = 64, seed: int = 0, cache_size: int = 50_000):
        self.space, self.bins, self.cache_size = space, bins, int(cache_size)
        self.names = list(space.decisions)
        self.options = [list(space.decisions[n]) for n in self.names]
        self._cache: dict[tuple[int, ...], float] = {}
        rng = np.random.default_rng([int(seed), 11])
        children = [tuple(int(rng.integers(len(o))) for o in self.options) for _ in range(max(int(probes), 1))]
        self.ranks: list[list[int]] = []
        self.influence = np.zeros(len(self.names))
        self.monotone, self.violation = True, None
        scale = max(float(np.mean([abs(self.cost(c)) for c in children])), 1e-12)
        for d, options in enumerate(self.options):
            costs = np.array([[self.cost(c[:d] + (j,) + c[d + 1:]) for j in range(len(options))] for c in children])
            rank = [int(j) for j in np.argsort(costs.mean(0), kind="stable")]
            self.ranks.append(rank)
            self.influence[d] = float((costs.max(1) - costs.min(1)).mean() / scale)
            steps = np.diff(costs[:, rank], axis=1)
            if self.monotone and (steps < -1e-9 * np.abs(costs).max()).any():
                row = int(np.flatnonzero((steps < -1e-9 * np.abs(costs).max()).any(1))[0])
                self.monotone = False
                self.violation = (f"decision {self.names[d]!r}: cost {costs[row, rank].tolist()} along options "
                                  f"{[options[j] for j in rank]} of probe child {self.child(children[row])}")
        self.low = tuple(r[0] for r in self.ranks)
        self.high = tuple(r[-1] for r in self.ranks)

    def child(self, indices: Sequence[int]) -> Architecture:
        return self.space.make({n: o[int(i)] for n, o, i in zip(self.names, self.options, indices)})

    def cost(self, indices: tuple[int, ...]) -> float:
        """The bins' cost of the child with these option indices (in the space's decision order)."""
        value = self._cache.get(indices)
        if value is None:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            value = self._cache[indices] = float(self.bins.measure(
                self.space.architecture_cls({n: o[i] for n, o, i in zip(self.names, self.options, indices)})))
        return value


class ArchitectureGenerator(nn.Module):
    """An autoregressive model of p(child | bin): decision ``d``'s option distribution depends on the requested
    bin and on the options of the decisions before it (a masked MLP, MADE: Germain et al. 2015), so it can
    steer the cost of the rest of the child towards the bin. ``propose(bins, generator)`` draws one child per
    requested bin, decision by decision.

    ShiftNAS (Zhang et al. 2023) trains an LSTM generator end to end with the supernet through differentiable masks;
    its code is not public. Reconstructed here: the generator is fitted by maximum likelihood (``fit``: full-batch
    Adam on the cross-entropy of every decision) on the bins' architectures (``ComplexityBins.pool``: every
    architecture of a small space, uniform draws of a large one), at most ``per_bin`` of each bin, so that it learns
    the *uniform distribution inside each bin*: diverse children that land in the requested bin (``in_bin_rate``;
    the tests require at least 95%, which constrained decoding, below, secures), unbiased among a bin's children
    rather than taught to prefer the ones with a low loss. A masked MLP replaces the paper's LSTM: one forward pass
    scores every decision of a batch (fitting takes seconds on a CPU).

    Decoding, ``decoding="constrained"`` (the default): where the bins' cost is monotone in every decision
    (``cost_model``, a ``MonotoneCost``: checked on seeded probe children at construction; true of the elastic conv
    space and of NAS-Bench-201's FLOPs and params), each decision's options are masked to those whose cheapest and
    dearest completion (every later decision at its lowest- or highest-cost option) bracket part of the requested
    bin's costs ``[edges[b-1], edges[b])``, and the learned distribution is renormalised over the options left: the
    bin's diversity still comes from the fit, the mask only removes options that cannot reach the bin. The bounds
    are exact but only necessary: the bin can fall between the costs that the options still allow (the last
    decisions take few values), so an option can pass and leave a dead end later; where no option passes, the
    options whose cost range lies nearest the bin are kept (``allowed`` never masks every option) and the child may
    miss the bin. To make such gaps rare the generator decides coarse to fine (its decision order, ``order``, sorts
    the space's decisions by ``MonotoneCost.influence``, descending and stable: NAS-Bench-201's edges, all of equal
    influence, keep their order; the FMNIST elastic conv space starts stage1.depth, width, stage2.depth and ends
    with stage 3's kernels), so that the last decisions only move the cost a little (the MADE factorises p(child |
    bin) in that order; fitting is unchanged). Per decision a few children are costed (``_mask``: cached, each bound
    scanned only until an option passes, none once the partial child's whole cost range lies inside the bin): about
    30 elastic conv FLOP counts per child. ``decoding="free"``, and a space whose cost fails the check
    (``constrained`` False), sample every decision from the generator unmasked, in the space's decision order: the
    earlier behaviour.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace()
        >>> bins = ComplexityBins(space, num_bins=3)
        >>> generator = ArchitectureGenerator(space, bins, hidden_size=32)
        >>> loss = generator.fit(epochs=5, per_bin=50)
        >>> [bins.bin_of(a) for a in generator.propose([0, 2], torch.Generator().manual_seed(0))]
        [0, 2]
    """

    def __init__(self, space, bins: ComplexityBins, hidden_size: int = 256, seed: int = 0,
                 decoding: str = "constrained", probes: int = 64):
        super().__init__()
        if int(hidden_size) < 1:
            raise ConfigError(f"the generator needs hidden_size >= 1, got {hidden_size}")
        if decoding not in DECODINGS:
            raise ConfigError(f"the generator's decoding must be one of {list(DECODINGS)}, got {decoding!r}")
        self.space, self.bins, self.seed, self.decoding = space, bins, int(seed), decoding
        natural = list(space.decisions)
        self.cost_model = MonotoneCost(space, bins, probes, seed) if decoding == "constrained" else None
        self.constrained = self.cost_model is not None and self.cost_model.monotone
        # the generator's decision order: coarse to fine when constrained, else the space's own
        self.order = ([int(d) for d in np.argsort(-self.cost_model.influence, kind="stable")] if self.constrained
                      else list(range(len(natural))))
        self.options = {natural[d]: list(space.decisions[natural[d]]) for d in self.order}
        self._natural = natural
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
        self._position = [self.order.index(d) for d in range(len(natural))]  # space's decision -> generator's
        if self.constrained:  # every later decision at its cheapest / dearest option, in generator order
            self._low = tuple(self.cost_model.low[d] for d in self.order)
            self._high = tuple(self.cost_model.high[d] for d in self.order)
            self._ranks = [self.cost_model.ranks[d] for d in self.order]

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
        """log p(arch | bin) of each pair under the unmasked generator (differentiable)."""
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

    def _completion_cost(self, prefix: tuple[int, ...], tail: tuple[int, ...]) -> float:
        """The cost of the child whose first decisions (generator order) are ``prefix`` and the rest ``tail``."""
        indices = prefix + tail
        return self.cost_model.cost(tuple(indices[p] for p in self._position))

    def bin_range(self, bin_index: int) -> tuple[float, float]:
        """The costs ``[low, high)`` of bin ``bin_index``."""
        edges = self.bins.edges
        return (float(edges[bin_index - 1]) if bin_index > 0 else -np.inf,
                float(edges[bin_index]) if bin_index < len(edges) else np.inf)

    def bounds(self, prefix: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """For each option of the decision after ``prefix`` (option indices of the first ``len(prefix)``
        decisions, generator order): the cost of its cheapest and of its dearest completion."""
        d = len(prefix)
        return (np.array([self._completion_cost(prefix + (j,), self._low[d + 1:]) for j in range(self.sizes[d])]),
                np.array([self._completion_cost(prefix + (j,), self._high[d + 1:]) for j in range(self.sizes[d])]))

    @staticmethod
    def allowed(lows: np.ndarray, highs: np.ndarray, low: float, high: float) -> np.ndarray:
        """Options whose completions' cost range ``[lows, highs]`` meets the bin's ``[low, high)``; where none
        does, those whose range lies nearest it (never none)."""
        meets = (highs >= low) & (lows < high)
        if meets.any():
            return meets
        distance = np.maximum(low - highs, lows - high)
        return distance <= distance.min()

    def _mask(self, prefix: tuple[int, ...], span: tuple[float, float], bin_range: tuple[float, float]):
        """The options allowed after ``prefix`` whose completions cost ``span`` (cheapest, dearest), and each
        option's (cheapest, dearest), or (None, None) where every completion lands in the bin (nothing to mask).

        Both bounds ascend with an option's cost rank, so the options whose cheapest completion is below the
        bin's top are a bottom run of the ranks and those whose dearest reaches its bottom a top run: each side
        is scanned from the far end and stops at the first option that passes (the others are left at -inf or
        +inf, which pass too); a side the whole span already passes is not scanned."""
        (cheapest, dearest), (low, high) = span, bin_range
        if low <= cheapest and dearest < high:
            return None, None
        d = len(prefix)
        rank = self._ranks[d]
        lows, highs = np.full(len(rank), -np.inf), np.full(len(rank), np.inf)
        if dearest >= high:
            for j in reversed(rank):
                lows[j] = self._completion_cost(prefix + (j,), self._low[d + 1:])
                if lows[j] < high:
                    break
        if cheapest < low:
            for j in rank:
                highs[j] = self._completion_cost(prefix + (j,), self._high[d + 1:])
                if highs[j] >= low:
                    break
        return self.allowed(lows, highs, low, high), (lows, highs)

    def propose(self, bins: Sequence[int], generator: torch.Generator) -> list[Architecture]:
        """One child per entry of ``bins``, drawn from the generator, decision by decision; with constrained
        decoding each decision is masked to the options that can still reach the bin (not checked afterwards:
        a dead end can miss it)."""
        condition = torch.as_tensor(list(bins), dtype=torch.long)
        rows = len(condition)
        onehot = torch.zeros(rows, int(self.offsets[-1]))
        prefixes: list[tuple[int, ...]] = [()] * rows
        if self.constrained:
            ranges = [self.bin_range(int(b)) for b in condition]
            spans = [(self._completion_cost((), self._low), self._completion_cost((), self._high))] * rows
        with torch.no_grad():
            for d, size in enumerate(self.sizes):
                start = int(self.offsets[d])
                block = self.logits(onehot, condition)[:, start:start + size]
                if self.constrained:
                    masks = [self._mask(prefix, span, r) for prefix, span, r in zip(prefixes, spans, ranges)]
                    if any(m is not None for m, _ in masks):
                        allowed = torch.ones(rows, size, dtype=torch.bool)
                        for row, (m, _) in enumerate(masks):
                            if m is not None:
                                allowed[row] = torch.from_numpy(m)
                        block = block.masked_fill(~allowed, -torch.inf)
                chosen = torch.multinomial(torch.softmax(block, -1), 1, generator=generator).squeeze(1).tolist()
                onehot[torch.arange(rows), [start + j for j in chosen]] = 1.0
                if self.constrained:
                    tail_low, tail_high = self._low[d + 1:], self._high[d + 1:]
                    for row, ((_, costs), j) in enumerate(zip(masks, chosen)):
                        if costs is not None:  # the chosen option's cost range, computing a side skipped above
                            cheapest, dearest, child = float(costs[0][j]), float(costs[1][j]), prefixes[row] + (j,)
                            spans[row] = (cheapest if np.isfinite(cheapest) else self._completion_cost(child, tail_low),
                                          dearest if np.isfinite(dearest) else self._completion_cost(child, tail_high))
                prefixes = [prefix + (j,) for prefix, j in zip(prefixes, chosen)]
        return [self.space.make({n: self.space.decisions[n][prefix[p]] for n, p in zip(self._natural, self._position)})
                for prefix in prefixes]

    def in_bin_rate(self, bin_index: int, n: int = 1000, seed: int = 0) -> float:
        """The share of ``n`` proposals for ``bin_index`` that fall in it."""
        archs = self.propose([bin_index] * int(n), torch.Generator().manual_seed(int(seed)))
        return sum(self.bins.bin_of(a) == bin_index for a in archs) / len(archs)
