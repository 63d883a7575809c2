"""ElasticConv2d: a convolution with elastic output/input channels and kernel size."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size
from supernets.elastic.kernel import ElasticKernel


class ElasticConv2d(nn.Module):
    """One ``max_out x max_in x K x K`` weight; a child uses its first channels and a centre crop.

    ``forward(x, out_channels, kernel_size)``: the active input channels are ``x``'s (the first
    ``x.shape[1]`` of the stored ones), the active output channels the first ``out_channels``,
    and the active kernel the centre ``kernel_size`` crop of the largest (see ``ElasticKernel``
    for the optional once-for-all transform). ``padding=None`` keeps the size: ``k // 2``.
    ``export`` returns a plain ``nn.Conv2d`` holding copies of the active weights.

    Example:
        >>> conv = ElasticConv2d(4, 8, kernel_sizes=(3, 5))
        >>> x = torch.randn(2, 3, 6, 6)
        >>> conv(x, out_channels=5, kernel_size=3).shape
        torch.Size([2, 5, 6, 6])
        >>> plain = conv.export(3, 5, 3)
        >>> torch.allclose(plain(x), conv(x, 5, 3))
        True
    """

    def __init__(
        self,
        max_in_channels: int,
        max_out_channels: int,
        kernel_sizes: Sequence[int] = (1,),
        stride: int = 1,
        padding: int | None = None,
        bias: bool = False,
        kernel_transform: bool = False,
    ):
        super().__init__()
        self.kernel = ElasticKernel(kernel_sizes, kernel_transform)
        self.max_in_channels, self.max_out_channels = int(max_in_channels), int(max_out_channels)
        self.stride, self.padding = int(stride), padding
        k = self.kernel.max_size
        self.weight = nn.Parameter(torch.empty(self.max_out_channels, self.max_in_channels, k, k))
        self.bias = nn.Parameter(torch.empty(self.max_out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Conv2d``'s initialisation at the largest size."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)

    def active_weight(self, in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
        name = type(self).__name__
        check_size(name, "input channels", in_channels, self.max_in_channels)
        check_size(name, "output channels", out_channels, self.max_out_channels)
        return self.kernel(self.weight[:out_channels, :in_channels], kernel_size)

    def forward(self, x: torch.Tensor, out_channels: int | None = None, kernel_size: int | None = None,
                input_scale: torch.Tensor | None = None, output_scale: torch.Tensor | None = None) -> torch.Tensor:
        """``input_scale`` (per input channel) and ``output_scale`` (per output channel) multiply the weight (and
        the bias), which equals scaling ``x`` and the output without keeping a scaled copy of either for the
        backward pass (the superposition's masks, ``supernets.superposition``)."""
        out_channels = self.max_out_channels if out_channels is None else out_channels
        kernel_size = self.kernel.max_size if kernel_size is None else kernel_size
        weight = self.active_weight(x.shape[1], out_channels, kernel_size)
        bias = self.bias[:out_channels] if self.bias is not None else None
        if input_scale is not None:
            weight = weight * input_scale.view(1, -1, 1, 1)
        if output_scale is not None:
            weight = weight * output_scale.view(-1, 1, 1, 1)
            bias = bias * output_scale if bias is not None else None
        return F.conv2d(x, weight, bias, self.stride, self._padding(kernel_size))

    def _padding(self, kernel_size: int) -> int:
        return kernel_size // 2 if self.padding is None else self.padding

    @torch.no_grad()
    def export(self, in_channels: int, out_channels: int, kernel_size: int | None = None) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` with copies of the active weights."""
        kernel_size = self.kernel.max_size if kernel_size is None else kernel_size
        weight = self.active_weight(in_channels, out_channels, kernel_size)
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, self.stride, self._padding(kernel_size),
                         bias=self.bias is not None, device=weight.device, dtype=weight.dtype)
        conv.weight.copy_(weight)
        if self.bias is not None:
            conv.bias.copy_(self.bias[:out_channels])
        return conv

    def extra_repr(self) -> str:
        return (f"max_in={self.max_in_channels}, max_out={self.max_out_channels}, stride={self.stride}, "
                f"padding={'k//2' if self.padding is None else self.padding}, bias={self.bias is not None}")
