"""Gradient matching (GM-NAS, Hu et al., ICLR 2022): which decision to split, and how to group its options.

For a decision, each option's gradient of the *shared* parameters (every parameter except the
decision's own ops) is summed over a few batches, with the other decisions sampled once per batch
and the same for every option. Options whose gradients disagree (1 - cosine) should not share
weights: the best bipartition minimises the within-group distance, which is the same as maximising
the cut (the across-group distance), since the two add up to the fixed total. The decision's score
is that cut, and the decision with the largest cut is split first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import ConfigError
from supernets.base import Supernet

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class SplitScore:
    """The best bipartition of one decision's options and its score (the cut)."""

    decision: str
    groups: tuple[tuple[Option, ...], tuple[Option, ...]]
    cut: float
    within: float
    options: tuple[Option, ...]
    distances: tuple[tuple[float, ...], ...]

    def to_json(self) -> dict:
        return {"decision": self.decision, "groups": [list(g) for g in self.groups], "cut": self.cut,
                "within": self.within, "options": list(self.options),
                "distances": [list(row) for row in self.distances]}


def cosine_distances(gradients: Sequence[torch.Tensor]) -> np.ndarray:
    """Matrix of 1 - cosine(g_i, g_j); a zero gradient is at distance 1 from everything else.

    Example:
        >>> g = torch.tensor([1.0, 0.0])
        >>> cosine_distances([g, g, -g]).round(6).tolist()
        [[0.0, 0.0, 2.0], [0.0, 0.0, 2.0], [2.0, 2.0, 0.0]]
    """
    stacked = torch.stack([g.detach().double().flatten() for g in gradients])
    unit = stacked / stacked.norm(dim=1, keepdim=True).clamp_min(1e-30)
    distances = (1.0 - unit @ unit.T).clamp(0.0, 2.0)
    distances.fill_diagonal_(0.0)
    return distances.numpy()


def best_bipartition(distances: np.ndarray) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], float, float]:
    """The split of options ``0..n-1`` into two non-empty groups with the least within-group distance.

    Exhaustive over the 2**(n-1) - 1 bipartitions (15 for 5 options); ties go to the first in a fixed
    order. Returns ((group with option 0, the other group), within-group sum, cut = across-group sum).

    Example:
        >>> d = np.array([[0, 0, 2], [0, 0, 2], [2, 2, 0]], dtype=float)
        >>> best_bipartition(d)
        (((0, 1), (2,)), 0.0, 4.0)
    """
    n = len(distances)
    if n < 2:
        raise ConfigError(f"a bipartition needs at least two options, got {n}")
    best = None
    for a, b in bipartitions(n):
        within = sum(float(distances[i, j]) for g in (a, b) for i, j in itertools.combinations(g, 2))
        cut = sum(float(distances[i, j]) for i in a for j in b)
        if best is None or within < best[1] - 1e-12:
            best = ((a, b), within, cut)
    assert best is not None
    return best


def bipartitions(n: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every split of ``0..n-1`` into two non-empty groups, option 0 in the first (2**(n-1) - 1 of them)."""
    out = []
    for mask in range(2 ** (n - 1)):
        a = (0, *[i for i in range(1, n) if not mask >> (i - 1) & 1])
        b = tuple(i for i in range(1, n) if mask >> (i - 1) & 1)
        if b:
            out.append((a, b))
    return out


@contextmanager
def _frozen_buffers(module: nn.Module):
    """Train-mode forward passes that leave BN running statistics (every buffer) as they were."""
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    was_training = module.training
    try:
        module.train()
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
        module.train(was_training)


def shared_parameters(supernet: Supernet, decision: str) -> list[nn.Parameter]:
    """Every parameter of ``supernet`` except those of ``decision``'s own options."""
    try:
        own = {id(p) for (d, _), params in supernet.option_parameters().items() if d == decision for p in params}
    except NotImplementedError:
        own = set()
    return [p for p in supernet.parameters() if p.requires_grad and id(p) not in own]


def option_gradients(supernet: Supernet, decision: str, options: Sequence[Option], batches: Iterable[Batch],
                     rest: Iterable[Architecture], make: Callable[[Mapping[str, Option]], Architecture],
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                     ) -> list[torch.Tensor]:
    """Per option, the flat gradient of the shared parameters summed over ``batches``.

    ``rest`` gives, per batch, the architecture whose ``decision`` is replaced by each option in turn
    (``make`` builds the architecture from choices). Gradients go to fresh tensors: ``.grad`` and BN
    statistics are left untouched.
    """
    params = shared_parameters(supernet, decision)
    totals = [torch.zeros(sum(p.numel() for p in params), dtype=torch.float64) for _ in options]
    with _frozen_buffers(supernet):
        for (x, y), base in zip(batches, rest):
            for total, option in zip(totals, options):
                loss = loss_fn(supernet(x, make({**base, decision: option})), y)
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                total += torch.cat([(g if g is not None else torch.zeros_like(p)).detach().double().flatten().cpu()
                                    for g, p in zip(grads, params)])
    return totals


def score_decision(supernet: Supernet, decision: str, options: Sequence[Option], batches: Sequence[Batch],
                   rest: Sequence[Architecture], make: Callable[[Mapping[str, Option]], Architecture],
                   loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy) -> SplitScore:
    """Gradient-matching score and best bipartition of ``decision`` (over ``options``, at least two)."""
    options = tuple(options)
    if len(options) < 2:
        raise ConfigError(f"decision {decision!r} has a single option {list(options)} here: there is nothing to "
                          "split; split another decision or use fewer sub-supernets")
    distances = cosine_distances(option_gradients(supernet, decision, options, batches, rest, make, loss_fn))
    (a, b), within, cut = best_bipartition(distances)
    return SplitScore(decision, (tuple(options[i] for i in a), tuple(options[i] for i in b)), cut, within,
                      options, tuple(tuple(float(v) for v in row) for row in distances))
