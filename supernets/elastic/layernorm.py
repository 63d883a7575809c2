"""ElasticLayerNorm: LayerNorm over the first features of the largest one (AutoFormer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size


class ElasticLayerNorm(nn.Module):
    """Normalises ``x``'s last dimension ``d`` with the first ``d`` stored affine parameters.

    Example:
        >>> ln = ElasticLayerNorm(8)
        >>> x = torch.randn(2, 3, 6)
        >>> torch.allclose(ln.export(6)(x), ln(x))
        True
    """

    def __init__(self, max_dim: int, eps: float = 1e-5):
        super().__init__()
        self.max_dim, self.eps = int(max_dim), float(eps)
        self.weight = nn.Parameter(torch.ones(self.max_dim))
        self.bias = nn.Parameter(torch.zeros(self.max_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = check_size(type(self).__name__, "dim", x.shape[-1], self.max_dim)
        return F.layer_norm(x, (d,), self.weight[:d], self.bias[:d], self.eps)

    @torch.no_grad()
    def export(self, dim: int) -> nn.LayerNorm:
        """A plain ``nn.LayerNorm`` with copies of the active parameters."""
        d = check_size(type(self).__name__, "dim", dim, self.max_dim)
        ln = nn.LayerNorm(d, self.eps, device=self.weight.device, dtype=self.weight.dtype)
        ln.weight.copy_(self.weight[:d])
        ln.bias.copy_(self.bias[:d])
        return ln

    def extra_repr(self) -> str:
        return f"max_dim={self.max_dim}, eps={self.eps}"
