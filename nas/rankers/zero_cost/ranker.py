"""ZeroCostRanker: a zero-cost proxy of a freshly initialised child on a few fixed training batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nas.architecture import Architecture
from nas.data.splits import TensorSplit
from nas.errors import ConfigError
from nas.rankers.base import PointwiseRanker
from nas.rankers.zero_cost.fisher import fisher
from nas.rankers.zero_cost.grad_norm import grad_norm
from nas.rankers.zero_cost.jacob_cov import jacob_cov
from nas.rankers.zero_cost.layers import Batch
from nas.rankers.zero_cost.naswot import naswot
from nas.rankers.zero_cost.snip import snip
from nas.rankers.zero_cost.synflow import synflow
from nas.search_space import SearchSpace

Proxy = Callable[[nn.Module, Sequence[Batch]], float]
"""``proxy(fresh_model, batches) -> score``; higher predicts a better architecture."""

PROXIES: dict[str, Proxy] = {
    "synflow": synflow,
    "naswot": naswot,
    "jacob_cov": jacob_cov,
    "snip": snip,
    "grad_norm": grad_norm,
    "fisher": fisher,
}
"""The zero-cost proxies by name."""


def draw_batches(split: TensorSplit, batches: int, batch_size: int, seed: int) -> list[Batch]:
    """``batches`` batches of ``batch_size`` distinct images of ``split``, drawn by ``seed``.

    >>> split = TensorSplit(torch.arange(10.0).reshape(10, 1, 1, 1), torch.arange(10))
    >>> batches = draw_batches(split, 2, 3, seed=0)
    >>> [tuple(y.shape) for _, y in batches], len({int(i) for _, y in batches for i in y})  # 6 distinct images
    ([(3,), (3,)], 6)
    """
    need = int(batches) * int(batch_size)
    if batches < 1 or batch_size < 1:
        raise ConfigError(f"zero-cost proxies need batches >= 1 and batch_size >= 1, got {batches} and {batch_size}")
    if need > len(split):
        raise ConfigError(f"zero-cost proxies asked for {batches} x {batch_size} images, the split has {len(split)}")
    picks = torch.randperm(len(split), generator=torch.Generator().manual_seed(int(seed)))[:need]
    return [(split.x[p], split.y[p]) for p in picks.split(int(batch_size))]


class ZeroCostRanker(PointwiseRanker):
    """Scores each child by a zero-cost proxy of a freshly initialised standalone model.

    For every child the model is ``space.build_model(arch)`` built under ``torch.manual_seed(seed)``
    (the global RNG is left as it was), in training mode, and sees the same ``batches`` x
    ``batch_size`` training images drawn by ``seed``. So scores are deterministic under a seed and
    each child's cost (measured, model construction included) is one proxy evaluation.

    Example:
        >>> from nas.data import synthetic
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> ranker = ZeroCostRanker(space, "synflow", synthetic().train, batch_size=8)
        >>> cells = [space.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"),
        ...          space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")]
        >>> connected, disconnected = ranker.score(cells)
        >>> connected > disconnected == 0.0
        True
    """

    def __init__(self, space: SearchSpace, proxy: str, data: TensorSplit, batches: int = 1, batch_size: int = 64,
                 seed: int = 0, name: str | None = None, device: str = "cpu", progress: bool = False):
        if proxy not in PROXIES:
            raise ConfigError(f"unknown zero-cost proxy {proxy!r}; choose one of {list(PROXIES)}")
        images = "an all-ones input" if proxy == "synflow" else f"{batches * batch_size} training images"
        super().__init__(name or proxy, f"fresh init (seed {seed}), {images}", progress)
        self.space = space
        self.proxy = proxy
        self.seed = int(seed)
        self.device = torch.device(device)
        self.batches = [(x.to(self.device), y.to(self.device))
                        for x, y in draw_batches(data, batches, batch_size, seed)]

    def build(self, arch: Architecture) -> nn.Module:
        """The fresh model the proxy sees: seeded, on the ranker's device, in training mode."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self.space.build_model(arch)
        return model.to(self.device).train()

    def score_one(self, arch: Architecture) -> float:
        return PROXIES[self.proxy](self.build(arch), self.batches)
