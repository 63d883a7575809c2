"""The layers zero-cost proxies measure (convolutions and linear layers), and BatchNorm switched off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]
"""Images (N, C, H, W) and their labels (N,)."""


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """Every convolution and linear layer of ``model``, in module order: the layers whose ``weight``
    the zero-cost-proxies authors measure (biases and normalisation parameters are not measured)."""
    return [m for m in model.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@contextmanager
def batchnorm_as_identity(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the block every BatchNorm of ``model`` passes its input through unchanged.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        >>> x = torch.randn(4, 2)
        >>> with batchnorm_as_identity(net):
        ...     torch.equal(net(x), net[0](x))
        True
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.forward = _identity
    try:
        yield model
    finally:
        for norm in norms:
            del norm.forward
