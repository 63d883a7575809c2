"""ElasticDepthwiseConv2d: a depthwise convolution with elastic channels and kernel size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size
from supernets.elastic.kernel import ElasticKernel


class ElasticDepthwiseConv2d(nn.Module):
    """One filter per channel (``groups = channels``), ``max_channels x 1 x K x K`` stored.

    ``forward(x, kernel_size)`` runs the first ``x.shape[1]`` filters at the centre
    ``kernel_size`` crop (optionally transformed, see ``ElasticKernel``), padding ``k // 2``.

    Example:
        >>> dw = ElasticDepthwiseConv2d(8, kernel_sizes=(3, 5, 7), stride=2)
        >>> x = torch.randn(2, 6, 8, 8)
        >>> dw(x, kernel_size=5).shape
        torch.Size([2, 6, 4, 4])
        >>> torch.allclose(dw.export(6, 5)(x), dw(x, 5))
        True
    """

    def __init__(self, max_channels: int, kernel_sizes: Sequence[int] = (3,), stride: int = 1,
                 kernel_transform: bool = False):
        super().__init__()
        self.kernel = ElasticKernel(kernel_sizes, kernel_transform)
        self.max_channels, self.stride = int(max_channels), int(stride)
        k = self.kernel.max_size
        self.weight = nn.Parameter(torch.empty(self.max_channels, 1, k, k))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Conv2d's initialisation

    def active_weight(self, channels: int, kernel_size: int) -> torch.Tensor:
        check_size(type(self).__name__, "channels", channels, self.max_channels)
        return self.kernel(self.weight[:channels], kernel_size)

    def forward(self, x: torch.Tensor, kernel_size: int | None = None) -> torch.Tensor:
        kernel_size = self.kernel.max_size if kernel_size is None else kernel_size
        channels = x.shape[1]
        weight = self.active_weight(channels, kernel_size)
        return F.conv2d(x, weight, None, self.stride, kernel_size // 2, 1, channels)

    @torch.no_grad()
    def export(self, channels: int, kernel_size: int | None = None) -> nn.Conv2d:
        """A plain depthwise ``nn.Conv2d`` with copies of the active weights."""
        kernel_size = self.kernel.max_size if kernel_size is None else kernel_size
        weight = self.active_weight(channels, kernel_size)
        conv = nn.Conv2d(channels, channels, kernel_size, self.stride, kernel_size // 2, groups=channels,
                         bias=False, device=weight.device, dtype=weight.dtype)
        conv.weight.copy_(weight)
        return conv

    def extra_repr(self) -> str:
        return f"max_channels={self.max_channels}, stride={self.stride}"
