"""Multi-head self-attention: plain, and elastic in embedding dim and head count (AutoFormer).

The head dimension is fixed; a child with ``h`` heads uses the first ``h`` heads of the stored
``max_heads``. The qkv projection stores its rows head-major, ``(head, q|k|v, head_dim)``, so the
first ``h`` heads are the first ``3 * h * head_dim`` rows: a slice, not a gather. As in
AutoFormer, the attention width ``heads * head_dim`` is independent of the embedding dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic._checks import check_size
from supernets.elastic.linear import ElasticLinear


def attend(qkv: torch.Tensor, num_heads: int, head_dim: int) -> torch.Tensor:
    """Scaled dot-product attention of head-major ``qkv`` (batch, tokens, heads * 3 * head_dim);
    returns the heads' outputs side by side (batch, tokens, heads * head_dim)."""
    batch, tokens, _ = qkv.shape
    q, k, v = qkv.view(batch, tokens, num_heads, 3, head_dim).permute(3, 0, 2, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(q, k, v)  # each (batch, heads, tokens, head_dim)
    return out.transpose(1, 2).reshape(batch, tokens, num_heads * head_dim)


class SelfAttention(nn.Module):
    """Plain multi-head self-attention: ``qkv`` (dim -> 3 * heads * head_dim), ``proj`` back to dim."""

    def __init__(self, qkv: nn.Linear, proj: nn.Linear, num_heads: int, head_dim: int):
        super().__init__()
        self.qkv, self.proj = qkv, proj
        self.num_heads, self.head_dim = int(num_heads), int(head_dim)

    @classmethod
    def build(cls, dim: int, num_heads: int, head_dim: int) -> "SelfAttention":
        """Freshly initialised attention over ``dim`` features."""
        inner = num_heads * head_dim
        return cls(nn.Linear(dim, 3 * inner), nn.Linear(inner, dim), num_heads, head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(attend(self.qkv(x), self.num_heads, self.head_dim))

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, head_dim={self.head_dim}"


class ElasticSelfAttention(nn.Module):
    """Self-attention over ``x``'s width with the first ``num_heads`` of ``max_heads`` heads.

    Example:
        >>> attn = ElasticSelfAttention(max_dim=64, max_heads=4, head_dim=16)
        >>> x = torch.randn(2, 5, 48)
        >>> attn(x, num_heads=3).shape
        torch.Size([2, 5, 48])
        >>> torch.allclose(attn.export(48, 3)(x), attn(x, 3), atol=1e-6)
        True
    """

    def __init__(self, max_dim: int, max_heads: int, head_dim: int):
        super().__init__()
        self.max_heads, self.head_dim = int(max_heads), int(head_dim)
        inner = self.max_heads * self.head_dim
        self.qkv = ElasticLinear(max_dim, 3 * inner)
        self.proj = ElasticLinear(inner, max_dim)

    def _check_heads(self, num_heads: int) -> int:
        return check_size(f"{type(self).__name__} (head_dim {self.head_dim})", "heads", num_heads,
                          self.max_heads)

    def forward(self, x: torch.Tensor, num_heads: int) -> torch.Tensor:
        inner = self._check_heads(num_heads) * self.head_dim
        return self.proj(attend(self.qkv(x, 3 * inner), num_heads, self.head_dim), x.shape[-1])

    def export(self, dim: int, num_heads: int) -> SelfAttention:
        """A plain ``SelfAttention`` with copies of the active weights."""
        inner = self._check_heads(num_heads) * self.head_dim
        return SelfAttention(self.qkv.export(dim, 3 * inner), self.proj.export(inner, dim), num_heads,
                             self.head_dim)

    def extra_repr(self) -> str:
        return f"max_heads={self.max_heads}, head_dim={self.head_dim}"
