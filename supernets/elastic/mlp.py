"""The transformer MLP (Linear-GELU-Linear): plain, and elastic in width and hidden size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernets.elastic.linear import ElasticLinear


class MLP(nn.Module):
    """``fc2(gelu(fc1(x)))``: the plain module that ``ElasticMLP.export`` returns."""

    def __init__(self, fc1: nn.Linear, fc2: nn.Linear):
        super().__init__()
        self.fc1, self.fc2 = fc1, fc2

    @classmethod
    def build(cls, dim: int, hidden: int) -> "MLP":
        """A freshly initialised ``dim -> hidden -> dim`` MLP."""
        return cls(nn.Linear(dim, hidden), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ElasticMLP(nn.Module):
    """An elastic Linear pair: ``x`` (width ``d``) -> ``hidden_features`` -> ``d``.

    Example:
        >>> mlp = ElasticMLP(8, 32)
        >>> x = torch.randn(2, 3, 6)
        >>> mlp(x, hidden_features=12).shape
        torch.Size([2, 3, 6])
        >>> torch.allclose(mlp.export(6, 12)(x), mlp(x, 12))
        True
    """

    def __init__(self, max_dim: int, max_hidden: int):
        super().__init__()
        self.fc1 = ElasticLinear(max_dim, max_hidden)
        self.fc2 = ElasticLinear(max_hidden, max_dim)

    def forward(self, x: torch.Tensor, hidden_features: int) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x, hidden_features)), x.shape[-1])

    def export(self, dim: int, hidden_features: int) -> MLP:
        """A plain ``MLP`` with copies of the active weights."""
        return MLP(self.fc1.export(dim, hidden_features), self.fc2.export(hidden_features, dim))
