"""ElasticLinear: a linear layer with elastic input and output features."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size


class ElasticLinear(nn.Module):
    """One ``max_out x max_in`` weight; a child uses the top-left block.

    ``forward(x, out_features)``: the active input features are ``x``'s last dimension (the
    first ones of the stored), the active outputs the first ``out_features`` (all by default).

    Example:
        >>> fc = ElasticLinear(8, 6)
        >>> x = torch.randn(3, 5)
        >>> fc(x, out_features=4).shape
        torch.Size([3, 4])
        >>> torch.allclose(fc.export(5, 4)(x), fc(x, 4))
        True
    """

    def __init__(self, max_in_features: int, max_out_features: int, bias: bool = True):
        super().__init__()
        self.max_in_features, self.max_out_features = int(max_in_features), int(max_out_features)
        self.weight = nn.Parameter(torch.empty(self.max_out_features, self.max_in_features))
        self.bias = nn.Parameter(torch.empty(self.max_out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s initialisation at the largest size."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.max_in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def active(self, in_features: int, out_features: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight, bias) slices of a child."""
        name = type(self).__name__
        check_size(name, "input features", in_features, self.max_in_features)
        check_size(name, "output features", out_features, self.max_out_features)
        bias = self.bias[:out_features] if self.bias is not None else None
        return self.weight[:out_features, :in_features], bias

    def forward(self, x: torch.Tensor, out_features: int | None = None, input_scale: torch.Tensor | None = None,
                output_scale: torch.Tensor | None = None) -> torch.Tensor:
        """``x``'s active features through the active block; ``input_scale`` (per input feature) and
        ``output_scale`` (per output) multiply the weight's columns and rows (and the bias), which equals scaling
        ``x`` and the output without keeping a scaled copy of either for the backward pass (the superposition's
        masks, ``supernets.superposition``)."""
        out_features = self.max_out_features if out_features is None else out_features
        weight, bias = self.active(x.shape[-1], out_features)
        if input_scale is not None:
            weight = weight * input_scale
        if output_scale is not None:
            weight = weight * output_scale.unsqueeze(-1)
            bias = bias * output_scale if bias is not None else None
        return F.linear(x, weight, bias)

    @torch.no_grad()
    def export(self, in_features: int, out_features: int | None = None) -> nn.Linear:
        """A plain ``nn.Linear`` with copies of the active weights."""
        out_features = self.max_out_features if out_features is None else out_features
        weight, bias = self.active(in_features, out_features)
        fc = nn.Linear(in_features, out_features, bias=bias is not None, device=weight.device, dtype=weight.dtype)
        fc.weight.copy_(weight)
        if bias is not None:
            fc.bias.copy_(bias)
        return fc

    def extra_repr(self) -> str:
        return f"max_in={self.max_in_features}, max_out={self.max_out_features}, bias={self.bias is not None}"
