"""Router: a small MLP from an architecture's encoding to mixing weights over the experts of every
routed layer (layer-wise or neuron-wise, as the Mixture-of-Supernets paper)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas.errors import ConfigError
from supernets.mixture.spec import ROUTER_KINDS


class Router(nn.Module):
    """``encoding -> Linear -> ReLU -> Linear`` -> per routed layer an ``(experts, groups)`` tensor whose
    columns are softmaxes over the experts.

    ``outputs[l]`` is the number of output neurons of routed layer ``l`` (at its largest size). With
    ``kind="layer"`` each layer gets one mixing vector (``groups = 1``); with ``kind="neuron"`` each of
    its output neurons gets its own (``groups = outputs[l]``; a child using the first ``n`` neurons
    uses the first ``n`` columns). Parameters: ``(encoding + 1) * hidden + (hidden + 1) * experts *
    sum(groups)``.

    Example:
        >>> router = Router(encoding_size=3, outputs=[4, 2], experts=2, kind="neuron", hidden=8)
        >>> alphas = router(torch.tensor([0.5, 1.0, 0.0]))
        >>> [tuple(a.shape) for a in alphas]
        [(2, 4), (2, 2)]
        >>> bool(torch.allclose(alphas[0].sum(0), torch.ones(4)))
        True
        >>> sum(p.numel() for p in router.parameters()) == (3 + 1) * 8 + (8 + 1) * 2 * (4 + 2)
        True
    """

    def __init__(self, encoding_size: int, outputs: Sequence[int], experts: int, kind: str = "layer",
                 hidden: int = 64):
        super().__init__()
        if kind not in ROUTER_KINDS:
            raise ConfigError(f"unknown router kind {kind!r}; use one of {list(ROUTER_KINDS)}")
        if not outputs or any(int(n) < 1 for n in outputs):
            raise ConfigError(f"a router needs at least one routed layer with outputs, got {list(outputs)}")
        self.kind, self.experts = kind, int(experts)
        self.groups = tuple(1 if kind == "layer" else int(n) for n in outputs)
        self.net = nn.Sequential(nn.Linear(encoding_size, hidden), nn.ReLU(),
                                 nn.Linear(hidden, self.experts * sum(self.groups)))

    def forward(self, encoding: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per routed layer, the ``(experts, groups)`` mixing weights (each column sums to 1)."""
        alphas = self.net(encoding).view(self.experts, -1).softmax(dim=0)
        return torch.split(alphas, self.groups, dim=1)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, experts={self.experts}, layers={len(self.groups)}, groups={sum(self.groups)}"
